/*
 * Vectors in this process with usearch (HNSW), for a database without pgvector: one small index per partition,
 * the entries of all partitions bounded together, least recently used out first.
 */
import { LRUCache } from 'lru-cache';
import { Index, MetricKind, ScalarKind } from 'usearch';
import type { CacheScopeKey, CachedAnswer } from '../types.js';
import type { Partition, StoredVector, VectorStore } from './vector-store.js';

interface Held {
  partition: string;
  scope: CacheScopeKey;
  model: string;
  entry: CachedAnswer;
  expiresAt: number;
}

interface PartitionIndex {
  index: Index;
  /** Entries held: usearch only marks removed vectors, so its own size is not the count of live ones. */
  live: number;
}

/** Expired vectors a search may step over before it settles for the next; more are left to the periodic purge. */
const SEARCH_DEPTH = 8;

// a vector's dimension is part of its partition: a model reconfigured to another size starts a new index
const partitionKey = (p: Partition, dims: number) => JSON.stringify([p.scope, p.contextHash, p.embeddingModel, dims]);

function newIndex(dimensions: number): Index {
  // usearch's defaults for the graph; cosine, as pgvector's <=>
  return new Index({ dimensions, metric: MetricKind.Cos, quantization: ScalarKind.F32, connectivity: 16, expansion_add: 128, expansion_search: 64, multi: false });
}

export function createUsearchStore(opts: { maxEntries: number; now?: () => number }): VectorStore {
  const now = opts.now ?? Date.now;
  const partitions = new Map<string, PartitionIndex>();
  let nextKey = 1n;
  const held = new LRUCache<bigint, Held>({
    max: opts.maxEntries,
    // every way out (evicted, purged, expired) takes the vector out of its index too
    dispose(h, key) {
      const p = partitions.get(h.partition);
      if (!p) return;
      p.index.remove(key);
      if (--p.live === 0) partitions.delete(h.partition);
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
      const found = part.index.search(new Float32Array(vector), Math.min(part.live, SEARCH_DEPTH), 1);
      for (let i = 0; i < found.keys.length; i++) {
        const key = found.keys[i];
        const h = held.get(key);
        if (!h) continue;
        if (h.expiresAt <= now()) {
          held.delete(key);
          continue;
        }
        const similarity = 1 - found.distances[i];
        return Number.isFinite(similarity) ? { entry: h.entry, similarity } : null;
      }
      return null;
    },
    async add(s: StoredVector) {
      const partition = partitionKey(s, s.vector.length);
      let part = partitions.get(partition);
      if (!part) partitions.set(partition, (part = { index: newIndex(s.vector.length), live: 0 }));
      const key = nextKey++;
      part.index.add(key, new Float32Array(s.vector));
      part.live++;
      held.set(key, { partition, scope: s.scope, model: s.entry.model, entry: s.entry, expiresAt: s.expiresAt });
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
