/*
 * purgeCache reaches the in-process stores of every instance sharing a Redis (when TEST_REDIS_URL is set): the
 * exact store in Redis is shared, but each instance's usearch index is its own. Each gateway gets a semantic half
 * standing in for a usearch index that records what it is asked to purge.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SemanticCache } from '../../src/cache/types.js';
import { waitFor } from '../ops/kit.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';

const TEST_REDIS_URL = process.env.TEST_REDIS_URL || undefined;

type Filter = { scope?: string; model?: string };

function recordingIndex(): { cache: SemanticCache; purges: Filter[] } {
  const purges: Filter[] = [];
  const cache: SemanticCache = {
    index: 'usearch',
    lookup: () => Promise.resolve({ vector: [], hit: null }),
    store: () => Promise.resolve(),
    purge: (f) => {
      purges.push(f);
      return Promise.resolve(0);
    },
  };
  return { cache, purges };
}

const PURGE = 'mutation($i: PurgeCacheInput!) { purgeCache(input: $i) { purged } }';

describe.skipIf(!TEST_REDIS_URL)('purgeCache with instances sharing Redis', () => {
  let one: TestGateway;
  let two: TestGateway;
  const a = recordingIndex();
  const b = recordingIndex();
  beforeAll(async () => {
    const env = { REDIS_URL: TEST_REDIS_URL };
    const redisPrefix = `test-purge-${randomBytes(4).toString('hex')}:`;
    [one, two] = await Promise.all([startGateway(env, { redisPrefix, semanticCache: a.cache }), startGateway(env, { redisPrefix, semanticCache: b.cache })]);
  });
  afterAll(async () => {
    await one?.stop();
    await two?.stop();
  });

  it("a purge on one instance purges the other's in-process index with the same filter, and its own once", async () => {
    const all = await one.gql(PURGE, { i: { all: true } });
    expect(all.errors).toBeUndefined();
    await waitFor(() => b.purges.length === 1, 'the other instance purged');
    expect(b.purges[0]).toEqual({ scope: undefined, model: undefined });

    const byModel = await two.gql(PURGE, { i: { model: 'gpt-x' } });
    expect(byModel.errors).toBeUndefined();
    await waitFor(() => a.purges.length === 2, 'the first instance purged by model');
    expect(a.purges[1]).toEqual({ scope: undefined, model: 'gpt-x' });
    // a purge is not echoed back to the instance that made it
    await new Promise((r) => setTimeout(r, 200));
    expect(a.purges).toHaveLength(2);
    expect(b.purges).toHaveLength(2);
  });
});
