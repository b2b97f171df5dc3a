/*
 * The call log over GraphQL: logBodies on keys, teams and models; invocation(id:) by invocation id or request id;
 * who sees which invocations (the caller's own, a TEAM_ADMIN its team's, ADMIN all); UsageRecord.invocation;
 * invocations' filters and newest-first pages; refused input.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callLogs } from '../../src/db/schema.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import type { AnyJson } from '../kit/json.js';
import { CHAT, chatInput, expectCode, ok, type ChatOut } from './helpers.js';

let gw: TestGateway;

const INVOCATION = `query($id: ID!) {
  invocation(id: $id) {
    id requestId createdAt level model status traceId bodyBytes truncated parameters request response
    apiKey { id name }
    usageRecord { invocationId promptTokens }
    attempts { attempt model provider upstreamModel startMs waitMs ttfbMs durationMs status outcome error }
  }
}`;
const INVOCATIONS = `query($filter: InvocationFilter, $first: Int, $after: String) {
  invocations(filter: $filter, first: $first, after: $after) {
    edges { cursor node { id requestId createdAt model status level } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}`;

interface InvocationOut {
  id: string;
  requestId: string | null;
  createdAt: string;
  level: string;
  model: string;
  status: string;
  parameters: AnyJson;
  request: AnyJson;
  response: AnyJson;
  apiKey: { id: string; name: string } | null;
  usageRecord: { invocationId: string; promptTokens: number } | null;
  attempts: Array<Record<string, AnyJson>>;
}
type Page = {
  invocations: {
    edges: Array<{ cursor: string; node: { id: string; requestId: string | null; createdAt: string; model: string; status: string; level: string } }>;
    pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
  };
};

/** A chat on `model` by `key`; its invocation id and the request id the caller saw (header and extensions agree). */
async function call(key: string, model: string, text: string): Promise<{ id: string; requestId: string }> {
  const res = await gw.gql<{ chat: ChatOut }>(CHAT, { input: chatInput(text, { model }) }, key);
  const { chat } = ok(res);
  const requestId = res.headers.get('x-request-id')!;
  expect(res.extensions?.requestId).toBe(requestId);
  return { id: chat.id, requestId };
}

const invocation = async (id: string, key: string | null = gw.adminKey) =>
  ok(await gw.gql<{ invocation: InvocationOut | null }>(INVOCATION, { id }, key)).invocation;

async function listIds(filter: Record<string, unknown>, key: string = gw.adminKey): Promise<string[]> {
  const ids: string[] = [];
  let after: string | null = null;
  for (;;) {
    const page: Page = ok(await gw.gql<Page>(INVOCATIONS, { filter, first: 200, after }, key));
    ids.push(...page.invocations.edges.map((e) => e.node.id));
    if (!page.invocations.pageInfo.hasNextPage) return ids;
    after = page.invocations.pageInfo.endCursor;
  }
}

const sorted = (ids: string[]) => [...ids].sort();

const MODEL = 'inv-full';
let team: { id: string };
let teamAdmin: { id: string; uuid: string; secret: string };
let memberA: { id: string; uuid: string; secret: string };
let memberB: { id: string; uuid: string; secret: string };
let outsider: { id: string; uuid: string; secret: string };
const calls: Record<string, Array<{ id: string; requestId: string }>> = {};

