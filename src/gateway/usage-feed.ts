/* Pub/sub for the usageRecorded subscription: in-process, or across instances through Redis. */
import { createPubSub } from 'graphql-yoga';
import type { UsageEvent } from './usage-writer.js';

type Topics = { usage: [UsageEvent] };
export type UsageFeedEventTarget = NonNullable<NonNullable<Parameters<typeof createPubSub<Topics>>[0]>['eventTarget']>;

export type UsageFeed = ReturnType<typeof createUsageFeed>;

export function createUsageFeed(eventTarget?: UsageFeedEventTarget | EventTarget) {
  const pubsub = createPubSub<Topics>(eventTarget ? { eventTarget: eventTarget as UsageFeedEventTarget } : undefined);
  return {
    publish(events: UsageEvent[]): void {
      for (const e of events) pubsub.publish('usage', e.callLog || e.onDurable || e.onDropped ? withoutPrivateParts(e) : e);
    },
    subscribe: () => pubsub.subscribe('usage'),
  };
}

/**
 * The event as the feed may carry it: a call log's bodies are for the call log's readers only, and the feed (on Redis,
 * serialized whole) reaches every usage subscriber; a hook is no data.
 */
function withoutPrivateParts(e: UsageEvent): UsageEvent {
  const { callLog, onDurable, onDropped, ...rest } = e;
  void callLog;
  void onDurable;
  void onDropped;
  return rest;
}
