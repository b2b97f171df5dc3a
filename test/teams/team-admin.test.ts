/*
 * TEAM_ADMIN over HTTP: a team admin manages its own team's keys and prompts within the team's limits and models,
 * and nothing of another team; a team's model list narrows its keys' on GraphQL and REST.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { CHAT, chatInput, expectCode, ok } from '../graphql/helpers.js';

let gw: TestGateway;
let seq = 0;
const unique = (base: string) => `${base}-${process.pid}-${++seq}`;

interface Team {
  id: string;
  name: string;
}

const LIMITS = '{ requestsPerMinute tokensPerMinute tokensPerDay monthlyBudgetUsd }';
const KEY_FIELDS = `id name scopes allowedModels limits ${LIMITS} endUserLimits ${LIMITS} revokedAt team { id }`;
const CREATE_KEY = `mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret apiKey { ${KEY_FIELDS} } } }`;
const UPDATE_KEY = `mutation($id: ID!, $input: UpdateApiKeyInput!) { updateApiKey(id: $id, input: $input) { ${KEY_FIELDS} } }`;
const REVOKE_KEY = `mutation($id: ID!) { revokeApiKey(id: $id) { ${KEY_FIELDS} } }`;
const ROTATE_KEY = `mutation($id: ID!) { rotateApiKey(id: $id) { secret apiKey { id } } }`;
const NODE_KEY = `query($id: ID!) { node(id: $id) { ... on ApiKey { ${KEY_FIELDS} } } }`;
const CREATE_PROMPT = `mutation($input: CreatePromptInput!) { createPrompt(input: $input) { id name version team { id } } }`;
const PROMPTS = '{ prompts { name team { id } } }';
const ONE_PROMPT = 'query($n: String!) { prompt(name: $n) { name version } }';
const RUN = 'mutation($n: String!) { runPrompt(name: $n) { message { content } } }';

interface KeyOut {
  id: string;
  name: string;
  scopes: string[];
  allowedModels: string[] | null;
  limits: Record<string, number | null>;
  endUserLimits: Record<string, number | null>;
  revokedAt: string | null;
  team: { id: string } | null;
}

async function createTeam(input: Record<string, unknown> = {}): Promise<Team> {
  const d = ok(await gw.gql<{ createTeam: Team }>('mutation($input: CreateTeamInput!) { createTeam(input: $input) { id name } }', { input: { name: unique('team'), ...input } }));
  return d.createTeam;
}

/** A team with limits and a model list, its TEAM_ADMIN and one INVOKE key of it. */
async function teamWithAdmin(input: Record<string, unknown> = {}) {
  const team = await createTeam(input);
  const admin = await gw.createKey({ name: 'team admin', team: team.id, scopes: ['TEAM_ADMIN', 'INVOKE'] });
  const member = await gw.createKey({ name: 'member', team: team.id });
  return { team, admin, member };
}

async function readKey(id: string): Promise<KeyOut> {
  return ok(await gw.gql<{ node: KeyOut }>(NODE_KEY, { id })).node;
}

const prompt = (name: string, model = 'echo') => ({ name, model, messages: [{ role: 'USER', content: `${name} says hi` }] });

beforeAll(async () => {
  gw = await startGateway();
  ok(await gw.gql('mutation { createModel(input: { name: "echo-2", targets: [{ provider: "echo", upstreamModel: "echo" }] }) { id } }'));
});

afterAll(async () => {
  await gw?.stop();
});

