/* The exact stores: the same contract in memory and in Redis (when TEST_REDIS_URL is set). */
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExactCacheStore } from '../../src/cache/exact-store.js';
import { createMemoryStore } from '../../src/cache/exact/memory-store.js';
import { createRedisStore } from '../../src/cache/exact/redis-store.js';
import type { CachedAnswer } from '../../src/cache/types.js';

const TEST_REDIS_URL = process.env.TEST_REDIS_URL || undefined;
const log = pino({ level: 'silent' });

const answer = (model: string, content = 'hello'): CachedAnswer => ({
  response: { id: 'r1', upstreamModel: 'u', content, toolCalls: [], finishReason: 'STOP', usage: { promptTokens: 3, completionTokens: 2, totalTokens: 5, exact: true } },
  provider: 'openai',
  upstreamModel: 'u',
  model,
  storedAt: Date.now(),
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function contract(name: string, make: () => Promise<ExactCacheStore>) {
  describe.skipIf(name === 'redis' && !TEST_REDIS_URL)(`exact store (${name})`, () => {
    let store: ExactCacheStore;
    beforeAll(async () => {
      store = await make();
    });
    afterAll(() => store?.close());

    it('gives back what was set, per scope', async () => {
      await store.set('key:a', 'h1', answer('m* odd:model'), 60);
      expect((await store.get('key:a', 'h1', 'm* odd:model'))?.response.content).toBe('hello');
      expect(await store.get('key:b', 'h1', 'm* odd:model')).toBeNull();
      expect(await store.get('key:a', 'h2', 'm* odd:model')).toBeNull();
    });

    it('hands out copies: changing what get() returned changes nothing stored', async () => {
      const stored = answer('m', 'original');
      await store.set('key:copy', 'h', stored, 60);
      stored.response.content = 'changed after set';
      const got = (await store.get('key:copy', 'h', 'm'))!;
      expect(got.response.content).toBe('original');
      got.response.content = 'changed after get';
      expect((await store.get('key:copy', 'h', 'm'))!.response.content).toBe('original');
    });

    it('forgets an entry after its TTL', async () => {
      await store.set('key:ttl', 'h', answer('m'), 1);
      expect(await store.get('key:ttl', 'h', 'm')).not.toBeNull();
      await sleep(1100);
      expect(await store.get('key:ttl', 'h', 'm')).toBeNull();
    });

    it('purges by scope, by model, by both and all, counting what it removed', async () => {
      await store.purge({});
      await store.set('key:1', 'a', answer('m1'), 60);
      await store.set('key:1', 'b', answer('m2'), 60);
      await store.set('key:2', 'c', answer('m1'), 60);
      await store.set('global', 'd', answer('m1'), 60);
      await store.set('global', 'e', answer('m*'), 60);
      expect(await store.purge({ scope: 'key:1', model: 'm1' })).toBe(1);
      expect(await store.get('key:1', 'b', 'm2')).not.toBeNull();
      // a glob character in a model name matches only itself
      expect(await store.purge({ model: 'm*' })).toBe(1);
      expect(await store.purge({ model: 'm1' })).toBe(2);
      expect(await store.get('key:1', 'b', 'm2')).not.toBeNull();
      expect(await store.purge({ scope: 'key:1' })).toBe(1);
      await store.set('key:3', 'f', answer('m3'), 60);
      expect(await store.purge({})).toBe(1);
      expect(await store.get('key:3', 'f', 'm3')).toBeNull();
    });
  });
}

contract('memory', async () => createMemoryStore({ maxBytes: 1 << 20 }));
contract('redis', () => createRedisStore({ url: TEST_REDIS_URL!, log, redisPrefix: `test-${randomBytes(4).toString('hex')}:` }));

describe('memory store bound', () => {
  it('stays within its byte budget, evicting the least recently used', async () => {
    const store = createMemoryStore({ maxBytes: 64 * 1024 });
    const big = 'x'.repeat(4000);
    for (let i = 0; i < 100; i++) await store.set('s', `k${i}`, answer('m', big), 60);
    expect(await store.get('s', 'k99', 'm')).not.toBeNull();
    expect(await store.get('s', 'k0', 'm')).toBeNull();
    // each entry is some 8 KB: at most 8 fit
    expect(await store.purge({})).toBeLessThanOrEqual(8);
  });

  it('does not keep an answer larger than the whole cache', async () => {
    const store = createMemoryStore({ maxBytes: 1024 });
    await store.set('s', 'k', answer('m', 'y'.repeat(2000)), 60);
    expect(await store.get('s', 'k', 'm')).toBeNull();
  });
});
