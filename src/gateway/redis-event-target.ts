/*
 * A Yoga pub/sub event target over Redis pub/sub, so a usage record written by one instance reaches
 * usageRecorded subscribers on every instance. Same contract as @graphql-yoga/redis-event-target,
 * which peers on ioredis 5 while the project uses ioredis 6.
 */
import type { Redis } from 'ioredis';

type Listener = ((e: Event) => void) | { handleEvent(e: Event): void };

export function createRedisEventTarget(opts: { publishClient: Redis; subscribeClient: Redis; channelPrefix?: string }): EventTarget {
  const { publishClient, subscribeClient } = opts;
  const prefix = opts.channelPrefix ?? 'gw:feed:';
  const listeners = new Map<string, Set<Listener>>();

  subscribeClient.on('message', (channel: string, message: string) => {
    if (!channel.startsWith(prefix)) return;
    const topic = channel.slice(prefix.length);
    const set = listeners.get(topic);
    if (!set?.size) return;
    let detail: unknown;
    try {
      detail = JSON.parse(message);
    } catch {
      return;
    }
    const event = new CustomEvent(topic, { detail });
    for (const l of set) (typeof l === 'function' ? l(event) : l.handleEvent(event));
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
      void publishClient.publish(prefix + event.type, JSON.stringify(detail)).catch(() => {});
      return true;
    },
  } as EventTarget;
}