describe("a TEAM_ADMIN manages its own team's keys", () => {
  it('creates keys that always join its team, updates, rotates and revokes them', async () => {
    const { team, admin } = await teamWithAdmin({ limits: { requestsPerMinute: 100 } });
    const created = ok(await gw.gql<{ createApiKey: { secret: string; apiKey: KeyOut } }>(CREATE_KEY, { input: { name: 'made by team admin' } }, admin.secret)).createApiKey;
    expect(created.apiKey.team).toEqual({ id: team.id });
    expect(created.apiKey.scopes).toEqual(['INVOKE']);
    // naming its own team explicitly is the same
    const explicit = ok(await gw.gql<{ createApiKey: { apiKey: KeyOut } }>(CREATE_KEY, { input: { name: 'explicit', team: team.id } }, admin.secret));
    expect(explicit.createApiKey.apiKey.team).toEqual({ id: team.id });
    ok(await gw.gql(CHAT, { input: chatInput('works') }, created.secret));

    const updated = ok(
      await gw.gql<{ updateApiKey: KeyOut }>(UPDATE_KEY, { id: created.apiKey.id, input: { name: 'renamed', limits: { requestsPerMinute: 50 }, scopes: ['INVOKE', 'READ_USAGE'] } }, admin.secret),
    ).updateApiKey;
    expect(updated.name).toBe('renamed');
    expect(updated.limits.requestsPerMinute).toBe(50);
    expect(updated.scopes.sort()).toEqual(['INVOKE', 'READ_USAGE']);

    const rotated = ok(await gw.gql<{ rotateApiKey: { secret: string } }>(ROTATE_KEY, { id: created.apiKey.id }, admin.secret)).rotateApiKey;
    expectCode(await gw.gql(CHAT, { input: chatInput('old secret') }, created.secret), 'UNAUTHENTICATED');
    ok(await gw.gql(CHAT, { input: chatInput('new secret') }, rotated.secret));

    const revoked = ok(await gw.gql<{ revokeApiKey: KeyOut }>(REVOKE_KEY, { id: created.apiKey.id }, admin.secret)).revokeApiKey;
    expect(revoked.revokedAt).not.toBeNull();
    expectCode(await gw.gql(CHAT, { input: chatInput('revoked') }, rotated.secret), 'UNAUTHENTICATED');
  });

  it("apiKeys lists its team's keys only; node reads them, and no other team's", async () => {
    const a = await teamWithAdmin();
    const b = await teamWithAdmin();
    const loner = await gw.createKey({ name: 'no team' });
    const listed = ok(await gw.gql<{ apiKeys: Array<{ id: string }> }>('{ apiKeys { id } }', {}, a.admin.secret)).apiKeys.map((k) => k.id);
    expect(listed.sort()).toEqual([a.admin.id, a.member.id].sort());
    expect(ok(await gw.gql<{ node: { id: string } }>(NODE_KEY, { id: a.member.id }, a.admin.secret)).node.id).toBe(a.member.id);
    for (const other of [b.member.id, b.admin.id, loner.id]) {
      const res = await gw.gql<{ node: unknown }>(NODE_KEY, { id: other }, a.admin.secret);
      expectCode(res, 'FORBIDDEN');
      expect(res.data?.node).toBeNull();
    }
    // a plain key of the team still reads only itself and lists nothing
    expectCode(await gw.gql('{ apiKeys { id } }', {}, a.member.secret), 'FORBIDDEN');
    expectCode(await gw.gql(NODE_KEY, { id: a.admin.id }, a.member.secret), 'FORBIDDEN');
  });

  it("cannot touch another team's keys, nor keys without team: NOT_FOUND, and they stay as they were", async () => {
    const a = await teamWithAdmin();
    const b = await teamWithAdmin();
    const loner = await gw.createKey({ name: 'no team' });
    for (const victim of [b.member, loner]) {
      const before = await readKey(victim.id);
      expectCode(await gw.gql(UPDATE_KEY, { id: victim.id, input: { name: 'hijacked', allowedModels: ['nothing'] } }, a.admin.secret), 'NOT_FOUND');
      expectCode(await gw.gql(ROTATE_KEY, { id: victim.id }, a.admin.secret), 'NOT_FOUND');
      expectCode(await gw.gql(REVOKE_KEY, { id: victim.id }, a.admin.secret), 'NOT_FOUND');
      expect(await readKey(victim.id)).toEqual(before);
      ok(await gw.gql(CHAT, { input: chatInput('still mine') }, victim.secret));
    }
    // nor move its own key into another team, nor create one there
    expectCode(await gw.gql(UPDATE_KEY, { id: a.member.id, input: { team: b.team.id } }, a.admin.secret), 'FORBIDDEN');
    expectCode(await gw.gql(UPDATE_KEY, { id: a.member.id, input: { team: null } }, a.admin.secret), 'FORBIDDEN');
    expectCode(await gw.gql(CREATE_KEY, { input: { name: 'smuggled', team: b.team.id } }, a.admin.secret), 'FORBIDDEN');
    expect((await readKey(a.member.id)).team).toEqual({ id: a.team.id });
    const bKeys = ok(await gw.gql<{ team: { apiKeys: Array<{ id: string }> } }>('query($id: ID!) { team(id: $id) { apiKeys { id } } }', { id: b.team.id })).team.apiKeys;
    expect(bKeys.map((k) => k.id).sort()).toEqual([b.admin.id, b.member.id].sort());
  });

  it('cannot grant ADMIN, nor change an ADMIN key of its team', async () => {
    const { team, admin, member } = await teamWithAdmin();
    expectCode(await gw.gql(CREATE_KEY, { input: { name: 'escalate', scopes: ['ADMIN'] } }, admin.secret), 'FORBIDDEN');
    expectCode(await gw.gql(UPDATE_KEY, { id: member.id, input: { scopes: ['INVOKE', 'ADMIN'] } }, admin.secret), 'FORBIDDEN');
    expect((await readKey(member.id)).scopes).toEqual(['INVOKE']);
    const teamAdminKeys = ok(await gw.gql<{ apiKeys: Array<{ scopes: string[] }> }>('{ apiKeys { scopes } }', {}, admin.secret)).apiKeys;
    expect(teamAdminKeys.some((k) => k.scopes.includes('ADMIN'))).toBe(false);

    const operator = await gw.createKey({ name: 'operator in team', team: team.id, scopes: ['ADMIN'] });
    expectCode(await gw.gql(REVOKE_KEY, { id: operator.id }, admin.secret), 'NOT_FOUND');
    expectCode(await gw.gql(UPDATE_KEY, { id: operator.id, input: { scopes: ['INVOKE'] } }, admin.secret), 'NOT_FOUND');
    expect((await readKey(operator.id)).revokedAt).toBeNull();
  });

  it("cannot exceed the team's limits or models, each refusal naming the field", async () => {
    const { admin, member } = await teamWithAdmin({
      limits: { requestsPerMinute: 10, monthlyBudgetUsd: 5 },
      endUserLimits: { tokensPerDay: 100 },
      allowedModels: ['echo'],
    });
    const tryCreate = (input: Record<string, unknown>) => gw.gql(CREATE_KEY, { input: { name: 'too much', ...input } }, admin.secret);
    expectCode(await tryCreate({ limits: { requestsPerMinute: 11 } }), 'BAD_USER_INPUT', 'input.limits.requestsPerMinute');
    expectCode(await tryCreate({ limits: { monthlyBudgetUsd: 5.01 } }), 'BAD_USER_INPUT', 'input.limits.monthlyBudgetUsd');
    expectCode(await tryCreate({ endUserLimits: { tokensPerDay: 101 } }), 'BAD_USER_INPUT', 'input.endUserLimits.tokensPerDay');
    expectCode(await tryCreate({ allowedModels: ['echo', 'echo-2'] }), 'BAD_USER_INPUT', 'input.allowedModels[1]');
    expectCode(await gw.gql(UPDATE_KEY, { id: member.id, input: { limits: { requestsPerMinute: 1000 } } }, admin.secret), 'BAD_USER_INPUT', 'input.limits.requestsPerMinute');
    expect((await readKey(member.id)).limits.requestsPerMinute).toBeNull();

    // within the team's, or on limits the team does not set, is fine
    const fine = ok(
      await gw.gql<{ createApiKey: { apiKey: KeyOut } }>(
        CREATE_KEY,
        { input: { name: 'within', limits: { requestsPerMinute: 10, tokensPerMinute: 999_999 }, endUserLimits: { tokensPerDay: 100 }, allowedModels: ['echo'] } },
        admin.secret,
      ),
    ).createApiKey.apiKey;
    expect(fine.limits.requestsPerMinute).toBe(10);
    expect(fine.limits.tokensPerMinute).toBe(999_999);
    expect(fine.allowedModels).toEqual(['echo']);
  });

  it('ADMIN is held to none of this: any team, ADMIN scope, any limits', async () => {
    const team = await createTeam({ limits: { requestsPerMinute: 1 }, allowedModels: ['echo'] });
    const res = ok(
      await gw.gql<{ createApiKey: { apiKey: KeyOut } }>(CREATE_KEY, {
        input: { name: 'operator', team: team.id, scopes: ['ADMIN'], limits: { requestsPerMinute: 100 }, allowedModels: ['echo-2'] },
      }),
    ).createApiKey.apiKey;
    expect(res.team).toEqual({ id: team.id });
    expect(res.limits.requestsPerMinute).toBe(100);
  });

  it('a TEAM_ADMIN scope on a key without team grants nothing', async () => {
    const orphan = await gw.createKey({ name: 'orphan admin', scopes: ['TEAM_ADMIN'] });
    expectCode(await gw.gql('{ apiKeys { id } }', {}, orphan.secret), 'FORBIDDEN');
    expectCode(await gw.gql(CREATE_KEY, { input: { name: 'x' } }, orphan.secret), 'FORBIDDEN');
  });
});

