/*
 * What an open subscription still needs of its key. Scopes are checked once when a subscription starts
 * (builder.ts, authorizeOnSubscribe); when the key changes while it runs, this decides whether it may go on.
 */
import type { Principal } from '../services/keys.js';
import { grantedScopes } from './builder.js';

/** Whether a subscription on `field`, opened by `opened`, may keep running for the key as it is `now`. */
export function subscriptionStillAllowed(field: string, opened: Principal, now: Principal): boolean {
  const granted = grantedScopes(now);
  switch (field) {
    case 'chatStream':
      return granted.invoke;
    // an ADMIN's feed carries every key's records, anyone else's only their own: the same view is needed again
    case 'usageRecorded':
      return opened.isAdmin ? granted.admin : granted.readUsage;
    default:
      // a field this table does not know keeps running only with every scope it was opened with
      return [...opened.scopes].every((s) => now.scopes.has(s));
  }
}
