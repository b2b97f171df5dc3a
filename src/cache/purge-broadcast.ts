/*
 * purgeCache across instances: the Redis exact store is shared, but the in-process stores (the memory LRU, the
 * usearch index) are each instance's own, so a purge on one is announced on a Redis channel and every other
 * instance purges its in-process stores with the same filter. Without Redis there is one instance's stores to
 * reach (a gateway sharing a database but not a Redis shares the pgvector table, not the usearch index).
 * Best effort like key invalidation (src/services/key-invalidation.ts): a lost announcement leaves entries that
 * expire with their TTL.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { withTimeout } from '../util/with-timeout.js';
import type { CacheScopeKey } from './types.js';

export interface PurgeFilter {
  scope?: CacheScopeKey;
  model?: string;
}

export interface PurgeBroadcast {
  /** Tells the other instances to purge their in-process stores. Never throws, never waits. */
  publish(f: PurgeFilter): void;
  /** Starts delivering the other instances' purges (this instance's own are not echoed back). */
  start(onPurge: (f: PurgeFilter) => void): Promise<void>;
  close(): Promise<void>;
}

export function createPurgeBroadcast(opts: { redisUrl?: string; redisPrefix?: string; log: Logger }): PurgeBroadcast | undefined {
  if (!opts.redisUrl) return undefined;
  const channel = `${opts.redisPrefix ?? 'gw:'}cache:purge`;
  const { log } = opts;
  const origin = randomUUID();
  const common = { lazyConnect: true, connectTimeout: 1000, retryStrategy: (times: number) => Math.min(times * 100, 1000) };
  const pub = new Redis(opts.redisUrl, { ...common, enableOfflineQueue: false, commandTimeout: 500, maxRetriesPerRequest: 0 });
  // subscriptions are re-sent by ioredis after a reconnect (autoResubscribe)
  const sub = new Redis(opts.redisUrl, { ...common, maxRetriesPerRequest: null });
  pub.on('error', (err) => log.debug({ err }, 'cache purge broadcast: redis publisher error'));
  sub.on('error', (err) => log.debug({ err }, 'cache purge broadcast: redis subscriber error'));
  let closed = false;
  return {
    publish(f) {
      const message = JSON.stringify({ origin, scope: f.scope ?? null, model: f.model ?? null });
      pub.publish(channel, message).catch((err) => log.warn({ err }, 'cache purge broadcast: PUBLISH failed; other instances keep their in-process entries until they expire'));
    },
    async start(onPurge) {
      sub.on('message', (ch: string, payload: string) => {
        if (ch !== channel) return;
        const f = parseMessage(payload);
        if (f && f.origin !== origin) onPurge({ scope: f.scope ?? undefined, model: f.model ?? undefined });
      });
      await Promise.all([pub.connect().catch(() => {}), sub.connect().catch(() => {})]);
      const subscribed = sub.subscribe(channel);
      subscribed.catch(() => {});
      try {
        await withTimeout(subscribed, 2000);
      } catch (err) {
        // not subscribed yet: ioredis subscribes once it connects (offline queue)
        if (!closed) log.warn({ err }, 'cache purge broadcast: Redis unreachable; purges on other instances miss this one until it returns');
      }
    },
    async close() {
      closed = true;
      sub.disconnect();
      await withTimeout(pub.quit(), 1000).catch(() => pub.disconnect());
    },
  };
}

// the channel is under the gateway's own prefix, but a message is still checked field by field before it is obeyed
function parseMessage(payload: string): { origin: string; scope: string | null; model: string | null } | undefined {
  try {
    const m = JSON.parse(payload) as Record<string, unknown>;
    const optional = (v: unknown) => v === null || typeof v === 'string';
    if (typeof m.origin === 'string' && optional(m.scope) && optional(m.model)) return m as { origin: string; scope: string | null; model: string | null };
  } catch {
    // not ours: ignored
  }
  return undefined;
}
