/*
 * The cache of a lookup every request makes (an API key, a model's routing), on lru-cache: bounded in entries, one
 * load per key at a time however many requests miss together (its fetch), and a load that a delete or clear
 * overtook keeps its result out of the cache while its callers still get it (ignoreFetchAbort: a change made
 * during a load must not be hidden by it).
 *
 * What it adds to lru-cache is when an expired entry still answers: for `revalidateMs` past its TTL while one
 * background load refreshes it (so requests never queue behind the database each time the TTL runs out), and for
 * `maxStaleMs` past its TTL while loads fail (the database is away).
 */
import { LRUCache } from 'lru-cache';

export interface RefreshingCacheOptions<V> {
  /** Entries kept at most; the least recently used goes first. */
  max: number;
  /** How long a loaded value is fresh, ms. */
  ttlMs: number;
  /** How long past its TTL a value still answers while a background load refreshes it, ms. */
  revalidateMs: number;
  /** How long past its TTL a value still answers while loads fail, ms. @default Infinity */
  maxStaleMs?: number;
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

  return {
    async get(key) {
      const now = Date.now();
      const hit = cache.get(key);
      if (hit && hit.until > now) return hit.value;
      if (hit && now - hit.until <= revalidateMs) {
        // answers with the entry at once (a failure of the refresh is left for the next caller to meet)
        void cache.fetch(key, { forceRefresh: true, allowStale: true });
        return hit.value;
      }
      try {
        const loaded = await cache.fetch(key, { forceRefresh: true });
        // ignoreFetchAbort: a load always ends with its value or its error
        return loaded!.value;
      } catch (err) {
        // only an entry still there: one deleted meanwhile (a revoked key) must not be answered from
        if (hit && now - hit.until <= maxStaleMs && cache.peek(key, { allowStale: true }) === hit) return hit.value;
        throw err;
      }
    },
    delete: (key) => void cache.delete(key),
    clear: () => cache.clear(),
  };
}
