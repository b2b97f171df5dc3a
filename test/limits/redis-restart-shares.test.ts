/*
 * Per-minute limits across a Redis outage, the edges of the shares (review of issue 27, items 8 and 9): a subject
 * among more open windows than one heartbeat used to re-read, a window no heartbeat read before the outage, and a
 * Redis that fails again while a returning instance tells its last outage admissions. Redis limiters in this process
 * share a private redis-server (--save "") this test kills and restarts, some of them through a TCP proxy.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ApiKeyRow } from '../../src/db/schema.js';
import { createRedisLimiter, type RedisLimiter } from '../../src/gateway/limits-redis.js';
import { log, seeder, keyRow, attempt, attempts, okCount, until } from './restart-kit.js';
import { ControlledRedis, HAS_REDIS_SERVER, TcpProxy, sleep } from './kit.js';

describe.skipIf(!HAS_REDIS_SERVER)('per-minute limits across a Redis outage: shares that sum to the limit', () => {
  let redis: ControlledRedis;
  let limiters: RedisLimiter[] = [];
  let proxy: TcpProxy | undefined;

  const start = (url: string, prefix: string, heartbeatMs: number) =>
    createRedisLimiter({ url, seeder, log, redisPrefix: prefix, probeMs: 100, heartbeatMs, rejoinSettleMs: 3000 });
  const windowCount = async (prefix: string, key: ApiKeyRow): Promise<number | null> => {
    const r = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    r.on('error', () => {});
    try {
      await r.connect();
      const v = await r.hget(`${prefix}{${key.id}}:w`, 'r');
      return v == null ? null : Number(v);
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
    await proxy?.close();
    proxy = undefined;
  });
  afterAll(async () => {
    await redis?.kill();
  });

  it('a subject among more than 2000 open windows keeps the base every instance read', async () => {
    const prefix = `gwshares1${randomUUID().slice(0, 8)}:`;
    limiters = await Promise.all([0, 1, 2].map(() => start(redis.url, prefix, 100)));
    // past the two beats a joining instance waits before it knows its share
    await sleep(400);
    const [a, b, c] = limiters as [RedisLimiter, RedisLimiter, RedisLimiter];
    const key = keyRow(30);
    expect(await Promise.all(limiters.map((l) => attempt(l, key)))).toEqual(['OK', 'OK', 'OK']);
    await sleep(250);
    // 2000 other subjects with an open window on the first instance, admitted after the key
    const others = Array.from({ length: 2000 }, () => keyRow(5));
    for (let i = 0; i < others.length; i += 200) expect(okCount(await Promise.all(others.slice(i, i + 200).map((k) => attempt(a, k))))).toBe(200);
    // the others go on admitting the key; every instance's heartbeat reads 15 as its base
    expect(okCount([...(await attempts(b, key, 6)), ...(await attempts(c, key, 6))])).toBe(12);
    await sleep(300);

    await redis.kill();
    try {
      const during = await Promise.all(limiters.map((l) => attempts(l, key, 10)));
      // floor((30 − 15) / 3) each; the first one, on a base of 3, would admit 9
      expect(during.map(okCount)).toEqual([5, 5, 5]);
      expect(15 + okCount(during.flat())).toBeLessThanOrEqual(30);
    } finally {
      await redis.start();
    }
  }, 25_000);

  it('a window no heartbeat read before the outage is not admitted in by any instance; one every instance read is shared', async () => {
    const prefix = `gwshares2${randomUUID().slice(0, 8)}:`;
    const beatMs = 1000;
    limiters = await Promise.all([0, 1, 2].map(() => start(redis.url, prefix, beatMs)));
    const [a] = limiters as [RedisLimiter];
    const read = keyRow(30);
    expect(await Promise.all(limiters.map((l) => attempt(l, read)))).toEqual(['OK', 'OK', 'OK']);
    // two beats: every instance knows its share and has read the first key's window
    await sleep(2 * beatMs + 300);
    // right after a beat: the first instance opens the second key's window, and Redis dies before the next beat reads it
    await until('just after a beat', () => Date.now() % beatMs > 100 && Date.now() % beatMs < 300, 2 * beatMs);
    const unread = keyRow(30);
    expect(okCount(await attempts(a, unread, 6))).toBe(6);
    await redis.kill();
    try {
      const during = await Promise.all(limiters.map((l) => attempts(l, unread, 10)));
      // the first instance's own reading (6) is not what the others have, and they never saw the window: refused
      // (a share of 8 on top of 6 here and fresh windows of 10 there would admit 34)
      expect(6 + okCount(during.flat())).toBeLessThanOrEqual(30);
      expect(new Set(during.flat())).toEqual(new Set(['RATE_LIMITED']));
      // the window every heartbeat read: floor((30 − 3) / 3) each
      const shared = await Promise.all(limiters.map((l) => attempts(l, read, 10)));
      expect(shared.map(okCount)).toEqual([9, 9, 9]);
    } finally {
      await redis.start();
    }
  }, 25_000);

  it('Redis fails again while the returning instance tells its last admissions: the next outage counts them, the next return tells them', async () => {
    const prefix = `gwshares3${randomUUID().slice(0, 8)}:`;
    proxy = await TcpProxy.start(redis.url);
    const p = proxy;
    limiters = [await start(p.url, prefix, 100)];
    const l = limiters[0]!;
    await sleep(300);
    const key = keyRow(10);
    expect(okCount(await attempts(l, key, 4))).toBe(4);
    await sleep(250);

    p.cut();
    const outage1 = await attempts(l, key, 3);
    expect(okCount(outage1)).toBe(3);
    expect(l.shared).toBe(false);

    // RECONCILE carries the window key and neither the day key (ADMIT, SETTLE) nor the instances set (BEAT)
    const windowKey = `{${key.id}}:w`;
    let reconciles = 0;
    p.filter = (chunk) => {
      const text = chunk.toString();
      if (!text.includes(windowKey) || text.includes(':d:') || text.includes('instances')) return 'forward';
      reconciles++;
      // the rejoin tells twice, then onUp once more: hold the rejoin's last, cut at onUp's
      return reconciles === 2 ? 'hold' : reconciles === 3 ? 'cut' : 'forward';
    };
    p.restore();
    await until('the rejoin telling the second time', () => reconciles === 2);
    // admitted during the rejoin's last round trip: only onUp's reconcile can tell these
    const inRejoin = await attempts(l, key, 3);
    expect(okCount(inRejoin)).toBe(3);
    p.release();
    await until('onUp telling', () => reconciles === 3);
    await until('down again', () => !l.shared);

    // the window holds 10 (4 + 3 + 3): nothing more, though Redis (and the instance's last beat) only know of 7
    const outage2 = await attempts(l, key, 3);
    expect(outage2).toEqual(['RATE_LIMITED', 'RATE_LIMITED', 'RATE_LIMITED']);

    p.filter = undefined;
    p.restore();
    await until('shared again', () => l.shared);
    await until('told', () => reconciles >= 3);
    const after = await attempts(l, key, 3);
    const admitted = 4 + 3 + 3 + okCount(outage2) + okCount(after);
    expect(admitted).toBeLessThanOrEqual(10);
    // the shared window was told everything admitted in it
    expect(await windowCount(prefix, key)).toBe(admitted);
  }, 25_000);
});
