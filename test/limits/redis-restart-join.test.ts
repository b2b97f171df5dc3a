/*
 * Per-minute limits across a Redis outage (review of issue 27, item 8): an instance that joined less than a heartbeat
 * before the outage is not counted by the others yet, so it must not take a share of its own. Three Redis limiters in
 * this process share a private redis-server (--save "") this test kills. The difference shows only once the windows
 * open before the outage have ended (before that, nobody opens a window no heartbeat read): the test waits out a minute.
 */
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import type { ApiKeyRow } from '../../src/db/schema.js';
import type { AdmitRequest, UsageSeeder } from '../../src/gateway/limits.js';
import { createRedisLimiter, type RedisLimiter } from '../../src/gateway/limits-redis.js';
import { toPrincipal } from '../../src/services/keys.js';
import { ControlledRedis, HAS_REDIS_SERVER, sleep } from './kit.js';

const log = pino({ level: 'silent' });
const seeder: UsageSeeder = async () => ({ tokensToday: 0, costMonth: 0 });

function keyRow(requestsPerMinute: number): ApiKeyRow {
  return {
    id: randomUUID(),
    name: 'k',
    prefix: 'gw_x',
    secretHash: 'x',
    scopes: ['INVOKE'],
    allowedModels: null,
    requestsPerMinute,
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
  };
}

const req = (key: ApiKeyRow): AdmitRequest => ({ principal: toPrincipal(key), model: 'echo', estimatedTokens: 10, estimatedCostUsd: 0 });

/** 'OK' or the refusal's code; a refusal without a retry-after is reported as such (a 429 must carry one). */
async function attempt(l: RedisLimiter, key: ApiKeyRow): Promise<string> {
  try {
    (await l.admit(req(key))).settle({ tokens: 10, costUsd: 0 });
    return 'OK';
  } catch (e) {
    const err = e as { code?: string; extensions?: { retryAfterMs?: number } };
    return err.code === 'RATE_LIMITED' && !((err.extensions?.retryAfterMs ?? 0) > 0) ? 'RATE_LIMITED without retry-after' : String(err.code ?? e);
  }
}

async function attempts(l: RedisLimiter, key: ApiKeyRow, n: number): Promise<string[]> {
  const outs: string[] = [];
  for (let i = 0; i < n; i++) outs.push(await attempt(l, key));
  return outs;
}

const okCount = (outs: string[]) => outs.filter((o) => o === 'OK').length;

describe.skipIf(!HAS_REDIS_SERVER)('per-minute limits across a Redis outage: an instance that joined just before it', () => {
  let redis: ControlledRedis | undefined;
  let limiters: RedisLimiter[] = [];

  afterAll(async () => {
    await Promise.all(limiters.map((l) => l.close()));
    await redis?.kill();
  });

  // the windows open when Redis died end within a minute; only after that do fresh windows (and their shares) count
  it('takes no share of its own while the others do not count it: fresh windows sum to the limit', async () => {
    redis = await ControlledRedis.start();
    const url = redis.url;
    const beatMs = 1000;
    const start = () => createRedisLimiter({ url, seeder, log, redisPrefix: 'gwjoin:', probeMs: 100, heartbeatMs: beatMs });
    limiters = await Promise.all([start(), start()]);
    // two beats: both know their share (2)
    await sleep(2 * beatMs + 300);
    // right after a beat: the third joins, and Redis dies before the next beat, which would have had the others count it
    while (!(Date.now() % beatMs > 100 && Date.now() % beatMs < 300)) await sleep(10);
    limiters.push(await start());
    await redis.kill();
    const key = keyRow(30);
    // every instance notices the outage now
    const first = await Promise.all(limiters.map((l) => attempt(l, key)));
    expect(first).toEqual(['RATE_LIMITED', 'RATE_LIMITED', 'RATE_LIMITED']);
    expect(limiters.every((l) => !l.shared)).toBe(true);

    await sleep(61_000);
    const fresh = await Promise.all(limiters.map((l) => attempts(l, key, 20)));
    // floor(30 / 2) each for the two the others count; the third, on a share of floor(30 / 3), would make it 40
    expect(fresh.map(okCount)).toEqual([15, 15, 0]);
    expect(new Set(fresh[2])).toEqual(new Set(['RATE_LIMITED']));
  }, 90_000);
});
