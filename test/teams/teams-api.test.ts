/* The Team API over HTTP: create/update/delete, validation, visibility, and a key's team, end-user limits and thresholds. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { chatInput, CHAT, expectCode, ok, waitFor } from '../graphql/helpers.js';
import { TEST_DATABASE_URL, freshDatabase } from '../limits/kit.js';

let gw: TestGateway;

beforeAll(async () => {
  gw = await startGateway();
});

afterAll(async () => {
  await gw?.stop();
});

const LIMITS = '{ requestsPerMinute tokensPerMinute tokensPerDay monthlyBudgetUsd }';
const TEAM_FIELDS = `id name description limits ${LIMITS} endUserLimits ${LIMITS} allowedModels budgetAlertThresholds createdAt
  apiKeys { id name } monthToDate { requests promptTokens completionTokens costUsd }`;

interface Limits {
  requestsPerMinute: number | null;
  tokensPerMinute: number | null;
  tokensPerDay: number | null;
  monthlyBudgetUsd: number | null;
}
interface TeamOut {
  id: string;
  name: string;
  description: string | null;
  limits: Limits;
  endUserLimits: Limits;
  allowedModels: string[] | null;
  budgetAlertThresholds: number[];
  createdAt: string;
  apiKeys: Array<{ id: string; name: string }>;
  monthToDate: { requests: number; promptTokens: number; completionTokens: number; costUsd: number };
}

const CREATE_TEAM = `mutation($input: CreateTeamInput!) { createTeam(input: $input) { ${TEAM_FIELDS} } }`;
const UPDATE_TEAM = `mutation($id: ID!, $input: UpdateTeamInput!) { updateTeam(id: $id, input: $input) { ${TEAM_FIELDS} } }`;
const DELETE_TEAM = `mutation($id: ID!) { deleteTeam(id: $id) { id name } }`;
const TEAM = `query($id: ID!) { team(id: $id) { ${TEAM_FIELDS} } }`;
const TEAMS = `{ teams { id name } }`;
const KEY_TEAM = `id team { id name } endUserLimits ${LIMITS} budgetAlertThresholds`;

let seq = 0;
const uniqueName = (base: string) => `${base} ${process.pid}-${++seq}`;

async function createTeam(input: Record<string, unknown> = {}): Promise<TeamOut> {
  return ok(await gw.gql<{ createTeam: TeamOut }>(CREATE_TEAM, { input: { name: uniqueName('team'), ...input } })).createTeam;
}

const NO_LIMITS: Limits = { requestsPerMinute: null, tokensPerMinute: null, tokensPerDay: null, monthlyBudgetUsd: null };

describe('createTeam', () => {
  it('stores every field and answers the defaults for the rest', async () => {
    const name = uniqueName('platform');
    const team = await createTeam({
      name: `  ${name}  `,
      description: 'the platform team',
      limits: { requestsPerMinute: 100, monthlyBudgetUsd: 50 },
      endUserLimits: { tokensPerDay: 1000 },
      allowedModels: ['echo', 'echo', 'echo-2'],
      budgetAlertThresholds: [1, 0.25, 0.25, 0.9],
    });
    expect(team.name).toBe(name);
    expect(team.description).toBe('the platform team');
    expect(team.limits).toEqual({ ...NO_LIMITS, requestsPerMinute: 100, monthlyBudgetUsd: 50 });
    expect(team.endUserLimits).toEqual({ ...NO_LIMITS, tokensPerDay: 1000 });
    expect(team.allowedModels).toEqual(['echo', 'echo-2']);
    expect(team.budgetAlertThresholds).toEqual([0.25, 0.9, 1]);
    expect(team.apiKeys).toEqual([]);
    expect(team.monthToDate).toEqual({ requests: 0, promptTokens: 0, completionTokens: 0, costUsd: 0 });
    expect(new Date(team.createdAt).getTime()).toBeGreaterThan(Date.now() - 60_000);

    const minimal = await createTeam();
    expect(minimal.limits).toEqual(NO_LIMITS);
    expect(minimal.endUserLimits).toEqual(NO_LIMITS);
    expect(minimal.allowedModels).toBeNull();
    expect(minimal.description).toBeNull();
    expect(minimal.budgetAlertThresholds).toEqual([0.5, 0.8, 1]);
  });

  it('refuses a duplicate name naming input.name, and bad values naming their field', async () => {
    const team = await createTeam();
    expectCode(await gw.gql(CREATE_TEAM, { input: { name: team.name } }), 'BAD_USER_INPUT', 'input.name');
    expectCode(await gw.gql(CREATE_TEAM, { input: { name: '   ' } }), 'BAD_USER_INPUT', 'input.name');
    expectCode(await gw.gql(CREATE_TEAM, { input: { name: 'x'.repeat(201) } }), 'BAD_USER_INPUT', 'input.name');
    expectCode(await gw.gql(CREATE_TEAM, { input: { name: uniqueName('t'), limits: { requestsPerMinute: -1 } } }), 'BAD_USER_INPUT', 'input.limits.requestsPerMinute');
    expectCode(
      await gw.gql(CREATE_TEAM, { input: { name: uniqueName('t'), endUserLimits: { monthlyBudgetUsd: -0.5 } } }),
      'BAD_USER_INPUT',
      'input.endUserLimits.monthlyBudgetUsd',
    );
    expectCode(await gw.gql(CREATE_TEAM, { input: { name: uniqueName('t'), budgetAlertThresholds: [0.5, 0] } }), 'BAD_USER_INPUT', 'input.budgetAlertThresholds[1]');
    expectCode(await gw.gql(CREATE_TEAM, { input: { name: uniqueName('t'), budgetAlertThresholds: [10.5] } }), 'BAD_USER_INPUT', 'input.budgetAlertThresholds[0]');
    const eleven = Array.from({ length: 11 }, (_, i) => (i + 1) / 10);
    expectCode(await gw.gql(CREATE_TEAM, { input: { name: uniqueName('t'), budgetAlertThresholds: eleven } }), 'BAD_USER_INPUT', 'input.budgetAlertThresholds');
    // a 200-character name is fine; exactly ten thresholds too
    const long = await createTeam({ name: `${'y'.repeat(190)}${String(++seq).padStart(10, '0')}`, budgetAlertThresholds: eleven.slice(0, 10) });
    expect(long.name).toHaveLength(200);
    expect(long.budgetAlertThresholds).toHaveLength(10);
  });

  it('is ADMIN only', async () => {
    const invoke = await gw.createKey();
    expectCode(await gw.gql(CREATE_TEAM, { input: { name: uniqueName('t') } }, invoke.secret), 'FORBIDDEN');
  });
});

describe('updateTeam', () => {
  it('changes what is given, leaves what is omitted, clears what is null', async () => {
    const team = await createTeam({ description: 'd', limits: { requestsPerMinute: 10, tokensPerDay: 500 }, allowedModels: ['echo'], budgetAlertThresholds: [0.9] });
    const newName = uniqueName('renamed');
    const updated = ok(
      await gw.gql<{ updateTeam: TeamOut }>(UPDATE_TEAM, {
        id: team.id,
        input: { name: newName, limits: { requestsPerMinute: null, tokensPerMinute: 7 }, allowedModels: null, budgetAlertThresholds: null },
      }),
    ).updateTeam;
    expect(updated.id).toBe(team.id);
    expect(updated.name).toBe(newName);
    expect(updated.description).toBe('d');
    expect(updated.limits).toEqual({ ...NO_LIMITS, tokensPerMinute: 7, tokensPerDay: 500 });
    expect(updated.allowedModels).toBeNull();
    expect(updated.budgetAlertThresholds).toEqual([0.5, 0.8, 1]);
    const read = ok(await gw.gql<{ team: TeamOut }>(TEAM, { id: team.id })).team;
    expect(read).toEqual(updated);
  });

  it("refuses another team's name, bad values and unknown ids", async () => {
    const a = await createTeam();
    const b = await createTeam();
    expectCode(await gw.gql(UPDATE_TEAM, { id: b.id, input: { name: a.name } }), 'BAD_USER_INPUT', 'input.name');
    expectCode(await gw.gql(UPDATE_TEAM, { id: b.id, input: { limits: { tokensPerDay: -5 } } }), 'BAD_USER_INPUT', 'input.limits.tokensPerDay');
    expectCode(await gw.gql(UPDATE_TEAM, { id: b.id, input: { budgetAlertThresholds: [-1] } }), 'BAD_USER_INPUT', 'input.budgetAlertThresholds[0]');
    // keeping its own name is no conflict
    expect(ok(await gw.gql<{ updateTeam: TeamOut }>(UPDATE_TEAM, { id: b.id, input: { name: b.name } })).updateTeam.name).toBe(b.name);
    const apiKey = await gw.createKey();
    expectCode(await gw.gql(UPDATE_TEAM, { id: apiKey.id, input: { name: 'x' } }), 'BAD_USER_INPUT', 'id');
    const gone = Buffer.from('Team:00000000-0000-4000-8000-000000000000').toString('base64');
    expectCode(await gw.gql(UPDATE_TEAM, { id: gone, input: { name: uniqueName('x') } }), 'NOT_FOUND');
  });

  it("reaches its keys at once: a narrowed model list refuses the team key's next call", async () => {
    const team = await createTeam();
    const member = await gw.createKey({ team: team.id });
    ok(await gw.gql(CHAT, { input: chatInput('before') }, member.secret));
    ok(await gw.gql(UPDATE_TEAM, { id: team.id, input: { allowedModels: ['echo-2'] } }));
    expectCode(await gw.gql(CHAT, { input: chatInput('after') }, member.secret), 'FORBIDDEN');
    ok(await gw.gql(UPDATE_TEAM, { id: team.id, input: { allowedModels: null } }));
    ok(await gw.gql(CHAT, { input: chatInput('again') }, member.secret));
  });
});

describe('deleteTeam', () => {
  it('is refused while unrevoked keys or prompts remain, and the team stays', async () => {
    const team = await createTeam();
    const member = await gw.createKey({ team: team.id });
    const refused = await gw.gql(DELETE_TEAM, { id: team.id });
    expectCode(refused, 'BAD_USER_INPUT', 'id');
    expect(ok(await gw.gql<{ team: TeamOut }>(TEAM, { id: team.id })).team.name).toBe(team.name);

    ok(await gw.gql('mutation($id: ID!) { revokeApiKey(id: $id) { id } }', { id: member.id }));
    const admin = await gw.createKey({ team: team.id, scopes: ['TEAM_ADMIN'] });
    ok(
      await gw.gql('mutation($input: CreatePromptInput!) { createPrompt(input: $input) { id } }', {
        input: { name: `team-prompt-${process.pid}-${++seq}`, model: 'echo', messages: [{ role: 'USER', content: 'hi' }] },
      }, admin.secret),
    );
    ok(await gw.gql('mutation($id: ID!) { revokeApiKey(id: $id) { id } }', { id: admin.id }));
    expectCode(await gw.gql(DELETE_TEAM, { id: team.id }), 'BAD_USER_INPUT', 'id');
  });

  it('deletes a team whose keys are all revoked: they leave it, and its name is free again', async () => {
    const team = await createTeam();
    const member = await gw.createKey({ team: team.id });
    ok(await gw.gql('mutation($id: ID!) { revokeApiKey(id: $id) { id } }', { id: member.id }));
    const deleted = ok(await gw.gql<{ deleteTeam: { id: string; name: string } }>(DELETE_TEAM, { id: team.id })).deleteTeam;
    expect(deleted).toEqual({ id: team.id, name: team.name });
    const after = await gw.gql<{ team: TeamOut | null }>(TEAM, { id: team.id });
    expectCode(after, 'NOT_FOUND');
    expect(after.data?.team).toBeNull();
    const key = ok(await gw.gql<{ node: { team: unknown } }>(`query($id: ID!) { node(id: $id) { ... on ApiKey { team { id } } } }`, { id: member.id }));
    expect(key.node.team).toBeNull();
    expect((await createTeam({ name: team.name })).name).toBe(team.name);
  });

  it('is ADMIN only', async () => {
    const team = await createTeam();
    const teamAdmin = await gw.createKey({ team: team.id, scopes: ['TEAM_ADMIN'] });
    expectCode(await gw.gql(DELETE_TEAM, { id: team.id }, teamAdmin.secret), 'FORBIDDEN');
    expectCode(await gw.gql(UPDATE_TEAM, { id: team.id, input: { limits: { requestsPerMinute: 1 } } }, teamAdmin.secret), 'FORBIDDEN');
  });
});

describe('teams and team(id): who sees which team', () => {
  it('ADMIN sees every team; a team key only its own; a key without team none', async () => {
    const a = await createTeam();
    const b = await createTeam();
    const adminList = ok(await gw.gql<{ teams: Array<{ id: string }> }>(TEAMS)).teams.map((t) => t.id);
    expect(adminList).toEqual(expect.arrayContaining([a.id, b.id]));

    const member = await gw.createKey({ team: a.id });
    expect(ok(await gw.gql<{ teams: Array<{ id: string; name: string }> }>(TEAMS, {}, member.secret)).teams).toEqual([{ id: a.id, name: a.name }]);
    expect(ok(await gw.gql<{ team: { name: string } }>(TEAM, { id: a.id }, member.secret)).team.name).toBe(a.name);
    const other = await gw.gql<{ team: unknown }>(TEAM, { id: b.id }, member.secret);
    expectCode(other, 'FORBIDDEN');
    expect(other.data?.team).toBeNull();
    expect(JSON.stringify(other)).not.toContain(b.name);
    const viaNode = await gw.gql(`query($id: ID!) { node(id: $id) { ... on Team { name } } }`, { id: b.id }, member.secret);
    expectCode(viaNode, 'FORBIDDEN');
    expect(JSON.stringify(viaNode)).not.toContain(b.name);

    const loner = await gw.createKey();
    expect(ok(await gw.gql<{ teams: unknown[] }>(TEAMS, {}, loner.secret)).teams).toEqual([]);
    expectCode(await gw.gql(TEAM, { id: a.id }, loner.secret), 'FORBIDDEN');
  });

  it("Team.apiKeys: its keys for ADMIN and its own TEAM_ADMIN; an empty list for the team's other keys", async () => {
    const team = await createTeam();
    const member = await gw.createKey({ team: team.id, name: 'member' });
    const admin = await gw.createKey({ team: team.id, name: 'team admin', scopes: ['TEAM_ADMIN'] });
    const keysOf = async (secret?: string) =>
      ok(await gw.gql<{ team: { apiKeys: Array<{ id: string }> } }>(`query($id: ID!) { team(id: $id) { apiKeys { id } } }`, { id: team.id }, secret)).team.apiKeys.map(
        (k) => k.id,
      );
    expect((await keysOf()).sort()).toEqual([member.id, admin.id].sort());
    expect((await keysOf(admin.secret)).sort()).toEqual([member.id, admin.id].sort());
    expect(await keysOf(member.secret)).toEqual([]);
  });
});

describe("a key's team, end-user limits and budget alert thresholds", () => {
  const CREATE_KEY = `mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey { ${KEY_TEAM} } } }`;
  const UPDATE_KEY = `mutation($id: ID!, $input: UpdateApiKeyInput!) { updateApiKey(id: $id, input: $input) { ${KEY_TEAM} } }`;
  interface KeyTeamOut {
    id: string;
    team: { id: string; name: string } | null;
    endUserLimits: Limits;
    budgetAlertThresholds: number[];
  }

  it('are stored on create and update; ADMIN moves a key between teams and out of them', async () => {
    const a = await createTeam();
    const b = await createTeam();
    const created = ok(
      await gw.gql<{ createApiKey: { apiKey: KeyTeamOut } }>(CREATE_KEY, {
        input: { name: 'team key', team: a.id, endUserLimits: { requestsPerMinute: 3 }, budgetAlertThresholds: [0.75, 0.5] },
      }),
    ).createApiKey.apiKey;
    expect(created.team).toEqual({ id: a.id, name: a.name });
    expect(created.endUserLimits).toEqual({ ...NO_LIMITS, requestsPerMinute: 3 });
    expect(created.budgetAlertThresholds).toEqual([0.5, 0.75]);

    const moved = ok(await gw.gql<{ updateApiKey: KeyTeamOut }>(UPDATE_KEY, { id: created.id, input: { team: b.id, endUserLimits: { tokensPerDay: 9 } } })).updateApiKey;
    expect(moved.team).toEqual({ id: b.id, name: b.name });
    expect(moved.endUserLimits).toEqual({ ...NO_LIMITS, requestsPerMinute: 3, tokensPerDay: 9 });
    expect(moved.budgetAlertThresholds).toEqual([0.5, 0.75]);
    const out = ok(await gw.gql<{ updateApiKey: KeyTeamOut }>(UPDATE_KEY, { id: created.id, input: { team: null, budgetAlertThresholds: null } })).updateApiKey;
    expect(out.team).toBeNull();
    expect(out.budgetAlertThresholds).toEqual([0.5, 0.8, 1]);
  });

  it('refuses an unknown team, a non-team id and bad thresholds or end-user limits, naming the field', async () => {
    const gone = Buffer.from('Team:00000000-0000-4000-8000-000000000000').toString('base64');
    expectCode(await gw.gql(CREATE_KEY, { input: { name: 'k', team: gone } }), 'BAD_USER_INPUT', 'input.team');
    const key = await gw.createKey();
    expectCode(await gw.gql(CREATE_KEY, { input: { name: 'k', team: key.id } }), 'BAD_USER_INPUT', 'input.team');
    expectCode(await gw.gql(UPDATE_KEY, { id: key.id, input: { team: gone } }), 'BAD_USER_INPUT', 'input.team');
    expectCode(await gw.gql(CREATE_KEY, { input: { name: 'k', budgetAlertThresholds: [0] } }), 'BAD_USER_INPUT', 'input.budgetAlertThresholds[0]');
    expectCode(await gw.gql(UPDATE_KEY, { id: key.id, input: { endUserLimits: { tokensPerMinute: -3 } } }), 'BAD_USER_INPUT', 'input.endUserLimits.tokensPerMinute');
  });

  it('a key without team answers as before: no team, no end-user limits, the default thresholds', async () => {
    const key = await gw.createKey();
    const viewer = ok(await gw.gql<{ viewer: KeyTeamOut }>(`{ viewer { ${KEY_TEAM} } }`, {}, key.secret)).viewer;
    expect(viewer.team).toBeNull();
    expect(viewer.endUserLimits).toEqual(NO_LIMITS);
    expect(viewer.budgetAlertThresholds).toEqual([0.5, 0.8, 1]);
    ok(await gw.gql(CHAT, { input: chatInput('plain') }, key.secret));
  });

  it("Team.monthToDate sums the calls of the team's keys this month", async () => {
    const team = await createTeam();
    const member = await gw.createKey({ team: team.id });
    ok(await gw.gql(CHAT, { input: chatInput('one') }, member.secret));
    ok(await gw.gql(CHAT, { input: chatInput('two') }, member.secret));
    await gw.flushUsage();
    const totals = ok(await gw.gql<{ team: TeamOut }>(TEAM, { id: team.id })).team.monthToDate;
    expect(totals.requests).toBe(2);
    expect(totals.promptTokens).toBeGreaterThan(0);
  });
});

describe.skipIf(!TEST_DATABASE_URL)('on Postgres, two instances sharing the database', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let one: TestGateway;
  let two: TestGateway;

  beforeAll(async () => {
    db = await freshDatabase(TEST_DATABASE_URL!);
    // the longest key cache there is: only the broadcast can bring a change to the other instance in time
    one = await startGateway({ DATABASE_URL: db.url, KEY_CACHE_TTL_MS: '5000' });
    two = await startGateway({ DATABASE_URL: db.url, KEY_CACHE_TTL_MS: '5000' });
  });

  afterAll(async () => {
    await Promise.all([one?.stop(), two?.stop()]);
    await db?.drop();
  });

  it("updateTeam reaches the team's keys on the other instance too, well within the key cache's TTL", async () => {
    const team = ok(await one.gql<{ createTeam: TeamOut }>(CREATE_TEAM, { input: { name: uniqueName('shared') } })).createTeam;
    const member = await one.createKey({ team: team.id });
    // the other instance has the key (and its team) cached
    ok(await two.gql(CHAT, { input: chatInput('cached') }, member.secret));
    ok(await one.gql(UPDATE_TEAM, { id: team.id, input: { allowedModels: ['echo-2'] } }));
    await waitFor(async () => (await two.gql(CHAT, { input: chatInput('narrowed') }, member.secret)).errors?.[0]?.extensions?.code === 'FORBIDDEN', 'the narrowed team list on instance two', 2500);
  });

  it('two instances creating the same team name at once: one team, the other answer BAD_USER_INPUT on input.name', async () => {
    const name = uniqueName('race');
    const answers = await Promise.all([one, two, one, two].map((g) => g.gql<{ createTeam: TeamOut }>(CREATE_TEAM, { input: { name } })));
    const created = answers.filter((a) => a.data?.createTeam);
    expect(created).toHaveLength(1);
    for (const a of answers.filter((x) => !x.data?.createTeam)) expectCode(a, 'BAD_USER_INPUT', 'input.name');
  });

  it('deleteTeam with only revoked keys left', async () => {
    const team = ok(await one.gql<{ createTeam: TeamOut }>(CREATE_TEAM, { input: { name: uniqueName('gone') } })).createTeam;
    const member = await one.createKey({ team: team.id });
    expectCode(await two.gql(DELETE_TEAM, { id: team.id }), 'BAD_USER_INPUT', 'id');
    ok(await two.gql('mutation($id: ID!) { revokeApiKey(id: $id) { id } }', { id: member.id }));
    expect(ok(await two.gql<{ deleteTeam: { id: string } }>(DELETE_TEAM, { id: team.id })).deleteTeam.id).toBe(team.id);
    expect(ok(await one.gql<{ teams: Array<{ id: string }> }>(TEAMS)).teams.map((t) => t.id)).not.toContain(team.id);
  });
});
