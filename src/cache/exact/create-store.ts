/* Which exact store a gateway uses: Redis when it has one (shared by its instances), otherwise this process's memory. */
import type { Logger } from 'pino';
import type { Config } from '../../config.js';
import type { ExactCacheStore } from '../exact-store.js';
import { createMemoryStore } from './memory-store.js';
import { createRedisStore } from './redis-store.js';

export function createExactStore(config: Pick<Config, 'redis' | 'cache'>, log: Logger, redisPrefix?: string): Promise<ExactCacheStore> {
  if (config.redis) return createRedisStore({ url: config.redis.url, log, redisPrefix });
  return Promise.resolve(createMemoryStore({ maxBytes: config.cache.memoryMaxBytes }));
}
