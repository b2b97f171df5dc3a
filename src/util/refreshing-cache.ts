/*
 * The cache of a lookup every request makes (an API key, a model's routing), on lru-cache: bounded in entries, one
 * load per key at a time however many requests miss together (its fetch), and a load that a delete or clear
 * overtook keeps its result out of the cache while its callers still get it (ignoreFetchAbort: a change made
 * during a load must not be hidden by it).
 *
 * What it adds to lru-cache is when an expired entry still answers: for `revalidateMs` past its TTL while one
 * background load refreshes it (so requests never queue behind the database each time the TTL runs out), and for
 * `maxStaleMs` past its TTL while loads fail (the database is away). A database that hangs instead of refusing must
 * not hold those stale answers for a whole failed load (a connect timeout is seconds): a value that may answer stale
 * waits for the load only `staleWaitMs`, and for `failureMemoMs` after a failed load nobody waits at all.
 */
import { LRUCache } from 'lru-cache';
import { withTimeout } from './with-timeout.js';

export interface RefreshingCacheOptions<V> {
  /** Entries kept at most; the least recently used goes first. */
  max: number;
  /** How long a loaded value is fresh, ms. */
  ttlMs: number;
  /** How long past its TTL a value still answers while a background load refreshes it, ms. */
  revalidateMs: number;
  /** How long past its TTL a value still answers while loads fail, ms. @default Infinity */
  maxStaleMs?: number;
  /** How long a caller that could be answered stale waits for the load before it is, ms (the load goes on). @default 300 */
  staleWaitMs?: number;
  /** How long after a failed (or slower than staleWaitMs) load callers are answered stale without waiting, ms. @default 1000 */
  failureMemoMs?: number;
  load: (key: string) => Promise<V>;
}

export interface RefreshingCache<V> {
  /** The value, from the cache or one shared load; a load's error when no value may answer instead. */
  get(key: string): Promise<V>;
  /** Forgets a key; a load running for it is not cached. */
  delete(key: string): void;
  /** Forgets every key; loads running are not cached. */
  clear(): void;
}

interface Entry<V> {
  value: V;
  /** epoch ms the value stops being fresh */
  until: number;
}

export function createRefreshingCache<V>(opts: RefreshingCacheOptions<V>): RefreshingCache<V> {
  const { ttlMs, revalidateMs } = opts;
  const maxStaleMs = opts.maxStaleMs ?? Infinity;
  const staleWaitMs = opts.staleWaitMs ?? 300;
  const failureMemoMs = opts.failureMemoMs ?? 1000;
  const lastUseful = Math.max(revalidateMs, maxStaleMs);
  const cache = new LRUCache<string, Entry<V>>({
    max: opts.max,
    // past this an entry can answer nothing: let it go (0: no expiry of its own)
    ttl: Number.isFinite(lastUseful) ? ttlMs + lastUseful : 0,
    fetchMethod: async (key) => {
      const value = await opts.load(key);
      return { value, until: Date.now() + ttlMs };
    },
    ignoreFetchAbort: true,
    // a failed refresh keeps the entry it was refreshing, for the stale answers above
    noDeleteOnFetchRejection: true,
  });

  // when a load of an entry last failed: kept on the entry itself, so it goes with it
  const failedAt = new WeakMap<Entry<V>, number>();

  return {
    async get(key) {
      const now = Date.now();
      // allowStale: while a load runs, the entry it refreshes (lru-cache's own TTL is past every use of the entry)
      const hit = cache.get(key, { allowStale: true });
      if (hit && hit.until > now) return hit.value;
      if (hit && now - hit.until <= revalidateMs) {
        // answers with the entry at once (a failure of the refresh is left for the next caller to meet)
        void cache.fetch(key, { forceRefresh: true, allowStale: true });
        return hit.value;
      }
      // only an entry still there: one deleted meanwhile (a revoked key) must not be answered from
      const mayAnswerStale = (): boolean =>
        !!hit && Date.now() - hit.until <= maxStaleMs && cache.peek(key, { allowStale: true }) === hit;
      if (hit && mayAnswerStale() && now - (failedAt.get(hit) ?? -Infinity) < failureMemoMs) return hit.value;
      // ignoreFetchAbort: a load always ends with its value or its error
      const loading = cache.fetch(key, { forceRefresh: true }).then((e) => e!.value);
      if (!hit || !mayAnswerStale()) return loading;
      loading.catch(() => failedAt.set(hit, Date.now()));
      try {
        return await withTimeout(loading, staleWaitMs);
      } catch {
        // a load slower than the wait counts as failing too: the callers of the next moment need not wait for it again
        failedAt.set(hit, Date.now());
        if (mayAnswerStale()) return hit.value;
        // deleted meanwhile: the load's own answer (its callers get it though it is not cached)
        return loading;
      }
    },
    delete: (key) => void cache.delete(key),
    clear: () => cache.clear(),
  };
}
