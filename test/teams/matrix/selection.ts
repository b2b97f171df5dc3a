/*
 * A selection set for any output type, generated from the schema: every scalar, and objects to a bounded depth
 * (at the last level only their id and name); connections are walked through edges.node without spending depth;
 * interfaces and unions get a fragment per possible type, so `node(id:)` shows whatever it resolved.
 */
import {
  getNamedType,
  isAbstractType,
  isLeafType,
  isNonNullType,
  isObjectType,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLSchema,
} from 'graphql';

const isPlumbing = (name: string) => name.endsWith('Connection') || name.endsWith('Edge');
const hasRequiredArgs = (f: GraphQLField<unknown, unknown>) => f.args.some((a) => isNonNullType(a.type) && a.defaultValue === undefined);

/**
 * @param depth object levels still to open below this one
 * @param hidden fields (`Type.field`) left out: those the caller was refused inside an answer, which would
 *   otherwise null their whole parent and hide everything else
 */
export function selectionFor(schema: GraphQLSchema, type: GraphQLNamedType, depth: number, hidden: ReadonlySet<string> = new Set()): string {
  if (isLeafType(type)) return '';
  if (isAbstractType(type)) {
    const possible = schema.getPossibleTypes(type);
    const clashing = clashingFields(possible);
    const parts = possible.map((t) => `... on ${t.name} { ${fieldsOf(schema, t, depth, hidden, clashing)} }`);
    return ['__typename', ...parts].join(' ');
  }
  return isObjectType(type) ? fieldsOf(schema, type, depth, hidden, new Set()) : '__typename';
}

/** Field names that two of these types answer with different types: aliased per type, or the fragments clash. */
function clashingFields(types: readonly GraphQLObjectType[]): Set<string> {
  const seen = new Map<string, string>();
  const out = new Set<string>();
  for (const t of types) {
    for (const f of Object.values(t.getFields())) {
      const was = seen.get(f.name);
      if (was !== undefined && was !== String(f.type)) out.add(f.name);
      seen.set(f.name, String(f.type));
    }
  }
  return out;
}

function fieldsOf(schema: GraphQLSchema, type: GraphQLObjectType, depth: number, hidden: ReadonlySet<string>, aliased: Set<string>): string {
  const parts: string[] = [];
  for (const f of Object.values(type.getFields())) {
    if (hasRequiredArgs(f) || hidden.has(`${type.name}.${f.name}`)) continue;
    const name = aliased.has(f.name) ? `${f.name}_${type.name}: ${f.name}` : f.name;
    const named = getNamedType(f.type);
    if (isLeafType(named)) {
      parts.push(name);
      continue;
    }
    const below = isPlumbing(named.name) || isPlumbing(type.name) ? depth : depth - 1;
    const sub = below > 0 ? selectionFor(schema, named, below, hidden) : identityOf(named);
    if (sub) parts.push(`${name} { ${sub} }`);
  }
  return parts.length ? parts.join(' ') : '__typename';
}

/** At the last level: the object's id and name, when it has them. */
function identityOf(type: GraphQLNamedType): string {
  if (!isObjectType(type)) return isAbstractType(type) ? '__typename' : '';
  const fields = type.getFields();
  return ['id', 'name'].filter((n) => fields[n] && isLeafType(getNamedType(fields[n].type))).join(' ');
}

/**
 * The field (`Type.field`) an error path points at, below the root field: `['models', 0, 'targets', 0, 'provider']`
 * → `ModelTarget.provider`. Null for the root field itself, or a path the schema does not explain.
 */
export function coordinateOf(schema: GraphQLSchema, rootType: GraphQLObjectType, path: ReadonlyArray<string | number>): string | null {
  const names = path.filter((p): p is string => typeof p === 'string');
  if (names.length < 2) return null;
  let types: readonly GraphQLObjectType[] = [rootType];
  for (let i = 0; i < names.length; i++) {
    const owner = types.find((t) => fieldNamed(t, names[i]));
    if (!owner) return null;
    const field = fieldNamed(owner, names[i])!;
    if (i === names.length - 1) return `${owner.name}.${field.name}`;
    const next = getNamedType(field.type);
    types = isAbstractType(next) ? schema.getPossibleTypes(next) : isObjectType(next) ? [next] : [];
  }
  return null;
}

/** A field by its response name: its own, or the per-type alias given to a clashing one. */
function fieldNamed(type: GraphQLObjectType, responseName: string) {
  const fields = type.getFields();
  return fields[responseName] ?? fields[responseName.replace(new RegExp(`_${type.name}$`), '')];
}
