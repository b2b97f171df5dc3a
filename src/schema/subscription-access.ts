/*
 * What an open subscription needs of its key: to start (the fields' authScopes, checked once when it starts,
 * builder.ts authorizeOnSubscribe) and to go on when the key changes while it runs. One table for both.
 */
import { allowsModel, coversUsageScope, usageReadScope } from '../services/access.js';
import type { Principal } from '../services/keys.js';
import { grantedScopes } from './builder.js';

type Scope = keyof ReturnType<typeof grantedScopes>;

/** The scopes each subscription field needs. */
export const SUBSCRIPTION_SCOPES = {
  chatStream: { invoke: true },
  promptStream: { invoke: true },
  usageRecorded: { readUsage: true },
  modelAccessRequests: { teamAdmin: true },
  budgetAlerts: { authenticated: true },
} as const satisfies Record<string, Partial<Record<Scope, true>>>;

/** Beyond scopes: what a subscription's own arguments need of the key, checked again when the key changes. */
const ARGUMENT_RULES: Record<string, (now: Principal, args: Record<string, unknown>) => boolean> = {
  // a stream stops when its model leaves the key's allow-list, as a new one on that model would be refused
  chatStream: (now, args) => {
    const model = (args.input as { model?: unknown } | undefined)?.model;
    // arguments that could not be read leave the scopes to decide: never end a stream on a guess
    return typeof model !== 'string' || allowsModel(now, model);
  },
};

/**
 * Whether a subscription on `field` with `args`, opened by `opened`, may keep running for the key as it is `now`.
 * `model` is the model it invokes when its arguments do not name it (a promptStream's), held to the same allow-list.
 */
export function subscriptionStillAllowed(field: string, opened: Principal, now: Principal, args: Record<string, unknown> = {}, model?: string): boolean {
  const granted = grantedScopes(now);
  const needs: Partial<Record<Scope, true>> | undefined = SUBSCRIPTION_SCOPES[field as keyof typeof SUBSCRIPTION_SCOPES];
  // a field this table does not know keeps running only with every scope it was opened with
  if (!needs) return [...opened.scopes].every((s) => now.scopes.has(s));
  // the feed's filter was fixed when it opened (every record, a team's or a key's): the key must still read all of them
  if (field === 'usageRecorded' && !coversUsageScope(usageReadScope(now), usageReadScope(opened))) return false;
  // team feeds: the same view again (every team's for ADMIN, one team's for its TEAM_ADMIN)
  if ((field === 'modelAccessRequests' || field === 'budgetAlerts') && (opened.isAdmin || opened.isTeamAdmin)) {
    // the key row decides: a revalidated principal may carry no team row
    return opened.isAdmin ? granted.admin : now.scopes.has('TEAM_ADMIN') && now.key.teamId === opened.key.teamId;
  }
  if (!(Object.keys(needs) as Scope[]).every((s) => granted[s])) return false;
  if (model !== undefined && !allowsModel(now, model)) return false;
  return ARGUMENT_RULES[field]?.(now, args) ?? true;
}
