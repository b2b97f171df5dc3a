/*
 * The limiters (memory, and Redis when TEST_REDIS_URL is set) with team and end-user subjects: limits shared by a
 * team's keys, per end user, refusals that consume nothing anywhere and name their subject, seeding scopes, budget
 * readings after settlement; and a parity check that both admit the same sequence the same way.
 */
import pino from 'pino';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { BudgetReading, Limiter, UsageSeeder } from '../../src/gateway/limits.js';
import type { UsageScope } from '../../src/gateway/limit-subjects.js';
import { createMemoryLimiter } from '../../src/gateway/limits-memory.js';
import { createRedisLimiter } from '../../src/gateway/limits-redis.js';
import { TEST_REDIS_URL, dropPrefix, uniquePrefix } from '../limits/kit.js';
import { admitRequest, keyRow, outcome, teamRow, type Call } from './limiter-kit.js';

const log = pino({ level: 'silent' });

interface Made {
  limiter: Limiter;
  readings: BudgetReading[];
  scopes: UsageScope[];
}
type Make = (seed?: (scope: UsageScope) => { tokensToday: number; costMonth: number }) => Promise<Made>;

const prefixes: string[] = [];
const opened: Limiter[] = [];
afterAll(async () => {
  await Promise.all(opened.map((l) => l.close()));
  if (TEST_REDIS_URL) for (const p of prefixes) await dropPrefix(TEST_REDIS_URL, p);
});

function options(seed: ((scope: UsageScope) => { tokensToday: number; costMonth: number }) | undefined) {
  const readings: BudgetReading[] = [];
  const scopes: UsageScope[] = [];
  const seeder: UsageSeeder = async (scope) => {
    scopes.push(scope);
    return seed?.(scope) ?? { tokensToday: 0, costMonth: 0 };
  };
  return { readings, scopes, seeder, onBudgetSettled: (r: BudgetReading) => void readings.push(r) };
}

const makeMemory: Make = async (seed) => {
  const o = options(seed);
  const limiter = createMemoryLimiter({ seeder: o.seeder, log, onBudgetSettled: o.onBudgetSettled });
  return { limiter, readings: o.readings, scopes: o.scopes };
};

const makeRedis: Make = async (seed) => {
  const o = options(seed);
  const prefix = uniquePrefix();
  prefixes.push(prefix);
  const limiter = await createRedisLimiter({ url: TEST_REDIS_URL!, seeder: o.seeder, log, redisPrefix: prefix, onBudgetSettled: o.onBudgetSettled });
  expect(limiter.shared).toBe(true);
  opened.push(limiter);
  return { limiter, readings: o.readings, scopes: o.scopes };
};

const kinds: Array<[string, Make, boolean]> = [
  ['memory', makeMemory, false],
  ['redis', makeRedis, !TEST_REDIS_URL],
];

