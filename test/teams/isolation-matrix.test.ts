/*
 * The isolation matrix: every query, mutation and subscription of the schema (read by introspection, so a new field
 * is covered without editing this file) is run with arguments aimed at team B's objects, as A's TEAM_ADMIN, as A's
 * plain key and, as the control, as B's own plain key. Nothing of B (its marker, ids, secrets) may reach A's
 * principals, and after A's mutations B's state, read as ADMIN, is what it was.
 */
import { buildClientSchema, getIntrospectionQuery, type GraphQLSchema, type IntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type GqlResponse, type TestGateway } from '../kit/start-gateway.js';
import { createWsClient, type WsClient } from '../kit/ws.js';
import { createLeakDetector, type LeakDetector } from './matrix/leak-detector.js';
import { matrixOperations, rootFields, type MatrixOperation, type RootKind } from './matrix/operations.js';
import { runOverHttp, runSubscription, type Locate, type Outcome, type Principal } from './matrix/run-operation.js';
import { coordinateOf } from './matrix/selection.js';
import { hasField, seedTeams, type Seeded } from './matrix/seed.js';
import { diffSnapshots, snapshotOf, type Snapshot } from './matrix/snapshot.js';
import { B_MARKER } from './matrix/targets.js';

let gw: TestGateway;
let schema: GraphQLSchema;
let seeded: Seeded;
let detect: LeakDetector;
let ops: MatrixOperation[];
let before: Snapshot;
let locate: Locate;
let aAdmin: Principal;
let aPlain: Principal;
let control: Principal;
/** B's TEAM_ADMIN, a second control on the subscriptions: it sees B's team feeds, so B's events are shown to arrive. */
let teamControl: Principal;
const isControl = (principal: string) => principal.endsWith('(control)');
const outcomes: Outcome[] = [];
const clients: WsClient[] = [];

/** How long subscriptions stay open around B's events. */
const SUBSCRIPTION_WINDOW_MS = 1500;

const opsOf = (root: RootKind) => ops.filter((o) => o.root === root);

/** Runs `work` over `items`, a few at a time (the machine is shared). */
async function inPool<T, R>(items: T[], work: (item: T) => Promise<R>, width = 4): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await work(items[i]);
      }
    }),
  );
  return out;
}

async function runAll(root: RootKind, principals: Principal[]): Promise<Outcome[]> {
  const jobs = opsOf(root).flatMap((op) => principals.map((p) => ({ op, p })));
  const done = await inPool(jobs, ({ op, p }) => runOverHttp(gw, op, p, detect, locate));
  outcomes.push(...done);
  return done;
}

const leaksIn = (list: Outcome[]) =>
  list.filter((o) => o.leaks.length).map((o) => `${o.op.root} ${o.op.field} (${o.op.label}) as ${o.principal}: ${o.result}, found ${o.leaks.join(', ')}`);

/** Answers that are a crash rather than an answer: a 5xx, or an error masked as unexpected. */
const crashesIn = (list: Outcome[]) =>
  list.filter((o) => /HTTP 5|INTERNAL_SERVER_ERROR|NO_CODE/.test(o.result)).map((o) => `${o.op.root} ${o.op.field} (${o.op.label}) as ${o.principal}: ${o.result}`);

/** Per field and principal: how often each result came back (B's marker, ids or secrets in it: LEAK; for B's own key: B). */
function summary(list: Outcome[]): string {
  const rows = new Map<string, Map<string, Map<string, number>>>();
  for (const o of list) {
    const field = `${o.op.root} ${o.op.field}`;
    const byPrincipal = rows.get(field) ?? new Map<string, Map<string, number>>();
    const counts = byPrincipal.get(o.principal) ?? new Map<string, number>();
    const result = o.leaks.length ? `${isControl(o.principal) ? 'B' : 'LEAK'}(${o.result})` : o.result;
    counts.set(result, (counts.get(result) ?? 0) + 1);
    byPrincipal.set(o.principal, counts);
    rows.set(field, byPrincipal);
  }
  const lines = [...rows].map(([field, byPrincipal]) => {
    const cells = [...byPrincipal].map(([p, counts]) => `${p}: ${[...counts].map(([r, n]) => `${r}×${n}`).join(' ')}`);
    return `${field.padEnd(36)} ${cells.join(' | ')}`;
  });
  return lines.join('\n');
}

