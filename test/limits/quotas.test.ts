/* tokensPerDay and monthlyBudgetUsd: refusals once recorded usage reaches them, bounded overshoot under concurrency, counters seeded from usage_records. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import {
  TEST_REDIS_URL,
  chat,
  dropPrefix,
  ok,
  recordedCost,
  recordedTokens,
  slowEcho,
  statusCounts,
  tally,
  uniquePrefix,
  updateLimits,
  usageOf,
  type ChatOutcome,
} from './kit.js';

/** Estimate of one test call ("hello world", maxTokens 10): 3 + (3 + 2) + 10; the echo model uses 2 + 3 = 5. */
const ESTIMATE = 18;
const ACTUAL = 5;

async function createPricedModel(gw: TestGateway, name: string): Promise<void> {
  // 1 USD per token, in and out: a call costs its total tokens in USD
  ok(
    await gw.gql('mutation($input: CreateModelInput!) { createModel(input: $input) { id } }', {
      input: { name, targets: [{ provider: 'echo', upstreamModel: 'echo' }], inputPricePerMTok: 1_000_000, outputPricePerMTok: 1_000_000 },
    }),
  );
}

/** Waves of concurrent calls until one wave is refused entirely; returns every outcome. */
async function exhaust(gw: TestGateway, secret: string, opts: { concurrency: number; model?: string }): Promise<ChatOutcome[]> {
  const all: ChatOutcome[] = [];
  for (let wave = 0; wave < 100; wave++) {
    const outs = await Promise.all(Array.from({ length: opts.concurrency }, () => chat(gw, secret, { maxTokens: 10, model: opts.model })));
    all.push(...outs);
    if (outs.every((o) => !o.ok)) return all;
  }
  throw new Error('never refused');
}

function suite(name: string, redisUrl: string | undefined) {
  describe.skipIf(name === 'redis' && !redisUrl)(`quotas (${name})`, () => {
    let gw: TestGateway;
    const prefix = uniquePrefix();
    const priced = `priced-${prefix.slice(7, 15)}`;

    beforeAll(async () => {
      gw = await startGateway(redisUrl ? { REDIS_URL: redisUrl } : {}, { redisPrefix: prefix, adapters: { ECHO: slowEcho(50) } });
      await createPricedModel(gw, priced);
    });
    afterAll(async () => {
      await gw?.stop();
      if (redisUrl) await dropPrefix(redisUrl, prefix);
    });

    it('tokensPerDay: QUOTA_EXCEEDED once recorded usage reaches it; concurrency overshoots by less than one in-flight reservation', async () => {
      const limit = 300;
      const key = await gw.createKey({ limits: { tokensPerDay: limit } });
      const outs = await exhaust(gw, key.secret, { concurrency: 10 });
      const refused = outs.filter((o) => !o.ok);
      expect(new Set(refused.map((o) => o.code))).toEqual(new Set(['QUOTA_EXCEEDED']));
      // with 10 in flight, reservations (18 each) refuse calls before usage (5 each) reaches the limit:
      // a burst is refused early and admitted again once settled, which is what the waves show
      expect(refused.length).toBeGreaterThan(10);
      const rows = await usageOf(gw, key.id);
      const total = recordedTokens(rows);
      expect(total).toBeGreaterThanOrEqual(limit);
      expect(total).toBeLessThan(limit + ESTIMATE);
      expect(statusCounts(rows)).toEqual({ OK: outs.length - refused.length, QUOTA_EXCEEDED: refused.length });
      // still refused, one at a time
      expect((await chat(gw, key.secret)).code).toBe('QUOTA_EXCEEDED');
      if (redisUrl) {
        // the shared counter settled to exactly what was recorded
        const r = new Redis(redisUrl);
        try {
          expect(Number(await r.hget(`${prefix}{${key.uuid}}:d:${new Date().toISOString().slice(0, 10)}`, 'v'))).toBe(total);
        } finally {
          r.disconnect();
        }
      }
    });

    it('monthlyBudgetUsd with a priced model: QUOTA_EXCEEDED once spent, and Usage.costUsd / monthToDate agree', async () => {
      const key = await gw.createKey({ limits: { monthlyBudgetUsd: 40 } });
      const outs: ChatOutcome[] = [];
      for (let i = 0; i < 12; i++) outs.push(await chat(gw, key.secret, { model: priced, maxTokens: 10 }));
      // 5 USD a call: 0, 5, …, 35 are below 40 → 8 calls, then refused
      expect(tally(outs)).toEqual({ OK: 8, QUOTA_EXCEEDED: 4 });
      expect(outs[0].costUsd).toBe(ACTUAL);
      expect(outs.slice(8).every((o) => o.code === 'QUOTA_EXCEEDED')).toBe(true);
      const rows = await usageOf(gw, key.id);
      expect(recordedCost(rows)).toBeCloseTo(40, 9);
      const viewer = ok(await gw.gql<{ viewer: { monthToDate: { costUsd: number } } }>('{ viewer { monthToDate { costUsd } } }', undefined, key.secret));
      expect(viewer.viewer.monthToDate.costUsd).toBeCloseTo(40, 9);
    });

    it('monthlyBudgetUsd under concurrency overshoots by less than one in-flight reservation', async () => {
      const budget = 100;
      const key = await gw.createKey({ limits: { monthlyBudgetUsd: budget } });
      const outs = await exhaust(gw, key.secret, { concurrency: 8, model: priced });
      expect(new Set(outs.filter((o) => !o.ok).map((o) => o.code))).toEqual(new Set(['QUOTA_EXCEEDED']));
      const spent = recordedCost(await usageOf(gw, key.id));
      expect(spent).toBeGreaterThanOrEqual(budget);
      expect(spent).toBeLessThan(budget + ESTIMATE);
    });

    it('a limit added later starts from what the key already recorded today / this month (seeded from usage_records)', async () => {
      const key = await gw.createKey({});
      for (let i = 0; i < 6; i++) expect((await chat(gw, key.secret, { maxTokens: 10 })).ok).toBe(true);
      for (let i = 0; i < 2; i++) expect((await chat(gw, key.secret, { model: priced, maxTokens: 10 })).ok).toBe(true);
      await gw.flushUsage(); // recorded: 8 × 5 = 40 tokens, 2 × 5 = 10 USD
      await updateLimits(gw, key.id, { limits: { tokensPerDay: 40 } });
      expect((await chat(gw, key.secret)).code).toBe('QUOTA_EXCEEDED');
      await updateLimits(gw, key.id, { limits: { tokensPerDay: 42 } });
      expect((await chat(gw, key.secret, { maxTokens: 10 })).ok).toBe(true); // 40 < 42 → 45
      expect((await chat(gw, key.secret)).code).toBe('QUOTA_EXCEEDED');

      await updateLimits(gw, key.id, { limits: { tokensPerDay: null, monthlyBudgetUsd: 10 } });
      expect((await chat(gw, key.secret, { model: priced, maxTokens: 10 })).code).toBe('QUOTA_EXCEEDED');
      await updateLimits(gw, key.id, { limits: { monthlyBudgetUsd: 12 } });
      expect((await chat(gw, key.secret, { model: priced, maxTokens: 10 })).ok).toBe(true);
      expect((await chat(gw, key.secret, { model: priced, maxTokens: 10 })).code).toBe('QUOTA_EXCEEDED');
    });

    it('a limit removed and set again re-counts the usage made in between', async () => {
      const key = await gw.createKey({ limits: { tokensPerDay: 1000 } });
      expect((await chat(gw, key.secret, { maxTokens: 10 })).ok).toBe(true); // 5
      await updateLimits(gw, key.id, { limits: { tokensPerDay: null } });
      for (let i = 0; i < 4; i++) expect((await chat(gw, key.secret, { maxTokens: 10 })).ok).toBe(true); // +20 uncounted
      await gw.flushUsage();
      await updateLimits(gw, key.id, { limits: { tokensPerDay: 25 } });
      // a counter kept from before would say 5 and admit
      expect((await chat(gw, key.secret)).code).toBe('QUOTA_EXCEEDED');
    });
  });
}