beforeAll(async () => {
  gw = await startGateway();
  ok(await gw.gql('mutation { createModel(input: { name: "inv-full", logBodies: FULL, targets: [{ provider: "echo", upstreamModel: "echo" }] }) { id } }'));
  team = ok(await gw.gql<{ createTeam: { id: string } }>('mutation { createTeam(input: { name: "inv-team" }) { id } }')).createTeam;
  teamAdmin = await gw.createKey({ name: 'inv team admin', scopes: ['TEAM_ADMIN', 'INVOKE'], team: team.id });
  memberA = await gw.createKey({ name: 'inv member a', scopes: ['INVOKE'], team: team.id });
  memberB = await gw.createKey({ name: 'inv member b', scopes: ['INVOKE'], team: team.id });
  outsider = await gw.createKey({ name: 'inv outsider', scopes: ['INVOKE'] });
  calls.a = [await call(memberA.secret, MODEL, 'first question of a'), await call(memberA.secret, MODEL, 'second question of a')];
  calls.b = [await call(memberB.secret, MODEL, 'question of b')];
  calls.admin = [await call(teamAdmin.secret, MODEL, 'question of the team admin')];
  calls.outsider = [await call(outsider.secret, MODEL, 'question of the outsider')];
  await gw.flushUsage();
}, 60_000);

afterAll(async () => {
  await gw?.stop();
});

describe('logBodies on keys, teams and models', () => {
  it('is set on create, kept when omitted, changed and cleared (null) on update', async () => {
    const created = ok(
      await gw.gql<{ createApiKey: { apiKey: { id: string; logBodies: string | null } } }>(
        'mutation { createApiKey(input: { name: "lb key", logBodies: METADATA }) { apiKey { id logBodies } } }',
      ),
    ).createApiKey.apiKey;
    expect(created.logBodies).toBe('METADATA');
    const update = (input: string) =>
      gw.gql<{ updateApiKey: { logBodies: string | null } }>(`mutation($id: ID!) { updateApiKey(id: $id, input: ${input}) { logBodies } }`, { id: created.id });
    expect(ok(await update('{ name: "lb key renamed" }')).updateApiKey.logBodies).toBe('METADATA');
    expect(ok(await update('{ logBodies: FULL }')).updateApiKey.logBodies).toBe('FULL');
    expect(ok(await update('{ logBodies: null }')).updateApiKey.logBodies).toBeNull();

    const t = ok(await gw.gql<{ createTeam: { id: string; logBodies: string | null } }>('mutation { createTeam(input: { name: "lb team", logBodies: FULL }) { id logBodies } }')).createTeam;
    expect(t.logBodies).toBe('FULL');
    const updateTeam = (input: string) => gw.gql<{ updateTeam: { logBodies: string | null } }>(`mutation($id: ID!) { updateTeam(id: $id, input: ${input}) { logBodies } }`, { id: t.id });
    expect(ok(await updateTeam('{ description: "x" }')).updateTeam.logBodies).toBe('FULL');
    expect(ok(await updateTeam('{ logBodies: null }')).updateTeam.logBodies).toBeNull();

    const m = ok(await gw.gql<{ createModel: { logBodies: string | null } }>('mutation { createModel(input: { name: "lb-model", logBodies: NONE, targets: [{ provider: "echo", upstreamModel: "echo" }] }) { logBodies } }')).createModel;
    expect(m.logBodies).toBe('NONE');
    expect(ok(await gw.gql<{ updateModel: { logBodies: string | null } }>('mutation { updateModel(name: "lb-model", input: { timeoutMs: 5000 }) { logBodies } }')).updateModel.logBodies).toBe('NONE');
    expect(ok(await gw.gql<{ updateModel: { logBodies: string | null } }>('mutation { updateModel(name: "lb-model", input: { logBodies: METADATA }) { logBodies } }')).updateModel.logBodies).toBe('METADATA');
    expect(ok(await gw.gql<{ models: Array<{ name: string; logBodies: string | null }> }>('{ models { name logBodies } }')).models.find((x) => x.name === 'inv-full')?.logBodies).toBe('FULL');
  });

  it("who may edit a key sets it: a TEAM_ADMIN its team's keys; an INVOKE key not even its own", async () => {
    const key = await gw.createKey({ name: 'lb member', scopes: ['INVOKE'], team: team.id });
    const set = (as: string) => gw.gql<{ updateApiKey: { logBodies: string | null } }>('mutation($id: ID!) { updateApiKey(id: $id, input: { logBodies: FULL }) { logBodies } }', { id: key.id }, as);
    expect(ok(await set(teamAdmin.secret)).updateApiKey.logBodies).toBe('FULL');
    expectCode(await set(key.secret), 'FORBIDDEN');
    expectCode(await gw.gql('mutation($id: ID!) { updateTeam(id: $id, input: { logBodies: FULL }) { id } }', { id: team.id }, teamAdmin.secret), 'FORBIDDEN');
  });

  it('the lowest level set applies: a METADATA key on a FULL model keeps no bodies', async () => {
    const key = await gw.createKey({ name: 'lb metadata', scopes: ['INVOKE'], logBodies: 'METADATA' });
    const { id } = await call(key.secret, MODEL, 'private words here');
    await gw.flushUsage();
    const inv = await invocation(id, key.secret);
    expect(inv).toMatchObject({ id, level: 'METADATA', request: null, response: null });
    expect(JSON.stringify(inv)).not.toContain('private words');
  });
});

