/*
 * The exact cache in Redis, shared by every gateway instance. One string per entry, its JSON, with EX = the TTL,
 * so Redis expires entries itself and nothing has to track them.
 *
 * Key: <prefix>cache:<scope>:<model>:<request hash>, scope and model URI-encoded (with the glob characters URI
 * encoding leaves alone escaped too), so no segment holds a ':' or a glob character. A purge by scope and/or model
 * is then a SCAN with a MATCH pattern on those segments, deleted batch by batch: never KEYS (which blocks the
 * server), and no index sets to keep in step with expiries.
 */
import type { Logger } from 'pino';
import type { ExactCacheStore } from '../exact-store.js';
import type { CachedAnswer } from '../types.js';
import { createConnectionDeadline } from '../../util/loop-aware-deadline.js';
import { createRedisClient } from '../../util/redis-client.js';
import { withTimeout } from '../../util/with-timeout.js';

export interface RedisStoreOptions {
  url: string;
  log: Logger;
  /** @default 'gw:' */
  redisPrefix?: string;
  /** No reply within this long is a failure (the call goes on as a miss). @default 500 */
  redisTimeoutMs?: number;
}

const SCAN_COUNT = 500;

export async function createRedisStore(opts: RedisStoreOptions): Promise<ExactCacheStore> {
  const timeoutMs = opts.redisTimeoutMs ?? 500;
  const client = createRedisClient(opts.url, timeoutMs);
  client.on('error', (err) => opts.log.debug({ err }, 'cache: redis connection error'));
  const deadline = createConnectionDeadline(timeoutMs);
  const base = `${globEscape(opts.redisPrefix ?? 'gw:')}cache:`;
  const keyOf = (scope: string, model: string, hash: string) => `${base}${segment(scope)}:${segment(model)}:${hash}`;

  try {
    await withTimeout(client.connect(), Math.max(2000, timeoutMs));
  } catch (err) {
    // ioredis keeps reconnecting; until then every lookup is a miss
    opts.log.warn({ err }, 'cache: Redis unreachable at start-up; the exact cache misses until it answers');
  }

  return {
    kind: 'redis',
    async get(scope, hash, model) {
      const raw = await deadline(client.get(keyOf(scope, model, hash)));
      return raw == null ? null : (JSON.parse(raw) as CachedAnswer);
    },
    async set(scope, hash, entry, ttlSeconds) {
      await deadline(client.set(keyOf(scope, entry.model, hash), JSON.stringify(entry), 'EX', Math.max(1, Math.round(ttlSeconds))));
    },
    async purge({ scope, model }) {
      const pattern = `${base}${scope === undefined ? '*' : segment(scope)}:${model === undefined ? '*' : segment(model)}:*`;
      let purged = 0;
      let cursor = '0';
      do {
        const [next, keys] = await deadline(client.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_COUNT));
        if (keys.length) purged += await deadline(client.unlink(...keys));
        cursor = next;
      } while (cursor !== '0');
      return purged;
    },
    async close() {
      await withTimeout(client.quit(), 1000).catch(() => client.disconnect());
    },
  };
}

/** A key segment without ':' or glob characters. */
function segment(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
