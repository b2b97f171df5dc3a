/*
 * Redis outage: the documented behaviour is "fail open to per-instance limits": while Redis is
 * unreachable each instance enforces the limits with its own in-memory counters, no request waits
 * longer than the command timeout (500 ms), the switch is logged, and shared counters resume when
 * Redis returns. Uses a redis-server child process this test kills, freezes and restarts.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { ControlledRedis, HAS_REDIS_SERVER, chat, sleep, tally, type ChatOutcome } from './kit.js';

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const started = Date.now();
  while (Date.now() - started < ms) {
    if (await cond()) return;
    await sleep(50);
  }
  throw new Error(`${what}: not within ${ms} ms`);
}

describe.skipIf(!HAS_REDIS_SERVER)('limits when Redis goes away and comes back', () => {
  let redis: ControlledRedis;
  let gw: TestGateway;
  const prefix = 'gwoutage:';

  const windowCount = async (keyId: string): Promise<string | null> => {
    const r = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    r.on('error', () => {});
    try {
      await r.connect();
      return await r.hget(`${prefix}{${keyId}}:w`, 'r');
    } finally {
      r.disconnect();
    }
  };
  const logged = (text: string) => gw.logs.some((l) => l.includes(text));
  const logCount = (text: string) => gw.logs.filter((l) => l.includes(text)).length;

  beforeAll(async () => {
    redis = await ControlledRedis.start();
    gw = await startGateway({ REDIS_URL: redis.url }, { redisPrefix: prefix });
  });
  afterAll(async () => {
    await gw?.stop();
    await redis?.kill();
  });

  it('killed: requests do not hang, limits hold per instance, the switch is logged; restarted: shared counters resume', async () => {
    const key = await gw.createKey({ limits: { requestsPerMinute: 5 } });
    expect(tally([await chat(gw, key.secret), await chat(gw, key.secret)])).toEqual({ OK: 2 });
    expect(await windowCount(key.uuid)).toBe('2');

    await redis.kill();
    const during: ChatOutcome[] = [];
    for (let i = 0; i < 8; i++) during.push(await chat(gw, key.secret));
    // not fail-closed (would refuse everything) and not unlimited (would admit all 8), nor a fresh window
    // (would admit 5 again): the per-instance window goes on from the 2 the last Redis reply counted
    expect(tally(during)).toEqual({ OK: 3, RATE_LIMITED: 5 });
    expect(Math.max(...during.map((o) => o.ms))).toBeLessThan(1500);
    expect(logged('limits: Redis unreachable')).toBe(true);
    expect(logCount('limits: Redis unreachable')).toBe(1);

    await redis.start();
    await until('recovery logged', () => logged('limits: Redis reachable again'));
    const key2 = await gw.createKey({ limits: { requestsPerMinute: 3 } });
    const after = [];
    for (let i = 0; i < 4; i++) after.push(await chat(gw, key2.secret));
    expect(tally(after)).toEqual({ OK: 3, RATE_LIMITED: 1 });
    expect(await windowCount(key2.uuid)).toBe('3');
  });

  it('frozen (accepts connections, never answers): each request waits at most the command timeout, then recovers', async () => {
    const key = await gw.createKey({ limits: { requestsPerMinute: 4 } });
    expect((await chat(gw, key.secret)).ok).toBe(true);
    const downBefore = logCount('limits: Redis unreachable');
    const upBefore = logCount('limits: Redis reachable again');
    redis.freeze();
    try {
      const during: ChatOutcome[] = [];
      for (let i = 0; i < 6; i++) during.push(await chat(gw, key.secret));
      // the fallback goes on from the 1 the last Redis reply counted
      expect(tally(during)).toEqual({ OK: 3, RATE_LIMITED: 3 });
      // the first one waits for the 500 ms timeout, the others go straight to the in-memory counters
      expect(during[0].ms).toBeLessThan(1500);
      // (5 × 500 ms if each waited for the timeout)
      expect(during.slice(1).reduce((s, o) => s + o.ms, 0)).toBeLessThan(2000);
      expect(logCount('limits: Redis unreachable')).toBe(downBefore + 1);
    } finally {
      redis.thaw();
    }
    await until('recovery logged', () => logCount('limits: Redis reachable again') === upBefore + 1);
    // Redis kept its window: the request admitted before the freeze, perhaps the one whose script timed out here
    // but ran once Redis thawed (the fallback admitted it too: counted twice, never too few), and the 3 the
    // fallback admitted, added back before shared admissions resumed (limits-redis-rejoin.ts)
    const w0 = Number(await windowCount(key.uuid));
    expect([4, 5]).toContain(w0);
    const after = [];
    for (let i = 0; i < 4; i++) after.push(await chat(gw, key.secret));
    expect(tally(after)).toEqual({ RATE_LIMITED: 4 });
    expect(await windowCount(key.uuid)).toBe(String(w0));
  });
});
