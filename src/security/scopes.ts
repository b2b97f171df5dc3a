/* Who may do what: the scope rules every surface (GraphQL, REST, websockets) asks, written once. */
import { forbidden } from '../errors.js';
import type { Principal } from '../services/keys.js';

export function canInvoke(p: Principal): boolean {
  return p.isAdmin || p.scopes.has('INVOKE');
}

/** @param what names the refused operation in the message, e.g. "Mutation.chat" */
export function requireInvoke(p: Principal, what?: string): void {
  if (!canInvoke(p)) throw forbidden(what ? `This key may not access ${what}` : 'This key lacks the INVOKE scope');
}
