/*
 * Cross-instance key cache invalidation: when a key is revoked, rotated or updated on one instance,
 * the others drop their cached lookup at once instead of waiting for KEY_CACHE_TTL_MS.
 * Redis pub/sub when REDIS_URL is set, else Postgres LISTEN/NOTIFY when the database is a Postgres
 * server, else nothing (one embedded PGlite process has one cache). The payload is the secret's
 * sha256 hash, which the caches are keyed by (never the secret).
 * Best effort by design: a lost message (Redis or Postgres away) is covered by the cache TTL (≤ 5 s), and on
 * Postgres by dropping every cached lookup once LISTEN is re-established.
 */
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Database } from '../db/client.js';
import { withTimeout } from '../util/with-timeout.js';

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
  const common = { lazyConnect: true, connectTimeout: 1000, retryStrategy: (times: number) => Math.min(times * 100, 1000) };
  const pub = new Redis(url, { ...common, enableOfflineQueue: false, commandTimeout: 500, maxRetriesPerRequest: 0 });
  // subscriptions are re-sent by ioredis after a reconnect (autoResubscribe)
  const sub = new Redis(url, { ...common, maxRetriesPerRequest: null });
  pub.on('error', (err) => log.debug({ err }, 'key invalidation: redis publisher error'));
  sub.on('error', (err) => log.debug({ err }, 'key invalidation: redis subscriber error'));
  let closed = false;
  return {
    kind: 'redis',
    publish(hash) {
      pub.publish(channel, hash).catch((err) => log.warn({ err }, 'key invalidation: PUBLISH failed; other instances rely on the cache TTL'));
    },
    async start(onInvalidate) {
      sub.on('message', (ch: string, payload: string) => {
        if (ch === channel && HASH.test(payload)) onInvalidate(payload);
      });
      await Promise.all([pub.connect().catch(() => {}), sub.connect().catch(() => {})]);
      const subscribed = sub.subscribe(channel);
      subscribed.catch(() => {});
      try {
        await withTimeout(subscribed, 2000);
      } catch (err) {
        // not subscribed yet: ioredis subscribes once it connects (offline queue), the TTL covers the gap
        if (!closed) log.warn({ err }, 'key invalidation: Redis unreachable; key changes reach other instances via the cache TTL until it returns');
      }
    },
    async close() {
      closed = true;
      sub.disconnect();
      await withTimeout(pub.quit(), 1000).catch(() => pub.disconnect());
    },
  };
}
