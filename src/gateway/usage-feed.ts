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
      for (const e of events) pubsub.publish('usage', e);
    },
    subscribe: () => pubsub.subscribe('usage'),
  };
}