beforeAll(async () => {
  // generated selections open every field of every node type: wider than a client's, so the limits are raised
  gw = await startGateway({ GRAPHQL_MAX_TOKENS: '100000', GRAPHQL_MAX_DEPTH: '20', GRAPHQL_MAX_COST: '100000000', WEBHOOK_MAX_ATTEMPTS: '1', WEBHOOK_TIMEOUT_MS: '500' });
  const introspection = await gw.gql<IntrospectionQuery>(getIntrospectionQuery());
  if (!introspection.data) throw new Error(`introspection failed: ${JSON.stringify(introspection.errors)}`);
  schema = buildClientSchema(introspection.data);
  seeded = await seedTeams(gw, schema);
  detect = createLeakDetector(seeded.targets);
  ops = matrixOperations(schema, seeded.targets);
  before = await snapshotOf(gw, schema, seeded.targets);
  const roots = new Map(rootFields(schema).map((r) => [r.root, r.type]));
  locate = (root, path) => coordinateOf(schema, roots.get(root)!, path);
  aAdmin = { name: 'A team admin', key: seeded.a.admin, hidden: new Set() };
  aPlain = { name: 'A plain key', key: seeded.a.plain, hidden: new Set() };
  control = { name: 'B plain key (control)', key: seeded.b.plain, hidden: new Set() };
  teamControl = { name: 'B team admin (control)', key: seeded.b.admin, hidden: new Set() };
  console.log(`isolation matrix: ${ops.length} operations; B's ids: ${[...seeded.targets.idsByType].map(([t, ids]) => `${t}×${ids.length}`).join(' ')}`);
  if (seeded.skipped.length) console.log(`not in this schema yet, so not seeded: ${seeded.skipped.join('; ')}`);
}, 60_000);

afterAll(async () => {
  for (const c of clients) await c.dispose();
  if (outcomes.length) console.log(`isolation matrix summary (result×variants):\n${summary(outcomes)}`);
  await gw?.stop();
});

describe('isolation matrix', () => {
  it('generates a valid operation for every field of Query, Mutation and Subscription', () => {
    const fields = rootFields(schema).flatMap(({ root, type }) => Object.keys(type.getFields()).map((f) => `${root} ${f}`));
    const covered = new Set(ops.map((o) => `${o.root} ${o.field}`));
    expect(fields.filter((f) => !covered.has(f))).toEqual([]);
    expect(fields.length).toBeGreaterThan(30);
    // B's data is really there to be leaked: the snapshot holds B's keys and usage records
    expect(before.size).toBeGreaterThanOrEqual(seeded.targets.idsByType.get('ApiKey')!.length);
  });

  it('self-check: the detector finds B marker and ids in what B itself reads', async () => {
    const viewer = ops.find((o) => o.root === 'query' && o.field === 'viewer')!;
    const planted = await runOverHttp(gw, viewer, { name: 'B plain key (planted leak)', key: seeded.b.plain, hidden: new Set() }, detect, locate);
    expect(planted.leaks).toContain(`B's marker ${B_MARKER}`);
    expect(planted.leaks.some((l) => l.startsWith("B's ApiKey id"))).toBe(true);
    // and what the caller itself sent is no leak: B's id echoed back in an argument is taken out first
    expect(detect({ errors: [{ message: `no key ${seeded.targets.allIds()[0]}` }] }, { id: seeded.targets.allIds()[0] })).toEqual([]);
    expect(detect({ data: { x: seeded.targets.secrets[0] } })).not.toEqual([]);
  });

  it("queries: nothing of B reaches A's TEAM_ADMIN or A's plain key", async () => {
    const done = await runAll('query', [aAdmin, aPlain]);
    expect({ leaks: leaksIn(done), crashes: crashesIn(done) }).toEqual({ leaks: [], crashes: [] });
  }, 60_000);

  it("mutations: A's principals change nothing of B and see nothing of it", async () => {
    const done = await runAll('mutation', [aAdmin, aPlain]);
    await gw.flushUsage();
    const after = await snapshotOf(gw, schema, seeded.targets);
    expect({ leaks: leaksIn(done), crashes: crashesIn(done), changedInB: diffSnapshots(before, after) }).toEqual({ leaks: [], crashes: [], changedInB: [] });
  }, 60_000);

  it('subscriptions: while B generates events, nothing of B reaches A; B itself sees them', async () => {
    const principals = [aAdmin, aPlain, control, teamControl];
    // B's admin has not run the queries yet: they teach it which inner fields it is refused, which would null events
    await runAll('query', [teamControl]);
    let release!: () => void;
    const stop = new Promise<void>((r) => (release = r));
    const connected: Array<Promise<unknown>> = [];
    const running = principals.flatMap((p) => {
      const client = createWsClient(gw.url, p.key);
      clients.push(client);
      connected.push(new Promise((r) => client.on('connected', r)));
      return opsOf('subscription').map((op) => runSubscription(client, op, p, stop, detect));
    });
    // B acts once every socket is acknowledged and its subscribe messages have had time to be served
    await Promise.all(connected);
    await new Promise((r) => setTimeout(r, 500));
    await generateEventsOfB(1);
    await new Promise((r) => setTimeout(r, SUBSCRIPTION_WINDOW_MS));
    release();
    const done = await Promise.all(running);
    outcomes.push(...done);
    expect(leaksIn(done.filter((o) => !isControl(o.principal)))).toEqual([]);
    // the window was long enough for B's events to arrive: B's own keys saw them, on every feed B's admin may open
    expect(done.some((o) => o.principal === control.name && o.leaks.includes(`B's marker ${B_MARKER}`))).toBe(true);
    expect(done.filter((o) => o.principal === teamControl.name && o.result === 'no event').map((o) => o.op.field)).toEqual([]);
  }, 60_000);

  it("control: B's own key reads B's objects where the matrix aims (so A's empty answers mean something)", async () => {
    const done = [...(await runAll('query', [control])), ...(await runAll('mutation', [control]))];
    const fieldsSeeingB = new Set(done.filter((o) => o.leaks.length).map((o) => o.op.field));
    expect(fieldsSeeingB.size).toBeGreaterThan(2);
    expect(crashesIn(done)).toEqual([]);
  }, 60_000);

  it("B's activity changes nothing A's principals read (counts and statuses carry no marker)", async () => {
    const view = async () => {
      const done = await inPool(
        opsOf('query').flatMap((op) => [aAdmin, aPlain].map((p) => ({ op, p }))),
        ({ op, p }) => runOverHttp(gw, op, p, detect, locate),
      );
      return new Map(done.map((o) => [`${o.op.field} (${o.op.label}) as ${o.principal}`, stable(o.answer)]));
    };
    const seen = await view();
    await generateEventsOfB(2);
    const now = await view();
    const changed = [...seen].filter(([k, v]) => now.get(k) !== v);
    expect(changed.map(([k, v]) => `${k}: ${v.slice(0, 300)} → ${now.get(k)?.slice(0, 300)}`)).toEqual([]);
  }, 60_000);

  it('self-check: the snapshot sees a change made to B (run last: it changes B)', async () => {
    const fresh = await snapshotOf(gw, schema, seeded.targets);
    const keyOfB = seeded.targets.idsByType.get('ApiKey')![0];
    const renamed = await gw.gql('mutation($id: ID!) { updateApiKey(id: $id, input: { name: "zzteamBzz renamed" }) { id } }', { id: keyOfB });
    expect(renamed.errors).toBeUndefined();
    const changes = diffSnapshots(fresh, await snapshotOf(gw, schema, seeded.targets));
    expect(changes.some((c) => c.includes('zzteamBzz renamed'))).toBe(true);
  });
});

