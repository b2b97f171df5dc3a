/*
 * The exact cache in this process: an LRU bounded in bytes (answers vary from a word to a long document, so a
 * bound in entries would bound nothing), each entry with its own TTL. Used when no Redis is configured.
 */
import { LRUCache } from 'lru-cache';
import type { ExactCacheStore } from '../exact-store.js';
import type { CachedAnswer, CacheScopeKey } from '../types.js';

interface Stored {
  scope: CacheScopeKey;
  entry: CachedAnswer;
}

export function createMemoryStore(opts: { maxBytes: number }): ExactCacheStore {
  const lru = new LRUCache<string, Stored>({
    maxSize: opts.maxBytes,
    // what the entry costs in memory, near enough: its JSON in UTF-16 plus the key
    sizeCalculation: (v, k) => Math.max(1, 2 * (k.length + JSON.stringify(v.entry).length)),
    // an answer larger than the whole cache is not kept (rather than evicting everything for it)
    maxEntrySize: opts.maxBytes,
    ttlAutopurge: false,
  });
  const id = (scope: CacheScopeKey, key: string) => `${scope}\u0000${key}`;

  return {
    kind: 'memory',
    // copies in and out, as Redis's JSON does: a later step that changes the answer in place (an output guardrail
    // restoring redacted values) must not change what is cached, nor one hit's answer the next one's
    async get(scope, key) {
      const found = lru.get(id(scope, key));
      return found ? structuredClone(found.entry) : null;
    },
    async set(scope, key, entry, ttlSeconds) {
      lru.set(id(scope, key), { scope, entry: structuredClone(entry) }, { ttl: ttlSeconds * 1000 });
    },
    async purge({ scope, model }) {
      lru.purgeStale();
      const doomed: string[] = [];
      // rare (an operator's purge) and bounded by the cache's size: a scan is fine
      for (const [k, v] of lru.entries()) {
        if ((scope === undefined || v.scope === scope) && (model === undefined || v.entry.model === model)) doomed.push(k);
      }
      for (const k of doomed) lru.delete(k);
      return doomed.length;
    },
    async close() {
      lru.clear();
    },
  };
}
