/*
 * Vectors in this process with usearch, for a database without pgvector: one index per partition (partition-index.ts),
 * the entries of all partitions bounded together, in count and in bytes (answers vary from a word to a long
 * document, so a count alone would bound nothing), least recently used out first.
 */
import { LRUCache } from 'lru-cache';
import type { CacheScopeKey, CachedAnswer } from '../types.js';
import { PartitionIndex } from './partition-index.js';
import type { Partition, StoredVector, VectorStore } from './vector-store.js';

interface Held {
  partition: string;
  scope: CacheScopeKey;
  model: string;
  entry: CachedAnswer;
  expiresAt: number;
}

/** Expired vectors a search may step over before it settles for the next; more are left to the periodic purge. */
const SEARCH_DEPTH = 8;

// a vector's dimension is part of its partition: a model reconfigured to another size starts a new index
const partitionKey = (p: Partition, dims: number) => JSON.stringify([p.scope, p.contextHash, p.embeddingModel, dims]);

/** What an entry costs in memory, near enough: its answer's JSON in UTF-16 and its vector as float32. */
const sizeOf = (h: Held, dims: number) => 2 * JSON.stringify(h.entry).length + 4 * dims;

export function createUsearchStore(opts: { maxEntries: number; maxBytes: number; now?: () => number }): VectorStore {
  const now = opts.now ?? Date.now;
  const partitions = new Map<string, PartitionIndex>();
  let nextKey = 1n;
  const held = new LRUCache<bigint, Held>({
    max: opts.maxEntries,
    maxSize: opts.maxBytes,
    // the size is computed once, in add(), which also turns away an entry larger than the whole bound
    // every way out (evicted, purged, expired) takes the vector out of its index too
    dispose(h, key) {
      const p = partitions.get(h.partition);
      if (!p) return;
      p.remove(key);
      if (p.size === 0) partitions.delete(h.partition);
    },
  });

  function deleteWhere(test: (h: Held) => boolean): number {
    const keys: bigint[] = [];
    for (const [key, h] of held.entries()) if (test(h)) keys.push(key);
    for (const key of keys) held.delete(key);
    return keys.length;
  }

  return {
    kind: 'usearch',
    async nearest(p, vector) {
      const part = partitions.get(partitionKey(p, vector.length));
      if (!part) return null;
      for (const { key, distance } of part.nearest(new Float32Array(vector), SEARCH_DEPTH)) {
        const h = held.get(key);
        if (!h) continue;
        if (h.expiresAt <= now()) {
          held.delete(key);
          continue;
        }
        const similarity = 1 - distance;
        return Number.isFinite(similarity) ? { entry: h.entry, similarity } : null;
      }
      return null;
    },
    async add(s: StoredVector) {
      const partition = partitionKey(s, s.vector.length);
      const h: Held = { partition, scope: s.scope, model: s.entry.model, entry: s.entry, expiresAt: s.expiresAt };
      const size = Math.max(1, sizeOf(h, s.vector.length));
      // kept, it would evict everything else and still not fit
      if (size > opts.maxBytes) return;
      let part = partitions.get(partition);
      if (!part) partitions.set(partition, (part = new PartitionIndex(s.vector.length)));
      const key = nextKey++;
      part.add(key, new Float32Array(s.vector));
      held.set(key, h, { size });
    },
    async purge(f) {
      return deleteWhere((h) => (f.scope === undefined || h.scope === f.scope) && (f.model === undefined || h.model === f.model));
    },
    async purgeExpired() {
      const t = now();
      return deleteWhere((h) => h.expiresAt <= t);
    },
  };
}