for (const [name, make, skip] of kinds) {
  describe.skipIf(skip)(`${name} limiter: teams and end users`, () => {
    const admit = (l: Limiter, c: Call) => outcome(l.admit(admitRequest(c)));

    it('a team requestsPerMinute is shared by all its keys: 40 parallel admissions over 4 keys admit exactly 7', async () => {
      const { limiter } = await make();
      const team = teamRow({ requestsPerMinute: 7 });
      const keys = Array.from({ length: 4 }, () => keyRow({}, team));
      const outs = await Promise.all(Array.from({ length: 40 }, (_, i) => admit(limiter, { key: keys[i % 4]!, team })));
      expect(outs.filter((o) => o === 'OK')).toHaveLength(7);
      expect(new Set(outs.filter((o) => o !== 'OK'))).toEqual(new Set(['RATE_LIMITED: Rate limit exceeded: 7 requests per minute for this team']));
      // another team is not touched
      const other = teamRow({ requestsPerMinute: 1 });
      expect(await admit(limiter, { key: keyRow({}, other), team: other })).toBe('OK');
    });

    it('a team refusal consumes nothing from the key: its counters read as before the refused calls', async () => {
      const { limiter } = await make();
      const team = teamRow({ requestsPerMinute: 2 });
      const key = keyRow({ requestsPerMinute: 10, tokensPerDay: 1000 }, team);
      expect(await admit(limiter, { key, team, tokens: 30 })).toBe('OK');
      expect(await admit(limiter, { key, team, tokens: 30 })).toBe('OK');
      for (let i = 0; i < 5; i++) expect(await admit(limiter, { key, team, tokens: 30 })).toMatch(/^RATE_LIMITED: .* for this team$/);
      const { counters } = await limiter.peek([key]);
      expect(counters[0]).toMatchObject({ requestsThisMinute: 2, tokensThisMinute: 60, tokensToday: 60 });
      // and a key refusal consumes nothing from the team: a second key of the team still gets nothing extra
      const tight = keyRow({ requestsPerMinute: 0 }, team);
      expect(await admit(limiter, { key: tight, team })).toBe('RATE_LIMITED: Rate limit exceeded: 0 requests per minute for this key');
    });

    it('end-user limits of a key count each end user apart; calls without user are not limited by them', async () => {
      const { limiter } = await make();
      const key = keyRow({ endUserRequestsPerMinute: 2 });
      const run = (user?: string) => admit(limiter, { key, user });
      expect([await run('alice'), await run('alice')]).toEqual(['OK', 'OK']);
      expect(await run('alice')).toBe('RATE_LIMITED: Rate limit exceeded: 2 requests per minute for this end user');
      expect([await run('bob'), await run('bob')]).toEqual(['OK', 'OK']);
      expect(await run('bob')).toMatch(/for this end user$/);
      for (let i = 0; i < 5; i++) expect(await run()).toBe('OK');
      // an end user named like another key's is a different end user there
      expect(await admit(limiter, { key: keyRow({ endUserRequestsPerMinute: 2 }), user: 'alice' })).toBe('OK');
    });

    it("a team's end-user limits hold across the team's keys; an end-user refusal consumes nothing from the team", async () => {
      const { limiter } = await make();
      const team = teamRow({ requestsPerMinute: 3, endUserRequestsPerMinute: 1 });
      const [a, b] = [keyRow({}, team), keyRow({}, team)];
      expect(await admit(limiter, { key: a!, team, user: 'alice' })).toBe('OK'); // team 1
      for (let i = 0; i < 4; i++) expect(await admit(limiter, { key: b!, team, user: 'alice' })).toMatch(/^RATE_LIMITED: .*1 requests per minute for this end user$/);
      expect(await admit(limiter, { key: b!, team, user: 'bob' })).toBe('OK'); // team 2
      expect(await admit(limiter, { key: a!, team, user: 'carol' })).toBe('OK'); // team 3
      expect(await admit(limiter, { key: a!, team, user: 'dave' })).toBe('RATE_LIMITED: Rate limit exceeded: 3 requests per minute for this team');
    });

    it('quotas name their subject; quotas of every subject are checked before any rate', async () => {
      const { limiter } = await make((s) => ({ tokensToday: s.teamId && !s.endUser ? 500 : 0, costMonth: s.endUser ? 2 : 0 }));
      const team = teamRow({ tokensPerDay: 500 });
      const key = keyRow({ requestsPerMinute: 0 }, team);
      // the key's rpm 0 would refuse too, but the team's spent day decides first
      expect(await admit(limiter, { key, team })).toBe('QUOTA_EXCEEDED: Daily token quota exhausted: 500 tokens per UTC day for this team');
      const spender = keyRow({ endUserMonthlyBudgetUsd: 2 });
      expect(await admit(limiter, { key: spender, user: 'u1' })).toBe('QUOTA_EXCEEDED: Monthly budget exhausted: 2 USD per calendar month (UTC) for this end user');
      const own = keyRow({ tokensPerDay: 5 });
      expect(await admit(limiter, { key: own, tokens: 10 })).toBe('OK');
      expect(await admit(limiter, { key: own })).toBe('QUOTA_EXCEEDED: Daily token quota exhausted: 5 tokens per UTC day for this key');
    });

    it('day and month counters of each subject are seeded from its own usage scope', async () => {
      const { limiter, scopes } = await make();
      const team = teamRow({ tokensPerDay: 1000, endUserMonthlyBudgetUsd: 5 });
      const key = keyRow({ monthlyBudgetUsd: 10, endUserTokensPerDay: 100 }, team);
      expect(await admit(limiter, { key, team, user: 'zoë' })).toBe('OK');
      expect(scopes).toHaveLength(4);
      expect(new Set(scopes.map((s) => JSON.stringify(s)))).toEqual(
        new Set([{ apiKeyId: key.id }, { teamId: team.id }, { apiKeyId: key.id, endUser: 'zoë' }, { teamId: team.id, endUser: 'zoë' }].map((s) => JSON.stringify(s))),
      );
      // seeded once: the next admission reads the counters
      expect(await admit(limiter, { key, team, user: 'zoë' })).toBe('OK');
      expect(scopes).toHaveLength(4);
    });

    it('a cache hit (request only) counts on the rpm of every subject and moves no token counter', async () => {
      const { limiter } = await make();
      const team = teamRow({ requestsPerMinute: 3, tokensPerDay: 15, endUserRequestsPerMinute: 2 });
      const key = keyRow({ tokensPerMinute: 5 }, team);
      const hit = (user: string) => admit(limiter, { key, team, user, tokens: 1000, requestOnly: true });
      expect(await hit('a')).toBe('OK');
      expect(await hit('a')).toBe('OK');
      expect(await hit('a')).toMatch(/2 requests per minute for this end user$/);
      expect(await admit(limiter, { key, team, user: 'b', tokens: 10 })).toBe('OK'); // team rpm 3 of 3, tokens 10 of 15
      expect(await hit('c')).toMatch(/3 requests per minute for this team$/);
      expect((await limiter.peek([key])).counters[0]).toMatchObject({ tokensThisMinute: 10 });
    });

    it('after a call settles, the key and the team month counters are told (with their thresholds); end users are not', async () => {
      const { limiter, readings } = await make((s) => ({ tokensToday: 0, costMonth: s.teamId && !s.endUser ? 20 : 0 }));
      const team = teamRow({ monthlyBudgetUsd: 100, budgetAlertThresholds: [0.9], endUserMonthlyBudgetUsd: 1 });
      const key = keyRow({ monthlyBudgetUsd: 10, requestsPerMinute: 100 }, team);
      const r = await limiter.admit(admitRequest({ key, team, user: 'u', costUsd: 1 }));
      expect(readings).toEqual([]); // nothing until it settles
      r.settle({ tokens: 5, costUsd: 0.25 });
      await vi.waitFor(() => expect(readings).toHaveLength(2), { timeout: 5000 });
      const month = new Date().toISOString().slice(0, 7);
      const byKind = Object.fromEntries(readings.map((x) => [x.subjectKind, x]));
      expect(byKind.API_KEY).toEqual({ subjectKind: 'API_KEY', subjectId: key.id, teamId: team.id, period: month, spentUsd: 0.25, budgetUsd: 10, thresholds: null });
      expect(byKind.TEAM).toMatchObject({ subjectKind: 'TEAM', subjectId: team.id, teamId: team.id, period: month, budgetUsd: 100, thresholds: [0.9] });
      expect(byKind.TEAM!.spentUsd).toBeCloseTo(20.25, 9);
      // a key without team and without budget: no reading
      const plain = keyRow({ requestsPerMinute: 5 });
      (await limiter.admit(admitRequest({ key: plain, costUsd: 1 }))).settle({ tokens: 1, costUsd: 1 });
      const solo = keyRow({ monthlyBudgetUsd: 3 });
      (await limiter.admit(admitRequest({ key: solo, costUsd: 1 }))).settle({ tokens: 1, costUsd: 0.5 });
      await vi.waitFor(() => expect(readings).toHaveLength(3), { timeout: 5000 });
      expect(readings[2]).toMatchObject({ subjectKind: 'API_KEY', subjectId: solo.id, teamId: null, spentUsd: 0.5, budgetUsd: 3 });
    });

    it('a team that loses all its limits loses its counters: set again, they are seeded anew', async () => {
      const { limiter, scopes } = await make();
      const limited = teamRow({ tokensPerDay: 100 });
      const key = keyRow({}, limited);
      expect(await admit(limiter, { key, team: limited, tokens: 150 })).toBe('OK');
      expect(await admit(limiter, { key, team: limited })).toMatch(/100 tokens per UTC day for this team$/);
      const unlimited = { ...limited, tokensPerDay: null };
      expect(await admit(limiter, { key, team: unlimited, tokens: 500 })).toBe('OK');
      // seeded again from usage_records (0 here: nothing was recorded), not the 150 the old counter held
      expect(await admit(limiter, { key, team: limited })).toBe('OK');
      expect(scopes.filter((s) => s.teamId === limited.id)).toHaveLength(2);
    });

    it('a budget listener that throws is not felt by the call', async () => {
      const limiter = await (async () => {
        if (name === 'memory') return createMemoryLimiter({ seeder: async () => ({ tokensToday: 0, costMonth: 0 }), log, onBudgetSettled: () => { throw new Error('listener'); } });
        const prefix = uniquePrefix();
        prefixes.push(prefix);
        const l = await createRedisLimiter({ url: TEST_REDIS_URL!, seeder: async () => ({ tokensToday: 0, costMonth: 0 }), log, redisPrefix: prefix, onBudgetSettled: () => { throw new Error('listener'); } });
        opened.push(l);
        return l;
      })();
      const key = keyRow({ monthlyBudgetUsd: 10 });
      for (let i = 0; i < 3; i++) (await limiter.admit(admitRequest({ key, costUsd: 1 }))).settle({ tokens: 1, costUsd: 1 });
      await new Promise((r) => setTimeout(r, 200));
      expect((await limiter.peek([key])).counters[0]!.costThisMonthUsd).toBeCloseTo(3, 9);
    });
  });
}

