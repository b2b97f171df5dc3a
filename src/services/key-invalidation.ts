/*
 * Cross-instance key cache invalidation: when a key is revoked, rotated or updated on one instance,
 * the others drop their cached lookup at once instead of waiting for KEY_CACHE_TTL_MS.
 * Redis pub/sub when REDIS_URL is set, else Postgres LISTEN/NOTIFY when the database is a Postgres
 * server, else nothing (one embedded PGlite process has one cache). The payload is the secret's
 * sha256 hash, which the caches are keyed by (never the secret).
 * Best effort by design: a lost message (Redis or Postgres away) is covered by the cache TTL (≤ 5 s), and on
 * Postgres by dropping every cached lookup once LISTEN is re-established.
 */
import type { Logger } from 'pino';
import type { Database } from '../db/client.js';
import { createRedisChannel } from '../util/redis-channel.js';

export interface KeyInvalidation {
  kind: 'redis' | 'postgres';
  /** Tells every instance (this one included) that the key with this secret hash changed. Never throws, never waits. */
  publish(secretHash: string): void;
  /**
   * Starts delivering other instances' announcements. `onMissed` is called when the channel comes back after
   * being down (Postgres LISTEN re-established): announcements sent meanwhile are lost, so caches must be dropped.
   */
  start(onInvalidate: (secretHash: string) => void, onMissed?: () => void): Promise<void>;
  close(): Promise<void>;
}

export interface KeyInvalidationOptions {
  redisUrl?: string;
  /** Redis channel prefix. @default 'gw:' */
  redisPrefix?: string;
  database: Database;
  log: Logger;
}

const PG_CHANNEL = 'gateway_key_changed';
const HASH = /^[0-9a-f]{64}$/;

export function createKeyInvalidation(opts: KeyInvalidationOptions): KeyInvalidation | undefined {
  if (opts.redisUrl) return redisInvalidation(opts.redisUrl, `${opts.redisPrefix ?? 'gw:'}keys:changed`, opts.log);
  const { database, log } = opts;
  if (database.listen && database.notify) {
    const listen = database.listen.bind(database);
    const notify = database.notify.bind(database);
    let unlisten: (() => Promise<void>) | undefined;
    return {
      kind: 'postgres',
      publish(hash) {
        notify(PG_CHANNEL, hash).catch((err) => log.warn({ err }, 'key invalidation: NOTIFY failed; other instances rely on the cache TTL'));
      },
      async start(onInvalidate, onMissed) {
        // postgres.js keeps the LISTEN connection alive and re-listens after reconnecting; a NOTIFY sent while
        // it was away is never delivered, so every re-listen after the first drops what may now be stale
        let listened = false;
        try {
          unlisten = await listen(
            PG_CHANNEL,
            (payload) => {
              if (HASH.test(payload)) onInvalidate(payload);
            },
            () => {
              if (listened) {
                log.info('key invalidation: LISTEN re-established; cached key lookups dropped');
                onMissed?.();
              }
              listened = true;
            },
          );
        } catch (err) {
          log.warn({ err }, 'key invalidation: LISTEN failed; key changes reach this instance via the cache TTL');
        }
      },
      async close() {
        await unlisten?.().catch(() => {});
      },
    };
  }
  return undefined;
}

function redisInvalidation(url: string, channel: string, log: Logger): KeyInvalidation {
  const ch = createRedisChannel(url, channel, log, 'key invalidation', 'key changes reach other instances via the cache TTL');
  return {
    kind: 'redis',
    publish: (hash) => ch.publish(hash),
    start: (onInvalidate) =>
      ch.start((payload) => {
        if (HASH.test(payload)) onInvalidate(payload);
      }),
    close: () => ch.close(),
  };
}