suite('memory', undefined);
suite('redis', TEST_REDIS_URL);

describe('quotas after a restart (embedded PGlite on disk)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gw-limits-'));
  const env = { DATABASE_URL: undefined, DATA_DIR: dir };
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a fresh process seeds today’s tokens and this month’s spend from usage_records', async () => {
    let gw = await startGateway(env);
    let tokensKey: { id: string; secret: string };
    let budgetKey: { id: string; secret: string };
    try {
      await createPricedModel(gw, 'priced-restart');
      tokensKey = await gw.createKey({ limits: { tokensPerDay: 32 } });
      budgetKey = await gw.createKey({ limits: { monthlyBudgetUsd: 32 } });
      for (let i = 0; i < 6; i++) {
        expect((await chat(gw, tokensKey.secret, { maxTokens: 10 })).ok).toBe(true);
        expect((await chat(gw, budgetKey.secret, { model: 'priced-restart', maxTokens: 10 })).ok).toBe(true);
      }
    } finally {
      await gw.stop(); // flushes usage
    }
    gw = await startGateway(env);
    try {
      // 30 recorded of 32: one more call fits, then refused (a counter starting at 0 would admit six)
      const t = [];
      const b = [];
      for (let i = 0; i < 3; i++) {
        t.push(await chat(gw, tokensKey.secret, { maxTokens: 10 }));
        b.push(await chat(gw, budgetKey.secret, { model: 'priced-restart', maxTokens: 10 }));
      }
      expect(tally(t)).toEqual({ OK: 1, QUOTA_EXCEEDED: 2 });
      expect(tally(b)).toEqual({ OK: 1, QUOTA_EXCEEDED: 2 });
    } finally {
      await gw.stop();
    }
    // two first starts of an on-disk database (initdb, migrations): seconds each, far more on a loaded machine
  }, 120_000);
});
