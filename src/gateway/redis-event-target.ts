/*
 * A Yoga pub/sub event target over Redis pub/sub, so a usage record written by one instance reaches
 * usageRecorded subscribers on every instance. Same contract as @graphql-yoga/redis-event-target,
 * which peers on ioredis 5 while the project uses ioredis 6.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

type Listener = ((e: Event) => void) | { handleEvent(e: Event): void };

export function createRedisEventTarget(opts: { publishClient: Redis; subscribeClient: Redis; channelPrefix?: string }): EventTarget {
  const { publishClient, subscribeClient } = opts;
  const prefix = opts.channelPrefix ?? 'gw:feed:';
  const listeners = new Map<string, Set<Listener>>();
  // local subscribers get events directly, so they keep receiving while Redis is away
  const origin = randomUUID();

  function deliver(topic: string, detail: unknown): void {
    const set = listeners.get(topic);
    if (!set?.size) return;
    const event = new CustomEvent(topic, { detail });
    for (const l of set) {
      if (typeof l === 'function') l(event);
      else l.handleEvent(event);
    }
  }

  subscribeClient.on('message', (channel: string, message: string) => {
    if (!channel.startsWith(prefix)) return;
    let envelope: { origin?: string; detail?: unknown };
    try {
      envelope = JSON.parse(message) as { origin?: string; detail?: unknown };
    } catch {
      return;
    }
    if (envelope.origin === origin) return;
    deliver(channel.slice(prefix.length), envelope.detail);
  });

  return {
    addEventListener(type: string, callback: Listener | null) {
      if (!callback) return;
      let set = listeners.get(type);
      if (!set) {
        listeners.set(type, (set = new Set()));
        void subscribeClient.subscribe(prefix + type).catch(() => {});
      }
      set.add(callback);
    },
    removeEventListener(type: string, callback: Listener | null) {
      const set = listeners.get(type);
      if (!set || !callback) return;
      set.delete(callback);
      if (!set.size) {
        listeners.delete(type);
        void subscribeClient.unsubscribe(prefix + type).catch(() => {});
      }
    },
    dispatchEvent(event: Event) {
      const detail = (event as CustomEvent).detail;
      deliver(event.type, detail);
      void publishClient.publish(prefix + event.type, JSON.stringify({ origin, detail })).catch(() => {});
      return true;
    },
  } as EventTarget;
}
