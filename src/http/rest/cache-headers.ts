/*
 * The response cache on the REST routes: the request headers x-gateway-cache (off|exact|semantic) and
 * x-gateway-cache-ttl (seconds) as the call's cache options, and x-gateway-cache on the answer.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { type CacheMode, type CacheOptionsInput, MAX_CACHE_TTL_SECONDS } from '../../cache/cache-policy.js';
import { badInput } from '../../errors.js';

export const CACHE_HEADER = 'x-gateway-cache';
const CACHE_TTL_HEADER = 'x-gateway-cache-ttl';

// a Map, not an object literal: a header value such as `constructor` must not find an inherited property
const MODES = new Map<string, CacheMode>([
  ['off', 'OFF'],
  ['exact', 'EXACT'],
  ['semantic', 'SEMANTIC'],
]);

/** undefined when neither header is sent; a bad value is a 400 naming the header. */
export function cacheOptionsOf(headers: IncomingHttpHeaders): CacheOptionsInput | undefined {
  const mode = headers[CACHE_HEADER];
  const ttl = headers[CACHE_TTL_HEADER];
  if (mode === undefined && ttl === undefined) return undefined;
  const out: CacheOptionsInput = {};
  if (mode !== undefined) {
    const m = typeof mode === 'string' ? MODES.get(mode.trim().toLowerCase()) : undefined;
    if (!m) throw badInput(CACHE_HEADER, 'must be off, exact or semantic');
    out.mode = m;
  }
  if (ttl !== undefined) {
    const s = typeof ttl === 'string' ? ttl.trim() : '';
    const n = /^\d{1,10}$/.test(s) ? Number(s) : NaN;
    if (!(n >= 1 && n <= MAX_CACHE_TTL_SECONDS)) throw badInput(CACHE_TTL_HEADER, `must be a whole number of seconds from 1 to ${MAX_CACHE_TTL_SECONDS}`);
    out.ttlSeconds = n;
  }
  return out;
}
