/* Two gateway instances sharing Redis and Postgres admit a key's limit in total, not twice it. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import {
  TEST_DATABASE_URL,
  TEST_REDIS_URL,
  chat,
  dropPrefix,
  freshDatabase,
  recordedTokens,
  slowEcho,
  statusCounts,
  tally,
  uniquePrefix,
  usageOf,
  type ChatOutcome,
} from './kit.js';

describe.skipIf(!TEST_DATABASE_URL || !TEST_REDIS_URL)('limits across two instances (Redis + Postgres)', () => {
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
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await db?.drop();
    await dropPrefix(TEST_REDIS_URL!, prefix);
  });

  it('200 concurrent chats split over both against requestsPerMinute: 50 admit exactly 50 in total', async () => {
    const key = await a.createKey({ limits: { requestsPerMinute: 50 } });
    const outs = await Promise.all(Array.from({ length: 200 }, (_, i) => chat(i % 2 ? a : b, key.secret)));
    expect(tally(outs)).toEqual({ OK: 50, RATE_LIMITED: 150 });
    // both took part in admitting
    const perInstance = [0, 1].map((p) => outs.filter((o, i) => i % 2 === p && o.ok).length);
    expect(perInstance[0]).toBeGreaterThan(0);
    expect(perInstance[1]).toBeGreaterThan(0);
    expect(outs.filter((o) => !o.ok).every((o) => (o.retryAfterMs ?? 0) > 0)).toBe(true);
    const rows = await usageOf(a, key.id, [a, b]);
    expect(statusCounts(rows)).toEqual({ OK: 50, RATE_LIMITED: 150 });
  });

  it('tokensPerDay is shared: the total recorded by both stays below the limit plus one in-flight reservation', async () => {
    const limit = 200;
    const key = await a.createKey({ limits: { tokensPerDay: limit } });
    const outs: ChatOutcome[] = [];
    for (let wave = 0; wave < 100; wave++) {
      const w = await Promise.all(Array.from({ length: 10 }, (_, i) => chat(i % 2 ? a : b, key.secret, { maxTokens: 10 })));
      outs.push(...w);
      if (w.every((o) => !o.ok)) break;
    }
    expect(new Set(outs.filter((o) => !o.ok).map((o) => o.code))).toEqual(new Set(['QUOTA_EXCEEDED']));
    const total = recordedTokens(await usageOf(a, key.id, [a, b]));
    expect(total).toBeGreaterThanOrEqual(limit);
    expect(total).toBeLessThan(limit + 18);
  });
});
