/*
 * What a TEAM_ADMIN may not do over HTTP, found in review: widen a key's cache scope, remove ADMIN's guardrail
 * policies or expiry from its team's keys, read its team's month to date as a plain key, tell another team's prompt
 * names from the gateway's; and fallbacks and budget alerts honour the same access rules.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { CHAT, expectCode, ok } from '../graphql/helpers.js';
import { closedPort } from '../gateway/helpers.js';

let gw: TestGateway;
let seq = 0;
const unique = (base: string) => `${base}-${process.pid}-${++seq}`;

// ApiKey.guardrailPolicies is ADMIN's to read: ADMIN reads them back (readKey)
const KEY_FIELDS = 'id expiresAt cache { mode ttlSeconds scope }';
const CREATE_KEY = `mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret apiKey { ${KEY_FIELDS} } } }`;
const UPDATE_KEY = `mutation($id: ID!, $input: UpdateApiKeyInput!) { updateApiKey(id: $id, input: $input) { ${KEY_FIELDS} } }`;
const NODE_KEY = `query($id: ID!) { node(id: $id) { ... on ApiKey { ${KEY_FIELDS} guardrailPolicies { name } } } }`;

interface KeyOut {
  id: string;
  expiresAt: string | null;
  cache: { mode: string; ttlSeconds: number | null; scope: string | null };
  guardrailPolicies?: Array<{ name: string }>;
}

async function teamWithAdmin(input: Record<string, unknown> = {}) {
  const team = ok(await gw.gql<{ createTeam: { id: string } }>('mutation($input: CreateTeamInput!) { createTeam(input: $input) { id } }', { input: { name: unique('team'), ...input } })).createTeam;
  const admin = await gw.createKey({ name: 'team admin', team: team.id, scopes: ['TEAM_ADMIN', 'INVOKE'] });
  const member = await gw.createKey({ name: 'member', team: team.id });
  return { team, admin, member };
}

const readKey = async (id: string) => ok(await gw.gql<{ node: KeyOut }>(NODE_KEY, { id })).node;

async function createPolicy(): Promise<string> {
  const name = unique('policy');
  ok(await gw.gql('mutation($i: CreateGuardrailPolicyInput!) { createGuardrailPolicy(input: $i) { id } }', { i: { name, input: { maxInputTokens: 100000 } } }));
  return name;
}

const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();

beforeAll(async () => {
  gw = await startGateway();
});

afterAll(async () => {
  await gw?.stop();
});

describe("a TEAM_ADMIN cannot loosen ADMIN's controls of its team's keys", () => {
  it('cache scope: only ADMIN sets it; a TEAM_ADMIN sets mode and ttl, and keeps the scope ADMIN gave', async () => {
    const { admin, member } = await teamWithAdmin();
    expectCode(await gw.gql(CREATE_KEY, { input: { name: 'global', cache: { mode: 'EXACT', scope: 'GLOBAL' } } }, admin.secret), 'FORBIDDEN', 'input.cache.scope');
    expectCode(await gw.gql(UPDATE_KEY, { id: member.id, input: { cache: { scope: 'GLOBAL' } } }, admin.secret), 'FORBIDDEN', 'input.cache.scope');
    expectCode(await gw.gql(UPDATE_KEY, { id: admin.id, input: { cache: { mode: 'EXACT', scope: 'GLOBAL' } } }, admin.secret), 'FORBIDDEN', 'input.cache.scope');
    expect((await readKey(member.id)).cache.scope).toBe('KEY');
    const made = ok(await gw.gql<{ createApiKey: { apiKey: KeyOut } }>(CREATE_KEY, { input: { name: 'exact', cache: { mode: 'EXACT', ttlSeconds: 60 } } }, admin.secret));
    expect(made.createApiKey.apiKey.cache).toEqual({ mode: 'EXACT', ttlSeconds: 60, scope: 'KEY' });

    // ADMIN widens one; its TEAM_ADMIN changing the mode or clearing the policy leaves the scope alone
    ok(await gw.gql(UPDATE_KEY, { id: member.id, input: { cache: { mode: 'EXACT', scope: 'GLOBAL' } } }));
    const changed = ok(await gw.gql<{ updateApiKey: KeyOut }>(UPDATE_KEY, { id: member.id, input: { cache: { mode: 'OFF', ttlSeconds: 30 } } }, admin.secret));
    expect(changed.updateApiKey.cache).toEqual({ mode: 'OFF', ttlSeconds: 30, scope: 'GLOBAL' });
    const cleared = ok(await gw.gql<{ updateApiKey: KeyOut }>(UPDATE_KEY, { id: member.id, input: { cache: null } }, admin.secret));
    expect(cleared.updateApiKey.cache).toEqual({ mode: 'OFF', ttlSeconds: null, scope: 'GLOBAL' });
  });

  it('guardrail policies: it may add some, never remove one (its own key included)', async () => {
    const { admin, member } = await teamWithAdmin();
    const [p1, p2, p3] = [await createPolicy(), await createPolicy(), await createPolicy()];
    for (const k of [member, admin]) ok(await gw.gql(UPDATE_KEY, { id: k.id, input: { guardrailPolicies: [p1, p2] } }));
    for (const k of [member, admin]) {
      expectCode(await gw.gql(UPDATE_KEY, { id: k.id, input: { guardrailPolicies: [] } }, admin.secret), 'FORBIDDEN', 'input.guardrailPolicies');
      expectCode(await gw.gql(UPDATE_KEY, { id: k.id, input: { guardrailPolicies: [p1, p3] } }, admin.secret), 'FORBIDDEN', 'input.guardrailPolicies');
      expect((await readKey(k.id)).guardrailPolicies!.map((p) => p.name).sort()).toEqual([p1, p2].sort());
    }
    ok(await gw.gql(UPDATE_KEY, { id: member.id, input: { guardrailPolicies: [p2, p3, p1] } }, admin.secret));
    expect((await readKey(member.id)).guardrailPolicies!.map((p) => p.name).sort()).toEqual([p1, p2, p3].sort());
    // a new key of its own has nothing to remove yet
    const made = ok(await gw.gql<{ createApiKey: { apiKey: KeyOut } }>(CREATE_KEY, { input: { name: 'own', guardrailPolicies: [p3] } }, admin.secret));
    expect((await readKey(made.createApiKey.apiKey.id)).guardrailPolicies).toEqual([{ name: p3 }]);
    ok(await gw.gql(UPDATE_KEY, { id: made.createApiKey.apiKey.id, input: { guardrailPolicies: [] } }));
  });

  it('expiry: it may set one or bring it forward, never clear or postpone it', async () => {
    const { admin, member } = await teamWithAdmin();
    const set = ok(await gw.gql<{ updateApiKey: KeyOut }>(UPDATE_KEY, { id: member.id, input: { expiresAt: inDays(10) } }, admin.secret)).updateApiKey.expiresAt;
    expect(set).not.toBeNull();
    ok(await gw.gql(UPDATE_KEY, { id: admin.id, input: { expiresAt: inDays(10) } }));
    for (const k of [member, admin]) {
      const before = (await readKey(k.id)).expiresAt;
      expectCode(await gw.gql(UPDATE_KEY, { id: k.id, input: { expiresAt: null } }, admin.secret), 'FORBIDDEN', 'input.expiresAt');
      expectCode(await gw.gql(UPDATE_KEY, { id: k.id, input: { expiresAt: inDays(20) } }, admin.secret), 'FORBIDDEN', 'input.expiresAt');
      expect((await readKey(k.id)).expiresAt).toBe(before);
    }
    const earlier = ok(await gw.gql<{ updateApiKey: KeyOut }>(UPDATE_KEY, { id: member.id, input: { expiresAt: inDays(5) } }, admin.secret)).updateApiKey.expiresAt;
    expect(new Date(earlier!).getTime()).toBeLessThan(new Date(set!).getTime());
    // ADMIN still may
    expect(ok(await gw.gql<{ updateApiKey: KeyOut }>(UPDATE_KEY, { id: member.id, input: { expiresAt: null } })).updateApiKey.expiresAt).toBeNull();
  });
});

describe('Team.monthToDate', () => {
  it("is for ADMIN and the team's TEAM_ADMIN; the team's other keys get null with FORBIDDEN", async () => {
    const { team, admin, member } = await teamWithAdmin();
    const MTD = 'query($id: ID!) { team(id: $id) { name monthToDate { requests } } }';
    expect(ok(await gw.gql<{ team: { monthToDate: { requests: number } } }>(MTD, { id: team.id })).team.monthToDate).toEqual({ requests: 0 });
    expect(ok(await gw.gql<{ team: { monthToDate: { requests: number } } }>(MTD, { id: team.id }, admin.secret)).team.monthToDate).toEqual({ requests: 0 });
    const res = await gw.gql<{ team: { name: string; monthToDate: unknown } }>(MTD, { id: team.id }, member.secret);
    expectCode(res, 'FORBIDDEN');
    expect(res.data?.team.name).toBeTruthy();
    expect(res.data?.team.monthToDate).toBeNull();
  });
});

describe('prompt names a TEAM_ADMIN does not own', () => {
  it("are refused alike, whether another team's or the gateway's", async () => {
    const a = await teamWithAdmin();
    const b = await teamWithAdmin();
    const CREATE_PROMPT = 'mutation($input: CreatePromptInput!) { createPrompt(input: $input) { version team { id } } }';
    const prompt = (name: string) => ({ name, model: 'echo', messages: [{ role: 'USER', content: 'hi' }] });
    const teams = unique('teams');
    const gateways = unique('gateways');
    ok(await gw.gql(CREATE_PROMPT, { input: prompt(teams) }, b.admin.secret));
    ok(await gw.gql(CREATE_PROMPT, { input: prompt(gateways) }));
    const refusal = async (name: string) => {
      const res = await gw.gql(CREATE_PROMPT, { input: prompt(name) }, a.admin.secret);
      expectCode(res, 'FORBIDDEN');
      return res.errors![0].message.replace(name, '<name>');
    };
    expect(await refusal(teams)).toBe(await refusal(gateways));
  });
});

describe('fallback models', () => {
  it("skip those the caller's key or team may not invoke, or that need an approval its team lacks", async () => {
    const provider = unique('dead');
    ok(await gw.gql('mutation($input: CreateProviderInput!) { createProvider(input: $input) { id } }', { input: { name: provider, kind: 'OPENAI_COMPATIBLE', baseUrl: `http://127.0.0.1:${await closedPort()}/v1`, apiKey: 'sk-x' } }));
    const model = async (name: string, input: Record<string, unknown>) => {
      ok(await gw.gql('mutation($input: CreateModelInput!) { createModel(input: $input) { id } }', { input: { name, ...input } }));
      return name;
    };
    const echo = (upstreamModel: string) => ({ targets: [{ provider: 'echo', upstreamModel }] });
    const approval = await model(unique('needs-approval'), { ...echo('approval-up'), requiresApproval: true });
    const unlisted = await model(unique('unlisted'), echo('unlisted-up'));
    const allowed = await model(unique('allowed'), echo('allowed-up'));
    const primary = await model(unique('primary'), { targets: [{ provider, upstreamModel: 'x' }], fallbacks: [approval, unlisted, allowed] });
    const { member } = await teamWithAdmin({ allowedModels: [primary, approval, allowed] });
    const ask = async (key?: string) =>
      ok(await gw.gql<{ chat: { model: string; upstreamModel: string } }>(CHAT, { input: { model: primary, messages: [{ role: 'USER', content: 'hi' }] } }, key)).chat;
    expect(await ask(member.secret)).toMatchObject({ model: primary, upstreamModel: 'allowed-up' });
    // ADMIN may invoke every model: the first fallback answers
    expect(await ask()).toMatchObject({ model: primary, upstreamModel: 'approval-up' });
    // a key whose own list leaves out the last one has nothing left to fall back to
    const narrow = await gw.createKey({ allowedModels: [primary, unlisted] });
    expect(await ask(narrow.secret)).toMatchObject({ upstreamModel: 'unlisted-up' });
    const none = await gw.createKey({ allowedModels: [primary] });
    expectCode(await gw.gql(CHAT, { input: { model: primary, messages: [{ role: 'USER', content: 'hi' }] } }, none.secret), 'UPSTREAM_ERROR');
  });
});
