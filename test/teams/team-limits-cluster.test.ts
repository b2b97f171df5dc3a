/*
 * Two gateway instances sharing Redis and Postgres: a team's limit is admitted exactly once in total, whichever of
 * its keys and instances the calls come through, and so are end-user limits (ChatInput.user).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { TEST_DATABASE_URL, TEST_REDIS_URL, dropPrefix, freshDatabase, ok, slowEcho, statusCounts, tally, uniquePrefix, usageOf, type ChatOutcome } from '../limits/kit.js';

const CHAT = 'mutation($input: ChatInput!) { chat(input: $input) { usage { totalTokens } } }';

async function chatAs(gw: TestGateway, secret: string, user?: string): Promise<ChatOutcome & { message?: string }> {
  const started = Date.now();
  const res = await gw.gql<{ chat: { usage: { totalTokens: number } } }>(CHAT, { input: { model: 'echo', messages: [{ role: 'USER', content: 'hello' }], user } }, secret);
  const ms = Date.now() - started;
  if (res.data?.chat) return { ok: true, ms };
  const err = res.errors?.[0];
  return { ok: false, code: err?.extensions?.code, retryAfterMs: err?.extensions?.retryAfterMs, message: err?.message, ms };
}

async function createTeam(gw: TestGateway, input: Record<string, unknown>): Promise<string> {
  const data = ok(await gw.gql<{ createTeam: { id: string } }>('mutation($input: CreateTeamInput!) { createTeam(input: $input) { id } }', { input }));
  return data.createTeam.id;
}

describe.skipIf(!TEST_DATABASE_URL || !TEST_REDIS_URL)('team and end-user limits across two instances (Redis + Postgres)', () => {
  let a: TestGateway;
  let b: TestGateway;
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  const prefix = uniquePrefix();

  beforeAll(async () => {
    db = await freshDatabase(TEST_DATABASE_URL!);
    const env = { DATABASE_URL: db.url, REDIS_URL: TEST_REDIS_URL };
    const opts = { redisPrefix: prefix, adapters: { ECHO: slowEcho(50) } };
    a = await startGateway(env, opts);
    b = await startGateway(env, opts);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await db?.drop();
    await dropPrefix(TEST_REDIS_URL!, prefix);
  });

  it('a team with requestsPerMinute 100, 10 keys, 500 parallel chats over both instances: exactly 100 OK, 400 RATE_LIMITED, and so recorded', async () => {
    const team = await createTeam(a, { name: 'rpm-100', limits: { requestsPerMinute: 100 } });
    const keys = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).createKey({ name: `team key ${i}`, team })));
    const outs = await Promise.all(Array.from({ length: 500 }, (_, i) => chatAs(i % 2 ? a : b, keys[i % 10]!.secret)));
    expect(tally(outs)).toEqual({ OK: 100, RATE_LIMITED: 400 });
    const refused = outs.filter((o) => !o.ok);
    expect(new Set(refused.map((o) => o.message))).toEqual(new Set(['Rate limit exceeded: 100 requests per minute for this team']));
    expect(refused.every((o) => (o.retryAfterMs ?? 0) > 0)).toBe(true);
    // both instances and several keys took part in admitting
    expect(outs.filter((o, i) => o.ok && i % 2 === 0).length).toBeGreaterThan(0);
    expect(outs.filter((o, i) => o.ok && i % 2 === 1).length).toBeGreaterThan(0);
    expect(new Set(outs.flatMap((o, i) => (o.ok ? [i % 10] : []))).size).toBeGreaterThan(1);

    await Promise.all([a.flushUsage(), b.flushUsage()]);
    const rows = (await Promise.all(keys.map((k) => usageOf(a, k.id, [])))).flat();
    expect(statusCounts(rows)).toEqual({ OK: 100, RATE_LIMITED: 400 });
  }, 180_000);

  it("end-user requestsPerMinute through ChatInput.user: a key's limit per end user, and a team's across its keys", async () => {
    const solo = await a.createKey({ name: 'per user', endUserLimits: { requestsPerMinute: 5 } });
    const users = ['alice', 'bob'];
    const outs = await Promise.all(Array.from({ length: 40 }, (_, i) => chatAs(i % 2 ? a : b, solo.secret, users[Math.floor(i / 2) % 2])));
    for (const u of users) expect(tally(outs.filter((_, i) => users[Math.floor(i / 2) % 2] === u))).toEqual({ OK: 5, RATE_LIMITED: 15 });
    expect(new Set(outs.filter((o) => !o.ok).map((o) => o.message))).toEqual(new Set(['Rate limit exceeded: 5 requests per minute for this end user']));
    // without user the end-user limit does not apply
    expect(tally(await Promise.all(Array.from({ length: 8 }, (_, i) => chatAs(i % 2 ? a : b, solo.secret))))).toEqual({ OK: 8 });

    const team = await createTeam(a, { name: 'per-user-team', endUserLimits: { requestsPerMinute: 3 } });
    const [k1, k2] = await Promise.all([a.createKey({ name: 't1', team }), b.createKey({ name: 't2', team })]);
    const carol = await Promise.all(Array.from({ length: 20 }, (_, i) => chatAs(i % 2 ? a : b, (i % 3 ? k1 : k2)!.secret, 'carol')));
    expect(tally(carol)).toEqual({ OK: 3, RATE_LIMITED: 17 });
    expect(tally(await Promise.all([chatAs(a, k1!.secret, 'dave'), chatAs(b, k2!.secret, 'erin')]))).toEqual({ OK: 2 });
  }, 120_000);
});