describe('invocation(id:)', () => {
  it('finds an invocation by its id and by its request id, with its bodies, attempts, key and usage record', async () => {
    const [first] = calls.a;
    const byId = (await invocation(first.id, memberA.secret))!;
    expect(byId).toMatchObject({ id: first.id, requestId: first.requestId, level: 'FULL', model: MODEL, status: 'OK', apiKey: { id: memberA.id } });
    expect(JSON.stringify(byId.request)).toContain('first question of a');
    expect(JSON.stringify(byId.response)).toContain('first question of a');
    expect(byId.usageRecord).toMatchObject({ invocationId: first.id });
    expect(byId.attempts).toHaveLength(1);
    expect(byId.attempts[0]).toMatchObject({ attempt: 1, model: MODEL, provider: 'echo', upstreamModel: 'echo', waitMs: 0, outcome: 'OK', error: null });
    const byRequest = await invocation(first.requestId, memberA.secret);
    expect(byRequest?.id).toBe(first.id);
    expect(await invocation(randomUUID(), memberA.secret)).toBeNull();
    expect(await invocation('no-such-request', memberA.secret)).toBeNull();
  });

  it('a request id that made several invocations answers the newest', async () => {
    const key = await gw.createKey({ name: 'inv retrying', scopes: ['INVOKE'] });
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${key.secret}`, 'x-request-id': `same-req-${randomUUID()}` };
    const ids: string[] = [];
    for (const text of ['older', 'newer']) {
      const res = await fetch(`${gw.url}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query: CHAT, variables: { input: chatInput(text, { model: MODEL }) } }) });
      ids.push(((await res.json()) as { data: { chat: ChatOut } }).data.chat.id);
    }
    await gw.flushUsage();
    expect((await invocation(headers['x-request-id'], key.secret))?.id).toBe(ids[1]);
    expect(sorted(await listIds({ requestId: headers['x-request-id'] }, key.secret))).toEqual(sorted(ids));
  });

  it("an INVOKE key sees only its own: another key's invocation is null by id and by request id, and not listed", async () => {
    for (const other of [...calls.b, ...calls.admin, ...calls.outsider]) {
      expect(await invocation(other.id, memberA.secret)).toBeNull();
      expect(await invocation(other.requestId, memberA.secret)).toBeNull();
    }
    expect(sorted(await listIds({ model: MODEL }, memberA.secret))).toEqual(sorted(calls.a.map((c) => c.id)));
  });

  it("a TEAM_ADMIN sees its team's, not another's; ADMIN sees all", async () => {
    const team = [...calls.a, ...calls.b, ...calls.admin].map((c) => c.id);
    expect(sorted(await listIds({ model: MODEL }, teamAdmin.secret))).toEqual(sorted(team));
    expect((await invocation(calls.b[0].id, teamAdmin.secret))?.apiKey?.id).toBe(memberB.id);
    expect(await invocation(calls.outsider[0].id, teamAdmin.secret)).toBeNull();
    const all = [...team, calls.outsider[0].id];
    expect(sorted((await listIds({ model: MODEL })).filter((id) => all.includes(id)))).toEqual(sorted(all));
    expect((await invocation(calls.outsider[0].id))?.apiKey?.id).toBe(outsider.id);
  });

  it("UsageRecord.invocation is the record's call log entry, batched for a page of records", async () => {
    const usage = ok(
      await gw.gql<{ usage: { edges: Array<{ node: { invocationId: string; invocation: { id: string; level: string; model: string } | null } }> } }>(
        `query($filter: UsageFilter) { usage(filter: $filter, first: 50) { edges { node { invocationId invocation { id level model } } } } }`,
        { filter: { model: MODEL } },
      ),
    ).usage.edges.map((e) => e.node);
    expect(usage.length).toBeGreaterThanOrEqual(5);
    for (const r of usage) expect(r.invocation).toMatchObject({ id: r.invocationId, model: MODEL });
    // a call that was not logged (echo: no logBodies anywhere) has a record and no invocation
    const key = await gw.createKey({ name: 'inv unlogged', scopes: ['INVOKE', 'READ_USAGE'] });
    ok(await gw.gql(CHAT, { input: chatInput('not logged') }, key.secret));
    await gw.flushUsage();
    const own = ok(await gw.gql<{ usage: { edges: Array<{ node: { invocation: unknown } }> } }>('{ usage(first: 5) { edges { node { invocation { id } } } } }', {}, key.secret));
    expect(own.usage.edges).toHaveLength(1);
    expect(own.usage.edges[0].node.invocation).toBeNull();
  });
});

