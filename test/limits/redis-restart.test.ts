/*
 * Per-minute limits across a Redis outage and an empty Redis restart with three instances: during the outage each
 * admits only its share of what was left in the window, on return what they admitted is added back to the (lost)
 * shared window before shared admissions resume, so the three together never admit more than the limit in a window.
 * Three Redis limiters in this process share a private redis-server (--save "") this test kills and restarts.
 */
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ApiKeyRow } from '../../src/db/schema.js';
import { createRedisLimiter, type RedisLimiter } from '../../src/gateway/limits-redis.js';
import { log, seeder, keyRow, attempt, okCount, until } from './restart-kit.js';
import { ControlledRedis, HAS_REDIS_SERVER, sleep } from './kit.js';

const prefix = 'gwrestart:';
const HEARTBEAT_MS = 100;
describe.skipIf(!HAS_REDIS_SERVER)('per-minute limits across a Redis restart, three instances', () => {
  let redis: ControlledRedis;
  let limiters: RedisLimiter[] = [];

  const start = () => createRedisLimiter({ url: redis.url, seeder, log, redisPrefix: prefix, probeMs: 100, heartbeatMs: HEARTBEAT_MS, rejoinSettleMs: 3000 });
  const windowOf = async (key: ApiKeyRow): Promise<{ requests: number | null; ttl: number }> => {
    const r = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    r.on('error', () => {});
    try {
      await r.connect();
      const w = `${prefix}{${key.id}}:w`;
      const [requests, ttl] = await Promise.all([r.hget(w, 'r'), r.pttl(w)]);
      return { requests: requests == null ? null : Number(requests), ttl };
    } finally {
      r.disconnect();
    }
  };

  beforeAll(async () => {
    redis = await ControlledRedis.start();
  });
  afterEach(async () => {
    await Promise.all(limiters.map((l) => l.close()));
    limiters = [];
  });
  afterAll(async () => {
    await redis?.kill();
  });

  it('killed mid-window: each admits its share of what was left; restarted empty: the window is rebuilt and shared again', async () => {
    limiters = await Promise.all([start(), start(), start()]);
    // every heartbeat has seen all three
    await sleep(3 * HEARTBEAT_MS);
    const key = keyRow(30);
    const before = await Promise.all(Array.from({ length: 18 }, (_, i) => attempt(limiters[i % 3]!, key)));
    expect(okCount(before)).toBe(18);
    // a heartbeat reads the window (18) for all three at once
    await sleep(2 * HEARTBEAT_MS);

    await redis.kill();
    const during: string[][] = [];
    for (const l of limiters) {
      const outs: string[] = [];
      for (let i = 0; i < 10; i++) outs.push(await attempt(l, key));
      during.push(outs);
    }
    // floor((30 − 18) / 3) each: per instance, not 12 each (the whole rest) nor 30 each (a fresh window)
    expect(during.map(okCount)).toEqual([4, 4, 4]);
    expect(new Set(during.flat().filter((o) => o !== 'OK'))).toEqual(new Set(['RATE_LIMITED']));
    expect(limiters.every((l) => !l.shared)).toBe(true);

    await redis.start();
    await until('all three shared again', () => limiters.every((l) => l.shared));
    // Redis came back empty: the window is re-created with 18 + what the three admitted on their own, for what is left of it
    const w = await windowOf(key);
    expect(w.requests).toBe(30);
    expect(w.ttl).toBeGreaterThan(0);
    expect(w.ttl).toBeLessThan(60_000);
    const after = await Promise.all(Array.from({ length: 9 }, (_, i) => attempt(limiters[i % 3]!, key)));
    expect(okCount(after)).toBe(0);

    // shared again, not per instance: one instance alone may use the whole limit of another key
    const key2 = keyRow(12);
    const one = await Promise.all(Array.from({ length: 15 }, () => attempt(limiters[0]!, key2)));
    expect(okCount(one)).toBe(12);
    expect(await attempt(limiters[1]!, key2)).toBe('RATE_LIMITED');
  }, 25_000);

  it('a window filled before the kill, nothing admitted during the outage: after an empty restart it is still full', async () => {
    limiters = await Promise.all([start(), start(), start()]);
    await sleep(3 * HEARTBEAT_MS);
    const key = keyRow(12);
    const before = await Promise.all(Array.from({ length: 15 }, (_, i) => attempt(limiters[i % 3]!, key)));
    expect(okCount(before)).toBe(12);
    await sleep(2 * HEARTBEAT_MS);

    await redis.kill();
    // every share of a full window is 0
    const during = await Promise.all(limiters.map((l) => attempt(l, key)));
    expect(during).toEqual(['RATE_LIMITED', 'RATE_LIMITED', 'RATE_LIMITED']);

    await redis.start();
    await until('all three shared again', () => limiters.every((l) => l.shared));
    // the window the empty Redis lost is told again though no instance added to it
    expect((await windowOf(key)).requests).toBe(12);
    const after = await Promise.all(Array.from({ length: 6 }, (_, i) => attempt(limiters[i % 3]!, key)));
    expect(okCount(after)).toBe(0);
  }, 25_000);

  it('steady load from three instances through a kill and an empty restart: never more than the limit in the window', async () => {
    limiters = await Promise.all([start(), start(), start()]);
    await sleep(3 * HEARTBEAT_MS);
    const limit = 40;
    const key = keyRow(limit);
    const outcomes: string[] = [];
    let stop = false;
    // each instance tries every 40 ms: 75 tries a second in all, the limit is reached mid-outage or after
    const workers = limiters.map(async (l) => {
      while (!stop) {
        const o = await attempt(l, key);
        outcomes.push(o);
        await sleep(40);
      }
    });
    await sleep(300);
    const atKill = okCount(outcomes);

    await redis.kill();
    await sleep(400);
    await redis.start();
    await until('all three shared again', () => limiters.every((l) => l.shared));
    await sleep(500);
    stop = true;
    await Promise.all(workers);

    // the kill really was mid-window, and admissions went on during the outage and after it
    expect(atKill).toBeGreaterThan(0);
    expect(atKill).toBeLessThan(limit);
    const admitted = okCount(outcomes);
    expect(admitted).toBeLessThanOrEqual(limit);
    // shares round down and nothing is admitted while an instance waits for the others: a few may go unused
    expect(admitted).toBeGreaterThanOrEqual(limit - 6);
    expect(new Set(outcomes.filter((o) => o !== 'OK'))).toEqual(new Set(['RATE_LIMITED']));
    // what the shared window holds now is at least what was admitted in it (never less: no fresh window)
    expect((await windowOf(key)).requests).toBeGreaterThanOrEqual(admitted);
  }, 25_000);

  it('an instance started during the outage refuses per-minute limits (429 with retry-after) until Redis answers, then shares', async () => {
    const key = keyRow(10);
    await redis.kill();
    limiters = [await start()];
    const l = limiters[0]!;
    expect(l.shared).toBe(false);
    const during = await Promise.all(Array.from({ length: 3 }, () => attempt(l, key)));
    expect(during).toEqual(['RATE_LIMITED', 'RATE_LIMITED', 'RATE_LIMITED']);
    // a key without per-minute limits is not held up
    const unlimited = { ...keyRow(1), requestsPerMinute: null };
    expect(await attempt(l, unlimited)).toBe('OK');

    await redis.start();
    await until('shared', () => l.shared);
    const after = await Promise.all(Array.from({ length: 12 }, () => attempt(l, key)));
    expect(okCount(after)).toBe(10);
    expect((await windowOf(key)).requests).toBe(10);
  }, 20_000);
});
