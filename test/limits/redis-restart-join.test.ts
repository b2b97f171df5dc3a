/*
 * Per-minute limits across a Redis outage (review of issue 27, item 8): an instance that joined less than a heartbeat
 * before the outage is not counted by the others yet, so it must not take a share of its own. Three Redis limiters in
 * this process share a private redis-server (--save "") this test kills. The difference shows only once the windows
 * open before the outage have ended (before that, nobody opens a window no heartbeat read): the test waits out a minute.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createRedisLimiter, type RedisLimiter } from '../../src/gateway/limits-redis.js';
import { log, seeder, keyRow, attempt, attempts, okCount } from './restart-kit.js';
import { ControlledRedis, HAS_REDIS_SERVER, sleep } from './kit.js';

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
