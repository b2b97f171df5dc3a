/* The contract both vector stores keep: nearest stored prompt within one partition, bounded by expiry. */
import type { CacheScopeKey, CachedAnswer } from '../types.js';

/**
 * Where a stored prompt may be found again: vectors are only ever compared within one scope, one context (the
 * conversation before the last user message) and one embedding model, since vectors of two models do not compare.
 */
export interface Partition {
  scope: CacheScopeKey;
  contextHash: string;
  embeddingModel: string;
}

export interface StoredVector extends Partition {
  vector: number[];
  entry: CachedAnswer;
  /** Epoch ms. */
  expiresAt: number;
}

export interface VectorStore {
  readonly kind: 'pgvector' | 'usearch';
  /** The closest unexpired vector of the partition; similarity = 1 − cosine distance. */
  nearest(p: Partition, vector: number[]): Promise<{ entry: CachedAnswer; similarity: number } | null>;
  add(v: StoredVector): Promise<void>;
  /** Removes entries of a scope and/or a (public chat) model; both undefined: all. */
  purge(f: { scope?: CacheScopeKey; model?: string }): Promise<number>;
  purgeExpired(): Promise<number>;
}
