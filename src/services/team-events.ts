/*
 * Pub/sub for the modelAccessRequests and budgetAlerts subscriptions, the usage feed's pattern: in-process, or
 * across instances through Redis (a decision or an alert on one instance reaches subscribers on every instance).
 */
import { createPubSub, map, pipe } from 'graphql-yoga';
import type { BudgetAlertRow, ModelAccessRequestRow } from '../db/schema.js';

type Topics = { modelAccess: [ModelAccessRequestRow]; budgetAlert: [BudgetAlertRow] };

type TopicsEventTarget = NonNullable<NonNullable<Parameters<typeof createPubSub<Topics>>[0]>['eventTarget']>;

export type TeamEvents = ReturnType<typeof createTeamEvents>;

/** Rows that crossed Redis arrive as JSON: their dates are strings again. */
function withDates<T extends object>(row: T, fields: ReadonlyArray<keyof T>): T {
  const out = { ...row };
  for (const f of fields) {
    const v = out[f];
    if (typeof v === 'string') (out as Record<keyof T, unknown>)[f] = new Date(v);
  }
  return out;
}

export function createTeamEvents(eventTarget?: EventTarget) {
  const pubsub = createPubSub<Topics>(eventTarget ? { eventTarget: eventTarget as TopicsEventTarget } : undefined);
  return {
    modelAccessChanged: (row: ModelAccessRequestRow) => pubsub.publish('modelAccess', row),
    budgetAlertRaised: (row: BudgetAlertRow) => pubsub.publish('budgetAlert', row),
    // Repeaters, not async generators: an ended subscription must stop at once, even while it waits for an event
    modelAccess: () => pipe(pubsub.subscribe('modelAccess'), map((r: ModelAccessRequestRow) => withDates(r, ['createdAt', 'updatedAt', 'decidedAt']))),
    budgetAlerts: () => pipe(pubsub.subscribe('budgetAlert'), map((r: BudgetAlertRow) => withDates(r, ['createdAt']))),
  };
}
