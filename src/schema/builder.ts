/*
 * The one SchemaBuilder: scope-auth maps the contract's Scope enum onto every marked field; input rules check every
 * argument; relay gives global ids, node/nodes and cursor connections.
 */
import SchemaBuilder from '@pothos/core';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import InputRulesPlugin from './input-rules-plugin.js';
import { decodeGlobalId, loadNodes } from './global-id.js';
import { forbidden, unauthenticated } from '../errors.js';
import type { Context } from '../context.js';
import { hasInvokeScope, mayReadUsage } from '../services/access.js';
import type { Principal } from '../services/keys.js';

/** What a key may do, as every field marked with `authScopes` sees it. */
export function grantedScopes(p: Principal | null) {
  return {
    authenticated: !!p,
    admin: !!p?.isAdmin,
    /** ADMIN, or TEAM_ADMIN of a team: a field marked so still limits a team admin to its own team's objects. */
    teamAdmin: !!p && (p.isAdmin || p.isTeamAdmin),
    invoke: !!p && hasInvokeScope(p),
    readUsage: !!p && mayReadUsage(p),
  };
}

interface GatewaySchemaTypes {
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
    teamAdmin: boolean;
  };
  DefaultFieldNullability: false;
  // the contract's connections: `edges: [XEdge!]!` and `node: X!`
  DefaultEdgesNullability: { list: false; items: false };
  DefaultNodeNullability: false;
}

// annotated: node/nodes below resolve through the builder itself
export const builder: PothosSchemaTypes.SchemaBuilder<PothosSchemaTypes.ExtendDefaultTypes<GatewaySchemaTypes>> = new SchemaBuilder<GatewaySchemaTypes>({
  // the contract marks most output fields non-null; nullable ones say so explicitly
  defaultFieldNullability: false,
  // the first plugin wraps outermost: a caller without the scope hears FORBIDDEN before anything about its input
  plugins: [ScopeAuthPlugin, InputRulesPlugin, RelayPlugin],
  scopeAuth: {
    // checked once when a subscription starts, not on every event
    authorizeOnSubscribe: true,
    authScopes: (ctx) => grantedScopes(ctx.principal),
    unauthorizedError: (_parent, ctx, info) =>
      ctx.principal ? forbidden(`This key may not access ${info.parentType.name}.${info.fieldName}`) : unauthenticated(),
  },
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    decodeGlobalID: decodeGlobalId,
    nodeTypeOptions: { description: 'An object with a global id, which `node(id:)` refetches' },
    idFieldOptions: { description: 'Global id: opaque and stable; `node(id:)` refetches the object by it' },
    nodeQueryOptions: {
      description:
        "The object with this global id. Null when there is none or this key may not see it, as in the lists: with a FORBIDDEN error for what only ADMIN reads (providers, other keys' ApiKey) and for UsageRecord without READ_USAGE",
      authScopes: { authenticated: true },
      args: { id: { description: 'A global id: the `id` of any Node' } },
      resolve: async (_root, { id }, ctx, info) => {
        const [node] = await loadNodes(builder, ctx, info, [id], () => 'id');
        if (node instanceof Error) throw node;
        return node;
      },
    },
    nodesQueryOptions: {
      description: 'The objects with these global ids, in the same order; each answers as `node(id:)` would, an error at its own index',
      authScopes: { authenticated: true },
      args: { ids: { description: 'Global ids: the `id`s of any Nodes' } },
      resolve: (_root, { ids }, ctx, info) => loadNodes(builder, ctx, info, ids, (i) => `ids[${i}]`),
    },
    pageInfoTypeOptions: { description: 'Where a page sits in its connection: its first and last cursors, and whether items lie before or after it' },
    hasNextPageFieldOptions: { description: 'Whether items follow this page: beyond `first` when paging forward, after `before` when paging backward' },
    hasPreviousPageFieldOptions: { description: 'Whether items precede this page: beyond `last` when paging backward, up to `after` when paging forward' },
    startCursorFieldOptions: { description: "The first edge's cursor (pass it as `before` for the page ahead); null on an empty page" },
    endCursorFieldOptions: { description: "The last edge's cursor (pass it as `after` for the page behind); null on an empty page" },
    edgesFieldOptions: { nullable: { list: false, items: false }, description: "The page's items, each with its cursor" },
    pageInfoFieldOptions: { description: 'Cursors of this page and whether more items lie either way' },
    cursorFieldOptions: { description: 'Opaque position of this item, for `after` and `before`' },
    nodeFieldOptions: { nullable: false, description: 'The item' },
    firstArgOptions: { description: 'At most this many items from the start, or after `after` (0-500; 50 when neither first nor last is given). Not with `last`' },
    afterArgOptions: { description: 'Only items after this cursor' },
    lastArgOptions: { description: 'At most this many items from the end, or before `before` (0-500). Not with `first`' },
    beforeArgOptions: { description: 'Only items before this cursor' },
  },
});
