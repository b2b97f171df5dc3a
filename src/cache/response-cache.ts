/* The response cache as the pipeline and the API see it: the exact store, the semantic half when configured, the settings. */
import type { CacheSettingsService } from '../services/cache-settings.js';
import type { ExactCacheStore } from './exact-store.js';
import type { CacheScopeKey, SemanticCache } from './types.js';

export interface ResponseCache {
  exact: ExactCacheStore;
  /** Absent when no semantic index could be set up: SEMANTIC then behaves as EXACT. */
  semantic?: SemanticCache;
  settings: CacheSettingsService;
}

/** Removes entries from both halves; returns how many went. */
export async function purgeResponseCache(cache: ResponseCache, f: { scope?: CacheScopeKey; model?: string }): Promise<number> {
  const [exact, semantic] = await Promise.all([cache.exact.purge(f), cache.semantic?.purge(f) ?? 0]);
  return exact + semantic;
}