describe('prompts belong to a team or to the gateway', () => {
  it("a TEAM_ADMIN's prompts belong to its team: its keys read and run them, other teams' keys do not see them", async () => {
    const a = await teamWithAdmin();
    const b = await teamWithAdmin();
    const loner = await gw.createKey({ name: 'no team' });
    const name = unique('a-prompt');
    const created = ok(await gw.gql<{ createPrompt: { team: { id: string } | null; version: number } }>(CREATE_PROMPT, { input: prompt(name) }, a.admin.secret)).createPrompt;
    expect(created.team).toEqual({ id: a.team.id });
    const second = ok(await gw.gql<{ createPrompt: { team: { id: string } | null; version: number } }>(CREATE_PROMPT, { input: prompt(name) }, a.admin.secret)).createPrompt;
    expect(second).toMatchObject({ version: 2, team: { id: a.team.id } });

    const global = unique('global-prompt');
    ok(await gw.gql(CREATE_PROMPT, { input: prompt(global) }));

    const names = async (secret: string) => ok(await gw.gql<{ prompts: Array<{ name: string }> }>(PROMPTS, {}, secret)).prompts.map((p) => p.name);
    expect(await names(a.member.secret)).toEqual(expect.arrayContaining([name, global]));
    expect(await names(a.admin.secret)).toEqual(expect.arrayContaining([name, global]));
    for (const outsider of [b.member, b.admin, loner]) {
      expect(await names(outsider.secret)).toContain(global);
      expect(await names(outsider.secret)).not.toContain(name);
      expect(ok(await gw.gql<{ prompt: unknown }>(ONE_PROMPT, { n: name }, outsider.secret)).prompt).toBeNull();
      expectCode(await gw.gql(RUN, { n: name }, outsider.secret), 'NOT_FOUND');
    }
    expect(ok(await gw.gql<{ runPrompt: { message: { content: string } } }>(RUN, { n: name }, a.member.secret)).runPrompt.message.content).toContain(`${name} says hi`);
    const rest = await fetch(`${gw.url}/v1/prompts/${name}/run`, {
      method: 'POST',
      headers: { authorization: `Bearer ${b.member.secret}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(rest.status).toBe(404);
    // ADMIN sees it, and the team it belongs to
    const all = ok(await gw.gql<{ prompts: Array<{ name: string; team: { id: string } | null }> }>(PROMPTS)).prompts;
    expect(all.find((p) => p.name === name)?.team).toEqual({ id: a.team.id });
    expect(all.find((p) => p.name === global)?.team).toBeNull();
  });

  it("a TEAM_ADMIN cannot version another team's or the gateway's prompt; ADMIN's new version keeps the team", async () => {
    const a = await teamWithAdmin();
    const b = await teamWithAdmin();
    const name = unique('owned');
    ok(await gw.gql(CREATE_PROMPT, { input: prompt(name) }, a.admin.secret));
    expectCode(await gw.gql(CREATE_PROMPT, { input: prompt(name) }, b.admin.secret), 'FORBIDDEN');
    const global = unique('gateway-owned');
    ok(await gw.gql(CREATE_PROMPT, { input: prompt(global) }));
    expectCode(await gw.gql(CREATE_PROMPT, { input: prompt(global) }, a.admin.secret), 'FORBIDDEN');
    // nor bind one to a model its team may not invoke
    const narrow = await teamWithAdmin({ allowedModels: ['echo'] });
    expectCode(await gw.gql(CREATE_PROMPT, { input: prompt(unique('elsewhere'), 'echo-2') }, narrow.admin.secret), 'BAD_USER_INPUT', 'input.model');
    // a plain key of the team cannot create prompts at all
    expectCode(await gw.gql(CREATE_PROMPT, { input: prompt(unique('nope')) }, a.member.secret), 'FORBIDDEN');

    const byAdmin = ok(await gw.gql<{ createPrompt: { version: number; team: { id: string } | null } }>(CREATE_PROMPT, { input: prompt(name) })).createPrompt;
    expect(byAdmin).toMatchObject({ version: 2, team: { id: a.team.id } });
    expect(ok(await gw.gql<{ prompt: { version: number } | null }>(ONE_PROMPT, { n: name }, b.member.secret)).prompt).toBeNull();
  });
});

describe("a team's model list narrows its keys'", () => {
  const restModels = async (secret: string) => {
    const res = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${secret}` } });
    return ((await res.json()) as { data: Array<{ id: string }> }).data.map((m) => m.id).sort();
  };
  const gqlModels = async (secret: string) => ok(await gw.gql<{ models: Array<{ name: string }> }>('{ models { name } }', {}, secret)).models.map((m) => m.name).sort();

  it('for invoking, for models and for GET /v1/models; the key list narrows it further', async () => {
    const team = await createTeam({ allowedModels: ['echo'] });
    const member = await gw.createKey({ team: team.id });
    ok(await gw.gql(CHAT, { input: chatInput('allowed') }, member.secret));
    const refused = await gw.gql(CHAT, { input: chatInput('not allowed', { model: 'echo-2' }) }, member.secret);
    expectCode(refused, 'FORBIDDEN');
    expect(refused.errors![0].message).toContain('echo-2');
    expect(await gqlModels(member.secret)).toEqual(['echo']);
    expect(await restModels(member.secret)).toEqual(['echo']);
    expect(ok(await gw.gql<{ model: unknown }>('{ model(name: "echo-2") { name } }', {}, member.secret)).model).toBeNull();
    const rest = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${member.secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'echo-2', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(rest.status).toBe(403);

    // a key whose own list names only models the team does not allow may invoke none
    const narrowed = await gw.createKey({ team: team.id, allowedModels: ['echo-2'] });
    expectCode(await gw.gql(CHAT, { input: chatInput('key list') }, narrowed.secret), 'FORBIDDEN');
    expectCode(await gw.gql(CHAT, { input: chatInput('team list', { model: 'echo-2' }) }, narrowed.secret), 'FORBIDDEN');
    expect(await gqlModels(narrowed.secret)).toEqual([]);

    // a key without team, and one of a team without list, invoke every model as before
    for (const free of [await gw.createKey(), await gw.createKey({ team: (await createTeam()).id })]) {
      ok(await gw.gql(CHAT, { input: chatInput('anything', { model: 'echo-2' }) }, free.secret));
      expect(await gqlModels(free.secret)).toEqual(expect.arrayContaining(['echo', 'echo-2']));
    }
  });
});
