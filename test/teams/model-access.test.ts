/*
 * Models that require approval: a team asks (requestModelAccess), ADMIN approves or rejects, and the resolve-model
 * step admits or refuses the team's keys with a message that says where the request stands; across two instances.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { CHAT, chatInput, expectCode, ok, waitFor } from '../graphql/helpers.js';
import { dropPrefix, freshDatabase, TEST_DATABASE_URL, TEST_REDIS_URL, uniquePrefix } from '../limits/kit.js';
import { createModel, createTeam, subscribe } from './access-kit.js';

const REQUEST = 'mutation($input: RequestModelAccessInput!) { requestModelAccess(input: $input) { id model reason status decisionNote decidedAt team { id name } } }';
const APPROVE = 'mutation($id: ID!, $note: String) { approveModelAccess(id: $id, note: $note) { id status decisionNote decidedAt } }';
const REJECT = 'mutation($id: ID!, $note: String) { rejectModelAccess(id: $id, note: $note) { id status decisionNote decidedAt } }';
const LIST = 'query($status: ModelAccessStatus) { modelAccessRequests(status: $status) { id model status team { id } } }';
const SUB = 'subscription { modelAccessRequests { id model status team { id } } }';
const MODELS = '{ models { name requiresApproval access } }';

interface RequestOut {
  id: string;
  model: string;
  status: string;
  decisionNote?: string | null;
  decidedAt?: string | null;
  team: { id: string; name?: string };
}

async function chatOn(gw: TestGateway, secret: string, model: string) {
  return gw.gql<{ chat: { message: { content: string } } }>(CHAT, { input: chatInput('hello', { model }) }, secret);
}

function expectRefused(res: Awaited<ReturnType<typeof chatOn>>, message: string) {
  expectCode(res, 'FORBIDDEN');
  expect(res.errors![0].message).toBe(message);
}

async function restModels(gw: TestGateway, secret: string): Promise<string[]> {
  const res = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${secret}` } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { data: Array<{ id: string }> }).data.map((m) => m.id);
}

describe('model access on approval (one instance)', () => {
  let gw: TestGateway;
  let team: { id: string; name: string };
  let other: { id: string; name: string };
  let teamAdmin: string;
  let member: string;
  let otherAdmin: string;
  let loner: string;
  let gated: string;

  beforeAll(async () => {
    gw = await startGateway();
    team = await createTeam(gw);
    other = await createTeam(gw);
    teamAdmin = (await gw.createKey({ name: 'team admin', scopes: ['TEAM_ADMIN', 'INVOKE'], team: team.id })).secret;
    member = (await gw.createKey({ name: 'member', scopes: ['INVOKE'], team: team.id })).secret;
    otherAdmin = (await gw.createKey({ name: 'other admin', scopes: ['TEAM_ADMIN', 'INVOKE'], team: other.id })).secret;
    loner = (await gw.createKey({ name: 'no team', scopes: ['INVOKE'] })).secret;
    gated = await createModel(gw, { requiresApproval: true });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('refuses a model that requires approval before any request, and says how to ask; ADMIN keys invoke it', async () => {
    expectRefused(await chatOn(gw, member, gated), `Model "${gated}" requires approval: a TEAM_ADMIN of your team can request it with requestModelAccess`);
    expectRefused(await chatOn(gw, loner, gated), `Model "${gated}" requires approval, which only keys of a team can be granted`);
    ok(await chatOn(gw, gw.adminKey, gated));
    // GraphQL lists it (so a team sees what it can ask for), REST lists only what the key can invoke
    const listed = ok(await gw.gql<{ models: Array<{ name: string; requiresApproval: boolean; access: string | null }> }>(MODELS, {}, member)).models;
    expect(listed.find((m) => m.name === gated)).toEqual({ name: gated, requiresApproval: true, access: null });
    expect(listed.find((m) => m.name === 'echo')).toEqual({ name: 'echo', requiresApproval: false, access: null });
    expect(await restModels(gw, member)).not.toContain(gated);
    expect(await restModels(gw, member)).toContain('echo');
    expect((await fetch(`${gw.url}/v1/models/${gated}`, { headers: { authorization: `Bearer ${member}` } })).status).toBe(404);
  });

  it('refuses requests that cannot be granted, naming the field', async () => {
    expectCode(await gw.gql(REQUEST, { input: { model: 'echo', reason: 'please' } }, teamAdmin), 'BAD_USER_INPUT', 'input.model');
    expectCode(await gw.gql(REQUEST, { input: { model: 'no-such-model', reason: 'please' } }, teamAdmin), 'MODEL_NOT_FOUND');
    expectCode(await gw.gql(REQUEST, { input: { model: gated, reason: '' } }, teamAdmin), 'BAD_USER_INPUT', 'input.reason');
    expectCode(await gw.gql(REQUEST, { input: { model: gated, reason: 'x'.repeat(2001) } }, teamAdmin), 'BAD_USER_INPUT', 'input.reason');
    // only TEAM_ADMIN (or ADMIN) keys ask, and only for a team
    expectCode(await gw.gql(REQUEST, { input: { model: gated, reason: 'please' } }, member), 'FORBIDDEN');
    expectCode(await gw.gql(REQUEST, { input: { model: gated, reason: 'please' } }, gw.adminKey), 'FORBIDDEN');
    expectCode(await gw.gql(LIST, {}, member), 'FORBIDDEN');
    expectCode(await gw.gql(APPROVE, { id: 'bm90aGluZw==' }, gw.adminKey), 'BAD_USER_INPUT', 'id');
  });

  it('pending → refused as pending; rejected → refused as rejected; asked again → pending; approved → admitted', async () => {
    const live = subscribe<RequestOut>(gw, gw.adminKey, SUB, 'modelAccessRequests');
    const teamLive = subscribe<RequestOut>(gw, otherAdmin, SUB, 'modelAccessRequests');
    await Promise.all([live.ready, teamLive.ready]);
    try {
      const req = ok(await gw.gql<{ requestModelAccess: RequestOut }>(REQUEST, { input: { model: gated, reason: 'we ship with it' } }, teamAdmin)).requestModelAccess;
      expect(req).toMatchObject({ model: gated, status: 'PENDING', decidedAt: null, team: { id: team.id, name: team.name } });
      expectRefused(await chatOn(gw, member, gated), `Access to model "${gated}" is pending approval for team "${team.name}"`);
      const access = ok(await gw.gql<{ models: Array<{ name: string; access: string | null }> }>(MODELS, {}, member)).models.find((m) => m.name === gated);
      expect(access?.access).toBe('PENDING');
      // another team's admin sees neither the request nor the model's status
      expect(ok(await gw.gql<{ modelAccessRequests: RequestOut[] }>(LIST, {}, otherAdmin)).modelAccessRequests).toEqual([]);
      expectCode(await gw.gql(APPROVE, { id: req.id }, otherAdmin), 'FORBIDDEN');
      expectCode(await gw.gql(APPROVE, { id: req.id }, teamAdmin), 'FORBIDDEN');

      const rejected = ok(await gw.gql<{ rejectModelAccess: RequestOut }>(REJECT, { id: req.id, note: 'not this quarter' }, gw.adminKey)).rejectModelAccess;
      expect(rejected).toMatchObject({ id: req.id, status: 'REJECTED', decisionNote: 'not this quarter' });
      expect(rejected.decidedAt).toBeTruthy();
      expectRefused(await chatOn(gw, member, gated), `Access to model "${gated}" was rejected for team "${team.name}"`);

      const again = ok(await gw.gql<{ requestModelAccess: RequestOut }>(REQUEST, { input: { model: gated, reason: 'now with a budget' } }, teamAdmin)).requestModelAccess;
      expect(again).toMatchObject({ id: req.id, status: 'PENDING', decisionNote: null, decidedAt: null });
      expect(ok(await gw.gql<{ modelAccessRequests: RequestOut[] }>(LIST, { status: 'PENDING' }, teamAdmin)).modelAccessRequests.map((r) => r.id)).toEqual([req.id]);

      ok(await gw.gql(APPROVE, { id: req.id, note: 'go' }, gw.adminKey));
      const answer = ok(await chatOn(gw, member, gated));
      expect(answer.chat.message.content).toContain('hello');
      expect(await restModels(gw, member)).toContain(gated);
      expect((await fetch(`${gw.url}/v1/models/${gated}`, { headers: { authorization: `Bearer ${member}` } })).status).toBe(200);
      // approved stays approved when asked again
      const unchanged = ok(await gw.gql<{ requestModelAccess: RequestOut }>(REQUEST, { input: { model: gated, reason: 'again' } }, teamAdmin)).requestModelAccess;
      expect(unchanged).toMatchObject({ id: req.id, status: 'APPROVED', decisionNote: 'go' });
      // a key of another team is still refused: the grant is the team's
      const otherMember = (await gw.createKey({ name: 'other member', scopes: ['INVOKE'], team: other.id })).secret;
      expectRefused(await chatOn(gw, otherMember, gated), `Model "${gated}" requires approval: a TEAM_ADMIN of your team can request it with requestModelAccess`);

      await waitFor(() => live.events.length >= 4, 'four modelAccessRequests events');
      expect(live.events.map((e) => [e.id, e.status])).toEqual([
        [req.id, 'PENDING'],
        [req.id, 'REJECTED'],
        [req.id, 'PENDING'],
        [req.id, 'APPROVED'],
      ]);
      expect(live.errors).toEqual([]);
      // the other team's admin heard none of it
      expect(teamLive.events).toEqual([]);
    } finally {
      await live.close();
      await teamLive.close();
    }
  }, 60_000);

  it('a plain key may not open the modelAccessRequests subscription', async () => {
    const live = subscribe<RequestOut>(gw, member, SUB, 'modelAccessRequests');
    await waitFor(() => live.errors.length > 0, 'the subscription refused');
    expect(JSON.stringify(live.errors)).toContain('FORBIDDEN');
    await live.close();
  });
});

describe.skipIf(!TEST_DATABASE_URL)('model access across two instances (Postgres, and Redis when TEST_REDIS_URL is set)', () => {
  let a: TestGateway;
  let b: TestGateway;
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  const prefix = uniquePrefix();

  beforeAll(async () => {
    db = await freshDatabase(TEST_DATABASE_URL!);
    const env = { DATABASE_URL: db.url, REDIS_URL: TEST_REDIS_URL, KEY_CACHE_TTL_MS: '2000' };
    a = await startGateway(env, { redisPrefix: prefix });
    b = await startGateway(env, { redisPrefix: prefix });
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await db?.drop();
    if (TEST_REDIS_URL) await dropPrefix(TEST_REDIS_URL, prefix);
  });

  it('an approval on instance A admits the team on instance B within the key cache TTL', async () => {
    const team = await createTeam(a);
    const teamAdmin = (await a.createKey({ name: 'team admin', scopes: ['TEAM_ADMIN', 'INVOKE'], team: team.id })).secret;
    const member = (await a.createKey({ name: 'member', scopes: ['INVOKE'], team: team.id })).secret;
    const gated = await createModel(a, { requiresApproval: true });
    // B has the key cached, with nothing granted
    expectRefused(await chatOn(b, member, gated), `Model "${gated}" requires approval: a TEAM_ADMIN of your team can request it with requestModelAccess`);
    const liveB = TEST_REDIS_URL ? subscribe<RequestOut>(b, b.adminKey, SUB, 'modelAccessRequests') : undefined;
    await liveB?.ready;
    try {
      const req = ok(await a.gql<{ requestModelAccess: RequestOut }>(REQUEST, { input: { model: gated, reason: 'needed' } }, teamAdmin)).requestModelAccess;
      expectRefused(await chatOn(b, member, gated), `Access to model "${gated}" is pending approval for team "${team.name}"`);
      ok(await a.gql(APPROVE, { id: req.id }, a.adminKey));
      const started = Date.now();
      await waitFor(async () => (await chatOn(b, member, gated)).data?.chat, 'the approval to reach instance B', 2000 + 3000);
      expect(Date.now() - started).toBeLessThan(5000);
      if (liveB) {
        await waitFor(() => liveB.events.length >= 2, 'both events on instance B');
        expect(liveB.events.map((e) => e.status)).toEqual(['PENDING', 'APPROVED']);
      }
    } finally {
      await liveB?.close();
    }
  });
});
