/*
 * A cache hit counts against the request rate, not against tokensPerDay: the limiter settles it at 0 tokens, and
 * the counters seeded from usage_records after a restart (and ApiKey.limitUsage before seeding) must agree.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { chat, ok, tally } from './kit.js';

const CACHED = 'echo-cached';
/** What one echo call of "hello world" (maxTokens 10) records: 2 + 3. */
const ACTUAL = 5;

const tokensToday = async (gw: TestGateway, keyId: string): Promise<number> => {
  const d = ok(await gw.gql<{ apiKeys: Array<{ id: string; limitUsage: { tokensToday: number } }> }>('{ apiKeys { id limitUsage { tokensToday } } }'));
  return d.apiKeys.find((k) => k.id === keyId)!.limitUsage.tokensToday;
};

describe('cache hits and tokensPerDay after a restart (embedded PGlite on disk)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gw-cache-quota-'));
  const env = { DATABASE_URL: undefined, DATA_DIR: dir };
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('seeds today’s tokens from the upstream answers only, and limitUsage reads the same', async () => {
    let gw = await startGateway(env);
    let key: { id: string; secret: string };
    try {
      ok(
        await gw.gql('mutation($input: CreateModelInput!) { createModel(input: $input) { id } }', {
          input: { name: CACHED, targets: [{ provider: 'echo', upstreamModel: 'echo' }], cache: { mode: 'EXACT' } },
        }),
      );
      key = await gw.createKey({ limits: { tokensPerDay: 32 } });
      // one miss, then five hits of the same question
      const first = await chat(gw, key.secret, { model: CACHED, maxTokens: 10 });
      expect(first).toMatchObject({ ok: true, totalTokens: ACTUAL });
      for (let i = 0; i < 5; i++) expect((await chat(gw, key.secret, { model: CACHED, maxTokens: 10 })).ok).toBe(true);
      await gw.flushUsage();
      const hits = ok(await gw.gql<{ usage: { edges: Array<{ node: { cacheHit: string | null } }> } }>('query($f: UsageFilter) { usage(filter: $f, first: 10) { edges { node { cacheHit } } } }', { f: { apiKeyId: key.id } }));
      expect(hits.usage.edges.filter((e) => e.node.cacheHit === 'EXACT')).toHaveLength(5);
    } finally {
      await gw.stop();
    }
    gw = await startGateway(env);
    try {
      // nothing seeded yet: limitUsage reads usage_records (counting the hits would read 30)
      expect(await tokensToday(gw, key.id)).toBe(ACTUAL);
      // 5 of 32 seeded: three fresh questions fit (a counter seeded with the hits, 30, admits one)
      const outs = [];
      for (let i = 0; i < 3; i++) outs.push(await chat(gw, key.secret, { text: `fresh ${i}`, maxTokens: 10 }));
      expect(tally(outs)).toEqual({ OK: 3 });
      expect(await tokensToday(gw, key.id)).toBe(4 * ACTUAL);
    } finally {
      await gw.stop();
    }
    // two first starts of an on-disk database (initdb, migrations): seconds each, far more on a loaded machine
  }, 120_000);
});
