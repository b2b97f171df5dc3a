/* The response cache as the pipeline and the API see it: the exact store, the semantic half when configured, the settings. */
import type { CacheSettingsService } from '../services/cache-settings.js';
import type { ExactCacheStore } from './exact-store.js';
import type { PurgeBroadcast, PurgeFilter } from './purge-broadcast.js';
import type { SemanticCache } from './types.js';

export interface ResponseCache {
  exact: ExactCacheStore;
  /** Absent when no semantic index could be set up: SEMANTIC then behaves as EXACT. */
  semantic?: SemanticCache;
  settings: CacheSettingsService;
  /** Reaches the other instances' in-process stores (with Redis); absent with one instance's stores to purge. */
  purgeBroadcast?: Pick<PurgeBroadcast, 'publish'>;
}

/** Removes entries from both halves, here and (announced) in the other instances' in-process stores; returns how many went here. */
export async function purgeResponseCache(cache: ResponseCache, f: PurgeFilter): Promise<number> {
  const [exact, semantic] = await Promise.all([cache.exact.purge(f), cache.semantic?.purge(f) ?? 0]);
  cache.purgeBroadcast?.publish(f);
  return exact + semantic;
}

/** What another instance's purge asks of this one: only the stores this process holds (the shared ones are done). */
export async function purgeInProcessStores(cache: ResponseCache, f: PurgeFilter): Promise<void> {
  await Promise.all([cache.exact.kind === 'memory' ? cache.exact.purge(f) : 0, cache.semantic?.index === 'usearch' ? cache.semantic.purge(f) : 0]);
}
