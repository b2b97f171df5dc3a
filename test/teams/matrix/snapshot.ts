/*
 * B's state as ADMIN reads it: every Query field that needs no argument (lists of teams, keys, prompts, webhooks,
 * requests, alerts, usage…), with generated selections, plus `nodes` of B's ids; kept are the objects that mention
 * B's ids (B's own, or anything in B's team or of B's keys; not the marker, which A may put in its own objects'
 * names). Two snapshots differ when anything of B was changed, removed or added.
 */
import { getNamedType, isLeafType, isNonNullType, type GraphQLSchema } from 'graphql';
import type { TestGateway } from '../../kit/start-gateway.js';
import { createLeakDetector } from './leak-detector.js';
import { selectionFor } from './selection.js';
import type { Targets } from './targets.js';

export type Snapshot = Set<string>;

/** Large enough for every record of the run, so A's own calls never push B's out of the page. */
const PAGE = 500;

export async function snapshotOf(gw: TestGateway, schema: GraphQLSchema, targets: Targets): Promise<Snapshot> {
  const mentionsB = createLeakDetector(targets, false);
  const queries: string[] = [];
  for (const field of Object.values(schema.getQueryType()!.getFields())) {
    if (field.args.some((a) => isNonNullType(a.type) && a.defaultValue === undefined)) continue;
    const named = getNamedType(field.type);
    if (isLeafType(named)) continue;
    const first = field.args.some((a) => a.name === 'first') ? `(first: ${PAGE})` : '';
    queries.push(`{ ${field.name}${first} { ${selectionFor(schema, named, 3)} } }`);
  }
  const nodeType = schema.getType('Node');
  if (nodeType) queries.push(`query($ids: [ID!]!) { nodes(ids: $ids) { ${selectionFor(schema, nodeType, 3)} } }`);
  const out: Snapshot = new Set();
  for (const query of queries) {
    const res = await gw.gql(query, { ids: targets.allIds() });
    collect(res.data, (o) => mentionsB(o).length > 0, out);
  }
  return out;
}

/** Every object with an id, as JSON, that `keep` accepts. */
function collect(value: unknown, keep: (o: object) => boolean, out: Snapshot): void {
  if (Array.isArray(value)) for (const v of value) collect(v, keep, out);
  else if (value && typeof value === 'object') {
    if ('id' in value && keep(value)) out.add(JSON.stringify(value));
    for (const v of Object.values(value)) collect(v, keep, out);
  }
}

export function diffSnapshots(before: Snapshot, after: Snapshot): string[] {
  return [...[...before].filter((x) => !after.has(x)).map((x) => `gone or changed: ${x}`), ...[...after].filter((x) => !before.has(x)).map((x) => `new or changed: ${x}`)];
}
