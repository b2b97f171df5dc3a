/* The exact cache's storage contract: one answer per (scope, key), each with its own TTL, purged by scope or model. */
import type { CachedAnswer, CacheScopeKey } from './types.js';

export interface ExactCacheStore {
  /** Shown as CacheSettings.store. */
  readonly kind: 'memory' | 'redis';
  /** `model` (the public model, also inside `key`'s hash) lets a store file entries by model for purge. */
  get(scope: CacheScopeKey, key: string, model: string): Promise<CachedAnswer | null>;
  set(scope: CacheScopeKey, key: string, entry: CachedAnswer, ttlSeconds: number): Promise<void>;
  /** Removes the entries of a scope and/or a public model (neither given: all of them); returns how many. */
  purge(f: { scope?: CacheScopeKey; model?: string }): Promise<number>;
  close(): Promise<void>;
}