/**
 * B's activity: a chat with its end user, and what the schema offers besides (a budget crossed, an access request).
 * @param round which of the approval models B asks for, a new one each time
 */
async function generateEventsOfB(round: number): Promise<void> {
  const chat = { model: 'echo', messages: [{ role: 'USER', content: `${B_MARKER} during the window` }], user: `${B_MARKER}-user`, metadata: { tag: `${B_MARKER}-meta` } };
  const runs = [succeeds('chat', gw.gql('mutation($input: ChatInput!) { chat(input: $input) { id } }', { input: chat }, seeded.b.plain))];
  if (hasField(schema, 'Subscription', 'budgetAlerts') && seeded.b.teamId) runs.push(spendOverBudget());
  if (hasField(schema, 'Mutation', 'requestModelAccess') && seeded.b.teamId) {
    const input = { model: seeded.approvalModels[round], reason: `${B_MARKER} asks again` };
    runs.push(succeeds('requestModelAccess', gw.gql('mutation($input: RequestModelAccessInput!) { requestModelAccess(input: $input) { id } }', { input }, seeded.b.admin)));
  }
  await Promise.all(runs);
  await gw.flushUsage();
}

/** A new key of B over its budget at once: its thresholds are crossed and alerted (on the priced model seeding made). */
async function spendOverBudget(): Promise<void> {
  const key = await gw.createKey({ name: `${B_MARKER} window budget`, scopes: ['INVOKE'], limits: { monthlyBudgetUsd: 1 }, team: seeded.b.teamId });
  const input = { model: 'priced-echo', messages: [{ role: 'USER', content: `${B_MARKER} spend` }] };
  await succeeds('a priced chat', gw.gql('mutation($input: ChatInput!) { chat(input: $input) { id } }', { input }, key.secret));
}

/** B's event really happened: otherwise A's silence would prove nothing. */
async function succeeds(what: string, answer: Promise<GqlResponse>): Promise<void> {
  const res = await answer;
  if (res.errors?.length || !res.data) throw new Error(`B's ${what} failed: ${JSON.stringify(res.errors)}`);
}

/** An answer as text without what changes by itself (times, durations, request ids). */
function stable(answer: unknown): string {
  return JSON.stringify(answer, (key, value) => (/At$|Ms$|requestId|locations/.test(key) ? undefined : value));
}