describe('invocations: filters and pages', () => {
  const SEEDED = 'inv-seeded';
  const base = Date.parse('2026-01-10T12:00:00.000Z');
  /** Rows written straight into call_logs: times and statuses a test chooses. */
  let seeded: Array<{ id: string; createdAt: Date; status: string; apiKeyId: string }>;

  beforeAll(async () => {
    const at = (min: number) => new Date(base + min * 60_000);
    const tie = at(5);
    seeded = [
      { id: randomUUID(), createdAt: at(0), status: 'OK', apiKeyId: memberA.uuid },
      { id: randomUUID(), createdAt: at(1), status: 'ERROR', apiKeyId: memberA.uuid },
      { id: randomUUID(), createdAt: at(2), status: 'OK', apiKeyId: memberB.uuid },
      { id: randomUUID(), createdAt: at(3), status: 'RATE_LIMITED', apiKeyId: memberA.uuid },
      { id: randomUUID(), createdAt: tie, status: 'OK', apiKeyId: memberA.uuid },
      { id: randomUUID(), createdAt: tie, status: 'OK', apiKeyId: memberB.uuid },
      { id: randomUUID(), createdAt: at(9), status: 'CANCELLED', apiKeyId: memberA.uuid },
    ];
    await gw.app.services.database.db.insert(callLogs).values(
      seeded.map((r) => ({
        ...r,
        requestId: `seed-${r.id}`,
        teamId: null,
        model: SEEDED,
        level: 'METADATA',
        attempts: [],
        search: sql`to_tsvector('simple', 'seeded row')`,
      })),
    );
  });

  /** Newest first: created_at desc, then id desc. */
  const expectedOrder = (rows: typeof seeded) =>
    [...rows].sort((x, y) => y.createdAt.getTime() - x.createdAt.getTime() || (y.id > x.id ? 1 : y.id < x.id ? -1 : 0)).map((r) => r.id);

  it('pages newest first by first/after, every row once, ties on the same instant in id order', async () => {
    const ids: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const page: Page = ok(await gw.gql<Page>(INVOCATIONS, { filter: { model: SEEDED }, first: 3, after }));
      const { edges, pageInfo } = page.invocations;
      pages++;
      expect(pageInfo.hasPreviousPage).toBe(after !== null);
      expect(pageInfo.endCursor).toBe(edges.at(-1)?.cursor ?? null);
      ids.push(...edges.map((e) => e.node.id));
      if (!pageInfo.hasNextPage) break;
      after = pageInfo.endCursor;
    }
    expect(pages).toBe(3);
    expect(ids).toEqual(expectedOrder(seeded));
    const empty = ok(await gw.gql<Page>(INVOCATIONS, { filter: { model: SEEDED }, first: 0 }));
    expect(empty.invocations).toEqual({ edges: [], pageInfo: { hasNextPage: true, hasPreviousPage: false, startCursor: null, endCursor: null } });
  });

  it('each filter narrows: key, model, status, time range, request id', async () => {
    const expectIds = async (filter: Record<string, unknown>, pick: (r: (typeof seeded)[number]) => boolean) =>
      expect(await listIds({ model: SEEDED, ...filter })).toEqual(expectedOrder(seeded.filter(pick)));
    await expectIds({}, () => true);
    await expectIds({ apiKeyId: memberB.id }, (r) => r.apiKeyId === memberB.uuid);
    await expectIds({ status: 'OK' }, (r) => r.status === 'OK');
    await expectIds({ status: 'CANCELLED' }, (r) => r.status === 'CANCELLED');
    await expectIds({ from: new Date(base + 2 * 60_000).toISOString() }, (r) => r.createdAt.getTime() >= base + 2 * 60_000);
    await expectIds({ to: new Date(base + 5 * 60_000).toISOString() }, (r) => r.createdAt.getTime() < base + 5 * 60_000);
    await expectIds(
      { from: new Date(base + 1 * 60_000).toISOString(), to: new Date(base + 3 * 60_000).toISOString(), status: 'OK' },
      (r) => r.status === 'OK' && r.createdAt.getTime() >= base + 60_000 && r.createdAt.getTime() < base + 3 * 60_000,
    );
    await expectIds({ requestId: `seed-${seeded[3].id}` }, (r) => r.id === seeded[3].id);
    expect(await listIds({ model: 'no-such-model' })).toEqual([]);
    // the real calls: one key's, by model
    expect(sorted(await listIds({ model: MODEL, apiKeyId: memberA.id }))).toEqual(sorted(calls.a.map((c) => c.id)));
  });

  it("filters only narrow the caller's scope: a key naming another key's id gets nothing", async () => {
    expect(await listIds({ model: SEEDED, apiKeyId: memberA.id }, memberB.secret)).toEqual([]);
    expect(await listIds({ model: SEEDED }, memberB.secret)).toEqual(expectedOrder(seeded.filter((r) => r.apiKeyId === memberB.uuid)));
  });

  it('refuses bad input with BAD_USER_INPUT naming the argument', async () => {
    const q = (variables: Record<string, unknown>) => gw.gql(INVOCATIONS, variables);
    expectCode(await q({ filter: { search: '   ' } }), 'BAD_USER_INPUT', 'filter.search');
    expectCode(await q({ filter: { search: 'x'.repeat(501) } }), 'BAD_USER_INPUT', 'filter.search');
    expectCode(await q({ first: 201 }), 'BAD_USER_INPUT', 'first');
    expectCode(await q({ first: -1 }), 'BAD_USER_INPUT', 'first');
    expectCode(await q({ after: 'not-a-cursor' }), 'BAD_USER_INPUT', 'after');
    expectCode(await q({ filter: { from: '2026-02-01T00:00:00Z', to: '2026-01-01T00:00:00Z' } }), 'BAD_USER_INPUT', 'filter.from');
    expectCode(await q({ filter: { apiKeyId: 'bm90IGEga2V5' } }), 'BAD_USER_INPUT', 'filter.apiKeyId');
    ok(await q({ first: 200, filter: { search: 'x'.repeat(500) } }));
    expectCode(await gw.gql(INVOCATIONS, {}, null), 'UNAUTHENTICATED');
  });
});
