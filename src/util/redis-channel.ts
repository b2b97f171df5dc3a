/*
 * One Redis pub/sub channel between the gateway's instances, best effort: a publisher that never waits (no offline
 * queue, a short command timeout) and a subscriber that ioredis reconnects and re-subscribes. Used where a change on
 * one instance must reach the in-process state of the others (key invalidation, cache purges).
 */
import { lazyRequire } from './lazy-require.js';
import type { Logger } from 'pino';
import { withTimeout } from './with-timeout.js';

/** Loaded with the first channel: a gateway without Redis never loads ioredis. */
const ioredis = lazyRequire<typeof import('ioredis')>('ioredis');

export interface RedisChannel {
  /** Sends a message to every subscriber; never throws, never waits. */
  publish(message: string): void;
  /** Delivers the channel's messages from now on. */
  start(onMessage: (message: string) => void): Promise<void>;
  close(): Promise<void>;
}

/**
 * @param what names the channel's purpose in log lines, e.g. "key invalidation"
 * @param missed what a lost message means, for the warnings, e.g. "other instances rely on the cache TTL"
 */
export function createRedisChannel(url: string, channel: string, log: Logger, what: string, missed: string): RedisChannel {
  const common = { lazyConnect: true, connectTimeout: 1000, retryStrategy: (times: number) => Math.min(times * 100, 1000) };
  const { Redis } = ioredis();
  const pub = new Redis(url, { ...common, enableOfflineQueue: false, commandTimeout: 500, maxRetriesPerRequest: 0 });
  // subscriptions are re-sent by ioredis after a reconnect (autoResubscribe)
  const sub = new Redis(url, { ...common, maxRetriesPerRequest: null });
  pub.on('error', (err) => log.debug({ err }, `${what}: redis publisher error`));
  sub.on('error', (err) => log.debug({ err }, `${what}: redis subscriber error`));
  let closed = false;
  return {
    publish(message) {
      pub.publish(channel, message).catch((err) => log.warn({ err }, `${what}: PUBLISH failed; ${missed}`));
    },
    async start(onMessage) {
      sub.on('message', (ch: string, payload: string) => {
        if (ch === channel) onMessage(payload);
      });
      await Promise.all([pub.connect().catch(() => {}), sub.connect().catch(() => {})]);
      const subscribed = sub.subscribe(channel);
      subscribed.catch(() => {});
      try {
        await withTimeout(subscribed, 2000);
      } catch (err) {
        // not subscribed yet: ioredis subscribes once it connects (offline queue)
        if (!closed) log.warn({ err }, `${what}: Redis unreachable; ${missed} until it returns`);
      }
    },
    async close() {
      closed = true;
      sub.disconnect();
      await withTimeout(pub.quit(), 1000).catch(() => pub.disconnect());
    },
  };
}