describe.skipIf(!TEST_REDIS_URL)('memory and Redis limiters agree', () => {
  it('admit and refuse the same sequence of calls over keys, a team and end users, with the same messages', async () => {
    const seed = (s: UsageScope) => ({ tokensToday: s.teamId && !s.endUser ? 100 : 0, costMonth: s.apiKeyId && !s.endUser ? 0.5 : 0 });
    const [mem, red] = [await makeMemory(seed), await makeRedis(seed)];
    const team = teamRow({ requestsPerMinute: 30, tokensPerDay: 600, endUserRequestsPerMinute: 4, endUserTokensPerMinute: 60 });
    const keys = [
      keyRow({ requestsPerMinute: 12 }, team),
      keyRow({ monthlyBudgetUsd: 1, endUserRequestsPerMinute: 2 }, team),
      keyRow({ tokensPerMinute: 80 }, team),
      keyRow({ tokensPerDay: 50, endUserTokensPerDay: 30 }),
    ];
    const users = [undefined, 'ann', 'ben', 'cyd'];
    // a fixed pseudo-random walk: the same calls, in the same order, for both
    let x = 7;
    const next = (n: number) => ((x = (x * 1103515245 + 12345) % 2147483648), Math.floor(x / 65536) % n);
    const calls: Call[] = Array.from({ length: 120 }, () => {
      const key = keys[next(keys.length)]!;
      return { key, team: key.teamId ? team : null, user: users[next(users.length)], tokens: 5 + next(20), costUsd: next(3) * 0.05, requestOnly: next(10) === 0 };
    });
    const run = async (l: Limiter) => {
      const outs: string[] = [];
      for (const c of calls) {
        try {
          const r = await l.admit(admitRequest(c));
          outs.push('OK');
          r.settle({ tokens: Math.floor((c.tokens ?? 0) / 2), costUsd: (c.costUsd ?? 0) / 2 });
        } catch (e) {
          outs.push((e as Error).message);
        }
      }
      return outs;
    };
    const [a, b] = [await run(mem.limiter), await run(red.limiter)];
    expect(b).toEqual(a);
    // the walk exercised admissions and refusals by several subjects
    expect(a.filter((o) => o === 'OK').length).toBeGreaterThan(10);
    expect(new Set(a.filter((o) => o !== 'OK').map((m) => m.replace(/^.* for this /, ''))).size).toBeGreaterThanOrEqual(2);
    await mem.limiter.close();
  });
});

describe('memory limiter: many end users', () => {
  it('past pruneAt subjects, end users without an open window are dropped and seeded again when they return', async () => {
    let now = Date.UTC(2026, 4, 10, 12);
    const seeded: string[] = [];
    const limiter = createMemoryLimiter({
      seeder: async (s) => (seeded.push(s.endUser ?? ''), { tokensToday: 0, costMonth: 0 }),
      log,
      now: () => now,
      pruneAt: 5,
    });
    const key = keyRow({ endUserTokensPerDay: 100, endUserRequestsPerMinute: 1 });
    const users = Array.from({ length: 8 }, (_, i) => `u${i}`);
    for (const user of users) expect(await outcome(limiter.admit(admitRequest({ key, user })))).toBe('OK');
    // within their windows nobody is dropped: u0's minute still refuses
    expect(await outcome(limiter.admit(admitRequest({ key, user: 'u0' })))).toMatch(/for this end user$/);
    expect(seeded).toEqual(users);
    now += 61_000;
    expect(await outcome(limiter.admit(admitRequest({ key, user: 'u0' })))).toBe('OK');
    expect(seeded).toEqual([...users, 'u0']);
  });
});
