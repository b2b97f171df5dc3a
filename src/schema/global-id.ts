/*
 * Global ids (Relay's object identification): every type with a stored identity answers `id` as base64 of
 * "Type:key", so a client refetches it with `node(id:)` and a normalising cache keeps one entity per id. Every id
 * argument is read here: the relay plugin decodes it with decodeGlobalId, and its resolver takes the key out with
 * keyOf (an argument naming one type) or loadNodes (node/nodes). Errors are raised there, inside the scope
 * checks and with the argument's name, not while the plugin maps arguments.
 */
import type { SchemaTypes } from '@pothos/core';
import { decodeGlobalID, encodeGlobalID, resolveNodes } from '@pothos/plugin-relay';
import { isObjectType, type GraphQLResolveInfo, type GraphQLSchema } from 'graphql';
import { badInput, type GatewayError } from '../errors.js';
import { isUuid } from '../util/input-rules.js';

/** An id argument as the relay plugin hands it over; `typename` is empty when the value was no global id at all. */
export interface GlobalId {
  typename: string;
  /** The key inside the id; for node/nodes already parsed by the type's `id.parse`: null when it cannot be one. */
  id: unknown;
}

/** The global id of a node type's key, as its `id` field answers it, where another field names the object. */
export const globalIdOf = (type: { name: string }, key: string): string => encodeGlobalID(type.name, key);

/** The relay plugin's `decodeGlobalID`: never throws, so a malformed id is refused where its argument is known. */
export function decodeGlobalId(value: string): { typename: string; id: string } {
  try {
    return decodeGlobalID(value);
  } catch {
    return { typename: '', id: value };
  }
}

/**
 * What a node type's `loadMany` answers for an id this key may not read: the error, at that id's place (graphql-js
 * answers an Error value as that field's or list item's error), so the other ids of `nodes` still answer.
 */
export const refused = <T>(error: GatewayError): T => error as unknown as T;

/** A node type's `id.parse` for UUID keys: null for anything else (a malformed id, answered as one). */
export const uuidKey = (key: string): string | null => (isUuid(key) ? key : null);

/** What keyOf needs of a node type's ref (ImplementableNodeRef has both). */
interface KeyedType<K> {
  name: string;
  parseId: ((key: string, ctx: object) => K | null) | undefined;
}

/**
 * The key of an argument that must name one type: its global id, or (until the next release, reported in
 * extensions.warnings) the bare UUID clients sent before global ids.
 * @param arg the argument's path, e.g. `filter.apiKeyId`, named in the error and the warning
 */
export function keyOf<K>(ctx: { warnings: string[] }, value: GlobalId, type: KeyedType<K>, arg: string): K {
  const parse = (key: unknown) => (typeof key === 'string' ? (type.parseId?.(key, ctx) ?? null) : null);
  if (value.typename === '') {
    const bare = parse(value.id);
    if (bare === null) throw badInput(arg, `must be a global id of type ${type.name}`);
    ctx.warnings.push(`${arg}: a bare UUID is deprecated: use the global id (${type.name}.id); bare UUIDs are accepted until the next release.`);
    return bare;
  }
  const key = value.typename === type.name ? parse(value.id) : null;
  if (key === null) throw badInput(arg, `must be a global id of type ${type.name}`);
  return key;
}

/** Why a node/nodes argument names no node (BAD_USER_INPUT naming `arg`), or null when it does. */
function nodeIdProblem(schema: GraphQLSchema, value: GlobalId, arg: string): GatewayError | null {
  const type = value.typename ? schema.getType(value.typename) : undefined;
  if (!isObjectType(type) || !type.getInterfaces().some((i) => i.name === 'Node')) return badInput(arg, 'is not a global id');
  if (value.id === null) return badInput(arg, `is not a valid ${value.typename} id`);
  return null;
}

/**
 * node/nodes: each id loaded by its type's `loadMany`, which applies the same visibility rule as that type's list
 * (src/services/access.ts). A malformed id is a BAD_USER_INPUT at its own index, so the others still answer.
 * @param argOf the argument's name for the id at an index (`id`, `ids[2]`)
 */
export async function loadNodes<Types extends SchemaTypes>(
  builder: PothosSchemaTypes.SchemaBuilder<Types>,
  ctx: object,
  info: GraphQLResolveInfo,
  ids: GlobalId[],
  argOf: (index: number) => string,
): Promise<unknown[]> {
  const problems = ids.map((id, i) => nodeIdProblem(info.schema, id, argOf(i)));
  const loaded = await resolveNodes(builder, ctx, info, ids.map((id, i) => (problems[i] ? null : id)));
  return Promise.all(loaded.map((node, i) => problems[i] ?? node));
}
