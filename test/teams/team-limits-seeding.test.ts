/*
 * A team's and an end user's day counters start from what usage_records hold for them (team_id, end_user): a
 * process that never saw the calls refuses once the recorded usage reaches the limit, naming the subject.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { TEST_DATABASE_URL, freshDatabase, ok } from '../limits/kit.js';

const CHAT = 'mutation($input: ChatInput!) { chat(input: $input) { usage { totalTokens } } }';

async function chat(gw: TestGateway, secret: string, user?: string): Promise<{ tokens?: number; error?: string }> {
  const res = await gw.gql<{ chat: { usage: { totalTokens: number } } }>(CHAT, { input: { model: 'echo', messages: [{ role: 'USER', content: 'hello there' }], user } }, secret);
  if (res.data?.chat) return { tokens: res.data.chat.usage.totalTokens };
  return { error: `${res.errors?.[0]?.extensions?.code}: ${res.errors?.[0]?.message}` };
}

const UPDATE = 'mutation($id: ID!, $input: UpdateTeamInput!) { updateTeam(id: $id, input: $input) { id } }';

describe.skipIf(!TEST_DATABASE_URL)('team and end-user day counters are seeded from usage_records', () => {
  let first: TestGateway;
  let second: TestGateway;
  let db: Awaited<ReturnType<typeof freshDatabase>>;

  beforeAll(async () => {
    db = await freshDatabase(TEST_DATABASE_URL!);
    first = await startGateway({ DATABASE_URL: db.url });
  }, 60_000);
  afterAll(async () => {
    await Promise.all([first?.stop(), second?.stop()]);
    await db?.drop();
  });

  it('a fresh process counts the tokens the team and the end user already recorded today', async () => {
    const team = ok(await first.gql<{ createTeam: { id: string } }>('mutation { createTeam(input: { name: "seeded" }) { id } }')).createTeam.id;
    const k1 = await first.createKey({ name: 'k1', team });
    // recorded before any limit exists (the fast path counts nothing): 3 calls of zed, 1 of yves
    let zed = 0;
    for (let i = 0; i < 3; i++) zed += (await chat(first, k1.secret, 'zed')).tokens ?? 0;
    const yves = (await chat(first, k1.secret, 'yves')).tokens ?? 0;
    expect(zed).toBeGreaterThan(0);
    await first.flushUsage();
    await first.stop();

    // a process that never saw those calls
    second = await startGateway({ DATABASE_URL: db.url });
    const k2 = await second.createKey({ name: 'k2', team });
    ok(await second.gql(UPDATE, { id: team, input: { limits: { tokensPerDay: zed + yves } } }));
    expect((await chat(second, k2.secret)).error).toBe(`QUOTA_EXCEEDED: Daily token quota exhausted: ${zed + yves} tokens per UTC day for this team`);

    // the team's own quota gone, its end users have zed's recorded tokens as their limit: zed is spent, yves is not
    ok(await second.gql(UPDATE, { id: team, input: { limits: { tokensPerDay: null }, endUserLimits: { tokensPerDay: zed } } }));
    expect((await chat(second, k2.secret, 'zed')).error).toBe(`QUOTA_EXCEEDED: Daily token quota exhausted: ${zed} tokens per UTC day for this end user`);
    expect((await chat(second, k2.secret, 'yves')).tokens).toBeGreaterThan(0);
    expect((await chat(second, k2.secret)).tokens).toBeGreaterThan(0);
  }, 120_000);
});
