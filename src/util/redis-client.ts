/* The ioredis client every Redis user of the gateway opens: fail fast while disconnected, reconnect in the background. */
import type { Redis } from 'ioredis';
import { lazyRequire } from './lazy-require.js';

/** Loaded with the first client: a gateway without Redis never loads ioredis. */
const ioredis = lazyRequire<typeof import('ioredis')>('ioredis');

export function createRedisClient(url: string, timeoutMs: number): Redis {
  return new (ioredis().Redis)(url, {
    lazyConnect: true,
    // never queue while disconnected: a command fails at once and the request falls back
    enableOfflineQueue: false,
    // no commandTimeout: its timers fire before a blocked loop reads the replies waiting for it (see loop-aware-deadline.ts)
    connectTimeout: Math.max(1000, timeoutMs),
    maxRetriesPerRequest: 0,
    retryStrategy: (times) => Math.min(times * 100, 1000),
  });
}
