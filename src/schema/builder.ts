/* The one SchemaBuilder: scope-auth maps the contract's Scope enum onto every marked field; input rules check every argument. */
import SchemaBuilder from '@pothos/core';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import InputRulesPlugin from './input-rules-plugin.js';
import { forbidden, unauthenticated } from '../errors.js';
import type { Context } from '../context.js';
import { hasInvokeScope } from '../services/access.js';
import type { Principal } from '../services/keys.js';

/** What a key may do, as every field marked with `authScopes` sees it. */
export function grantedScopes(p: Principal | null) {
  return {
    authenticated: !!p,
    admin: !!p?.isAdmin,
    invoke: !!p && hasInvokeScope(p),
    readUsage: !!p && (p.isAdmin || p.scopes.has('READ_USAGE')),
  };
}

export const builder = new SchemaBuilder<{
  Context: Context;
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    JSON: { Input: unknown; Output: unknown };
  };
  AuthScopes: {
    authenticated: boolean;
    invoke: boolean;
    readUsage: boolean;
    admin: boolean;
  };
  DefaultFieldNullability: false;
}>({
  // the contract marks most output fields non-null; nullable ones say so explicitly
  defaultFieldNullability: false,
  // the first plugin wraps outermost: a caller without the scope hears FORBIDDEN before anything about its input
  plugins: [ScopeAuthPlugin, InputRulesPlugin],
  scopeAuth: {
    // checked once when a subscription starts, not on every event
    authorizeOnSubscribe: true,
    authScopes: (ctx) => grantedScopes(ctx.principal),
    unauthorizedError: (_parent, ctx, info) =>
      ctx.principal ? forbidden(`This key may not access ${info.parentType.name}.${info.fieldName}`) : unauthenticated(),
  },
});
