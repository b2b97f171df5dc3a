/* The in-memory limiter on its own, with a clock: UTC periods, seeding once per key, fail-open when usage cannot be loaded, the fast path. */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { ApiKeyRow } from '../../src/db/schema.js';
import { limitsOf, utcDay, utcMonth, type AdmitRequest, type UsageSeeder } from '../../src/gateway/limits.js';
import { createMemoryLimiter } from '../../src/gateway/limits-memory.js';
import { toPrincipal } from '../../src/services/keys.js';

const log = pino({ level: 'silent' });

function keyRow(limits: Partial<Pick<ApiKeyRow, 'requestsPerMinute' | 'tokensPerMinute' | 'tokensPerDay' | 'monthlyBudgetUsd'>>): ApiKeyRow {
  return {
    id: '00000000-0000-4000-8000-000000000001',
    name: 'k',
    prefix: 'gw_x',
    secretHash: 'x',
    scopes: ['INVOKE'],
    allowedModels: null,
    requestsPerMinute: null,
    tokensPerMinute: null,
    tokensPerDay: null,
    monthlyBudgetUsd: null,
    expiresAt: null,
    revokedAt: null,
    lastUsedAt: null,
    cacheMode: null,
    cacheTtlSeconds: null,
    cacheScope: null,
    guardrailPolicyIds: [],
    teamId: null,
    endUserRequestsPerMinute: null,
    endUserTokensPerMinute: null,
    endUserTokensPerDay: null,
    endUserMonthlyBudgetUsd: null,
    budgetAlertThresholds: null,
    logBodies: null,
    createdAt: new Date(),
    ...limits,
  };
}

const req = (key: ApiKeyRow, estimatedTokens = 10, estimatedCostUsd = 0): AdmitRequest => ({ principal: toPrincipal(key), model: 'echo', estimatedTokens, estimatedCostUsd });

async function code(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code;
  }
}

describe('memory limiter', () => {
  it('UTC periods: day and month boundaries', () => {
    const t = Date.UTC(2024, 1, 29, 23, 59, 59, 999); // leap day, last ms
    expect(utcDay(t).id).toBe('2024-02-29');
    expect(utcDay(t + 1).id).toBe('2024-03-01');
    expect(utcMonth(t).id).toBe('2024-02');
    expect(utcMonth(t).end).toBe(Date.UTC(2024, 2, 1));
    expect(utcMonth(t + 1).start.toISOString()).toBe('2024-03-01T00:00:00.000Z');
    expect(utcMonth(Date.UTC(2024, 11, 31, 12)).end).toBe(Date.UTC(2025, 0, 1));
  });

  it('keys without limits take the fast path: nothing is seeded or counted', async () => {
    let seeded = 0;
    const limiter = createMemoryLimiter({ seeder: async () => (seeded++, { tokensToday: 0, costMonth: 0 }), log });
    const key = keyRow({});
    expect(limitsOf(key)).toBeNull();
    for (let i = 0; i < 1000; i++) (await limiter.admit(req(key))).settle({ tokens: 1e6, costUsd: 1e6 });
    expect(seeded).toBe(0);
  });

  it('seeds once per key however many admissions wait, and again when the UTC day turns', async () => {
    let now = Date.UTC(2025, 5, 30, 23, 59, 59);
    const calls: Array<{ day: string; month: string }> = [];
    const seeder: UsageSeeder = async (_id, day, month) => {
      calls.push({ day: day.toISOString(), month: month.toISOString() });
      await new Promise((r) => setTimeout(r, 20));
      return { tokensToday: 95, costMonth: 0 };
    };
    const limiter = createMemoryLimiter({ seeder, log, now: () => now });
    const key = keyRow({ tokensPerDay: 100 });
    // 95 recorded: 100 concurrent admissions → exactly one fits (95 < 100, then 105)
    const codes = await Promise.all(Array.from({ length: 100 }, () => code(limiter.admit(req(key)))));
    expect(codes.filter((c) => c === undefined)).toHaveLength(1);
    expect(codes.filter((c) => c === 'QUOTA_EXCEEDED')).toHaveLength(99);
    expect(calls).toEqual([{ day: '2025-06-30T00:00:00.000Z', month: '2025-06-01T00:00:00.000Z' }]);

    now += 2000; // 1 July, 00:00:01 UTC
    expect(await code(limiter.admit(req(key)))).toBeUndefined();
    expect(calls[1]).toEqual({ day: '2025-07-01T00:00:00.000Z', month: '2025-07-01T00:00:00.000Z' });
  });

  it('settlement after the counter was re-seeded adds the actual (the seed could not contain the call)', async () => {
    const limiter = createMemoryLimiter({ seeder: async () => ({ tokensToday: 0, costMonth: 0 }), log });
    const limited = keyRow({ tokensPerDay: 100 });
    const r = await limiter.admit(req(limited, 90)); // counter 90
    // the limit is removed and set again while the call runs: the counter is re-seeded (from 0 recorded)
    await limiter.admit(req(keyRow({})));
    const r2 = await limiter.admit(req(limited, 5)); // re-seeded at 0, then 5
    r.settle({ tokens: 60, costUsd: 0 }); // +60 on the new counter (not -30)
    r2.settle({ tokens: 5, costUsd: 0 });
    expect(await code(limiter.admit(req(limited, 1)))).toBeUndefined(); // 65 < 100
    const key2 = keyRow({ tokensPerDay: 66 });
    expect(await code(limiter.admit(req(key2, 1)))).toBe('QUOTA_EXCEEDED'); // 66 ≥ 66
  });

  it('fails open (and says so) when recorded usage cannot be loaded, and retries on the next admission', async () => {
    let fail = true;
    const lines: string[] = [];
    const warnLog = pino({ level: 'warn' }, { write: (s: string) => void lines.push(s) });
    const limiter = createMemoryLimiter({
      seeder: async () => {
        if (fail) throw new Error('database down');
        return { tokensToday: 1000, costMonth: 0 };
      },
      log: warnLog,
    });
    const key = keyRow({ tokensPerDay: 100, requestsPerMinute: 100 });
    expect(await code(limiter.admit(req(key)))).toBeUndefined();
    expect(lines.join('')).toContain('could not load recorded usage');
    fail = false;
    expect(await code(limiter.admit(req(key)))).toBe('QUOTA_EXCEEDED');
  });

  it('requestsPerMinute: a fixed window from the first admission; retryAfterMs is what is left of it', async () => {
    let now = 1_000_000;
    const limiter = createMemoryLimiter({ seeder: async () => ({ tokensToday: 0, costMonth: 0 }), log, now: () => now });
    const key = keyRow({ requestsPerMinute: 2 });
    await limiter.admit(req(key));
    now += 10_000;
    await limiter.admit(req(key));
    now += 5_000;
    const err = await limiter.admit(req(key)).catch((e) => e);
    expect(err.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfterMs: 45_000 });
    now += 45_000;
    expect(await code(limiter.admit(req(key)))).toBeUndefined();
  });
});
