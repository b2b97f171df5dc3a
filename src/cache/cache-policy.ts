/*
 * Whether and how one call uses the response cache: the request's choice, else the key's, else the model's, else
 * off; the TTL the same way down to the operator's default; the scope from the key alone (a caller must not be
 * able to read another key's answers by asking for a wider scope). Also the checks of the policy inputs.
 */
import { badInput } from '../errors.js';
import type { CacheScopeKey } from './types.js';

export type CacheMode = 'OFF' | 'EXACT' | 'SEMANTIC';
type CacheScope = 'KEY' | 'GLOBAL';

const CACHE_MODES: readonly CacheMode[] = ['OFF', 'EXACT', 'SEMANTIC'];
const CACHE_SCOPES: readonly CacheScope[] = ['KEY', 'GLOBAL'];

/** A month: longer than any sensible answer lifetime, short enough that a forgotten entry goes. */
export const MAX_CACHE_TTL_SECONDS = 30 * 24 * 3600;

/** ChatInput.cache. */
export interface CacheOptionsInput {
  mode?: CacheMode | null;
  ttlSeconds?: number | null;
}

/** What a key or model row says (null: not set, the next level decides). */
export interface StoredCachePolicy {
  cacheMode: string | null;
  cacheTtlSeconds: number | null;
  cacheScope?: string | null;
}

export interface EffectiveCache {
  mode: CacheMode;
  ttlSeconds: number;
  scope: CacheScopeKey;
}

export function effectiveCache(
  request: CacheOptionsInput | null | undefined,
  key: StoredCachePolicy & { id: string },
  model: StoredCachePolicy,
  defaultTtlSeconds: number,
): EffectiveCache {
  const mode = request?.mode ?? (key.cacheMode as CacheMode | null) ?? (model.cacheMode as CacheMode | null) ?? 'OFF';
  const ttlSeconds = request?.ttlSeconds ?? key.cacheTtlSeconds ?? model.cacheTtlSeconds ?? defaultTtlSeconds;
  return { mode, ttlSeconds, scope: key.cacheScope === 'GLOBAL' ? 'global' : `key:${key.id}` };
}

export function checkCacheTtl(ttl: number | null | undefined, field: string): void {
  if (ttl == null) return;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_CACHE_TTL_SECONDS) throw badInput(field, `must be an integer between 1 and ${MAX_CACHE_TTL_SECONDS}`);
}

export function checkCacheOptions(input: CacheOptionsInput | null | undefined, field: string): void {
  if (!input) return;
  if (input.mode != null && !CACHE_MODES.includes(input.mode)) throw badInput(`${field}.mode`, 'must be OFF, EXACT or SEMANTIC');
  checkCacheTtl(input.ttlSeconds, `${field}.ttlSeconds`);
}

/** CachePolicyInput on a key or model. */
export interface CachePolicyInput {
  mode?: CacheMode | null;
  ttlSeconds?: number | null;
  scope?: CacheScope | null;
}

/**
 * The columns a CachePolicyInput sets. The input replaces the whole policy (an omitted field is unset: the next level
 * decides); null clears it; undefined changes nothing. Models have no scope: the key's decides.
 */
export function cachePolicyColumns(input: CachePolicyInput | null | undefined, field: string, withScope: boolean): Partial<StoredCachePolicy> {
  if (input === undefined) return {};
  if (input === null) return withScope ? { cacheMode: null, cacheTtlSeconds: null, cacheScope: null } : { cacheMode: null, cacheTtlSeconds: null };
  checkCacheOptions(input, field);
  if (input.scope != null) {
    if (!withScope) throw badInput(`${field}.scope`, "only keys have a scope (a model's callers share the scope of their key)");
    if (!CACHE_SCOPES.includes(input.scope)) throw badInput(`${field}.scope`, 'must be KEY or GLOBAL');
  }
  const out: Partial<StoredCachePolicy> = { cacheMode: input.mode ?? null, cacheTtlSeconds: input.ttlSeconds ?? null };
  if (withScope) out.cacheScope = input.scope ?? null;
  return out;
}
