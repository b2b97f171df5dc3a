/*
 * ApiKey.limitUsage through GraphQL: the numbers equal what the limiter admitted and reserved (in flight, then
 * settled), keys without counters read as what seeding them would give, one peek for a whole page of keys; in
 * memory (with the limiter's clock, to open a new window) and on Redis when TEST_REDIS_URL is set.
 */
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDbUsageSeeder, type Limiter, type UsageSeeder } from '../../src/gateway/limits.js';
import { createMemoryLimiter } from '../../src/gateway/limits-memory.js';
import { createRedisLimiter } from '../../src/gateway/limits-redis.js';
import { createEchoAdapter } from '../../src/providers/echo/index.js';
import type { ProviderAdapter } from '../../src/providers/types.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { waitFor } from '../graphql/helpers.js';
import { TEST_REDIS_URL, TcpProxy, chat, dropPrefix, ok, recordedCost, recordedTokens, tally, uniquePrefix, updateLimits, usageOf } from './kit.js';

/** Estimate of one test call ("hello world", maxTokens 10): 3 + (3 + 2) + 10 tokens; the echo model uses 2 + 3 = 5. */
const ESTIMATE = 18;
const ACTUAL = 5;

interface LimitUsage {
  requestsThisMinute: number;
  tokensThisMinute: number;
  tokensToday: number;
  costThisMonthUsd: number;
}
const FIELDS = 'limitUsage { requestsThisMinute tokensThisMinute tokensToday costThisMonthUsd }';

/** The echo model, except that calls to upstream model `held` wait until released. */
function heldEcho() {
  const echo = createEchoAdapter();
  let release = () => {};
  let gate = Promise.resolve();
  const adapter: ProviderAdapter = {
    ...echo,
    async chat(req, opts) {
      if (req.model === 'held') await gate;
      return echo.chat({ ...req, model: 'echo' }, opts);
    },
  };
  return {
    adapter,
    hold: () => void (gate = new Promise((r) => (release = r))),
    release: () => release(),
  };
}

/** Counts peeks (and the keys in each) on their way to the real limiter. */
function peekCounting(inner: Limiter): { limiter: Limiter; peeks: number[] } {
  const peeks: number[] = [];
  return {
    peeks,
    limiter: {
      admit: (req) => inner.admit(req),
      peek: (keys) => (peeks.push(keys.length), inner.peek(keys)),
      close: () => inner.close(),
    },
  };
}

function suite(name: 'memory' | 'redis', redisUrl: string | undefined) {
  describe.skipIf(name === 'redis' && !redisUrl)(`ApiKey.limitUsage (${name})`, () => {
    let gw: TestGateway;
    let peeks: number[];
    let proxy: TcpProxy | undefined;
    /** Redis commands sent by the limiter, one entry per write on its connection. */
    const writes: string[] = [];
    /** Added to the memory limiter's clock. */
    let shift = 0;
    const prefix = uniquePrefix();
    const tag = prefix.slice(7, 15);
    const priced = `priced-${tag}`;
    const held = `held-${tag}`;
    const gate = heldEcho();

    beforeAll(async () => {
      const log = pino({ level: 'silent' });
      // the app's own seeder, over the database the gateway opens
      const seeder: UsageSeeder = (...a) => createDbUsageSeeder(gw.app.services.database.db)(...a);
      let inner: Limiter;
      if (redisUrl) {
        proxy = await TcpProxy.start(redisUrl);
        proxy.onClientData = (chunk) => writes.push(chunk.toString('latin1'));
        inner = await createRedisLimiter({ url: proxy.url, seeder, log, redisPrefix: prefix });
      } else {
        inner = createMemoryLimiter({ seeder, log, now: () => Date.now() + shift });
      }
      const counting = peekCounting(inner);
      peeks = counting.peeks;
      gw = await startGateway(redisUrl ? { REDIS_URL: redisUrl } : {}, { redisPrefix: prefix, limiter: counting.limiter, adapters: { ECHO: gate.adapter } });
      // 1 USD per token, in and out: a call costs its total tokens in USD
      const prices = { inputPricePerMTok: 1_000_000, outputPricePerMTok: 1_000_000 };
      for (const [model, upstream] of [
        [priced, 'echo'],
        [held, 'held'],
      ]) {
        ok(
          await gw.gql('mutation($input: CreateModelInput!) { createModel(input: $input) { id } }', {
            input: { name: model, targets: [{ provider: 'echo', upstreamModel: upstream }], ...prices },
          }),
        );
      }
    });
    afterAll(async () => {
      await gw?.stop();
      await proxy?.close();
      if (redisUrl) await dropPrefix(redisUrl, prefix);
    });

    const viewerUsage = async (secret: string): Promise<LimitUsage> =>
      ok(await gw.gql<{ viewer: { limitUsage: LimitUsage } }>(`{ viewer { ${FIELDS} } }`, {}, secret)).viewer.limitUsage;

    const everyKeysUsage = async (): Promise<Map<string, LimitUsage>> => {
      const d = ok(await gw.gql<{ apiKeys: Array<{ id: string; limitUsage: LimitUsage }> }>(`{ apiKeys { id ${FIELDS} } }`));
      return new Map(d.apiKeys.map((k) => [k.id, k.limitUsage]));
    };

    it('counts what was admitted: refused calls not, settled calls at what they used, the same for viewer and apiKeys', async () => {
      const key = await gw.createKey({ limits: { requestsPerMinute: 3, tokensPerMinute: 1000, tokensPerDay: 10_000, monthlyBudgetUsd: 1000 } });
      const outs = [];
      for (let i = 0; i < 5; i++) outs.push(await chat(gw, key.secret, { model: priced, maxTokens: 10 }));
      expect(tally(outs)).toEqual({ OK: 3, RATE_LIMITED: 2 });
      const admitted = outs.filter((o) => o.ok);
      const tokens = admitted.reduce((s, o) => s + o.totalTokens!, 0);
      const cost = admitted.reduce((s, o) => s + o.costUsd!, 0);
      expect(tokens).toBe(3 * ACTUAL);

      const mine = await viewerUsage(key.secret);
      expect(mine).toMatchObject({ requestsThisMinute: 3, tokensThisMinute: tokens, tokensToday: tokens });
      expect(mine.costThisMonthUsd).toBeCloseTo(cost, 9);
      expect((await everyKeysUsage()).get(key.id)).toEqual(mine);
      // and what the usage records say (the refused calls recorded with no tokens)
      const rows = await usageOf(gw, key.id);
      expect(recordedTokens(rows)).toBe(mine.tokensToday);
      expect(recordedCost(rows)).toBeCloseTo(mine.costThisMonthUsd, 9);
    });

    it('a call in flight counts its reserved estimate, and what it used once it settles', async () => {
      const key = await gw.createKey({ limits: { tokensPerMinute: 1000, tokensPerDay: 10_000, monthlyBudgetUsd: 1000 } });
      gate.hold();
      const running = chat(gw, key.secret, { model: held, maxTokens: 10 });
      try {
        const during = await waitFor(async () => {
          const u = await viewerUsage(key.secret);
          return u.requestsThisMinute === 1 && u;
        }, 'the held call to be admitted');
        // nothing is reserved by reading: the same numbers again
        expect(await viewerUsage(key.secret)).toEqual(during);
        expect(during).toMatchObject({ tokensThisMinute: ESTIMATE, tokensToday: ESTIMATE });
        // priced 1 USD a token, so the worst-case cost reserved is the estimate in USD
        expect(during.costThisMonthUsd).toBeCloseTo(ESTIMATE, 9);
      } finally {
        gate.release();
      }
      const out = await running;
      expect(out).toMatchObject({ ok: true, totalTokens: ACTUAL });
      const after = await viewerUsage(key.secret);
      expect(after).toMatchObject({ requestsThisMinute: 1, tokensThisMinute: ACTUAL, tokensToday: ACTUAL });
      expect(after.costThisMonthUsd).toBeCloseTo(out.costUsd!, 9);
    });

    it('without a counter, the day and month read as recorded usage: the very numbers a quota set now is checked against', async () => {
      const key = await gw.createKey();
      for (let i = 0; i < 2; i++) expect((await chat(gw, key.secret, { model: priced, maxTokens: 10 })).ok).toBe(true);
      const rows = await usageOf(gw, key.id);
      const unlimited = await viewerUsage(key.secret);
      // no per-minute limit: no window is counted
      expect(unlimited).toMatchObject({ requestsThisMinute: 0, tokensThisMinute: 0, tokensToday: recordedTokens(rows) });
      expect(unlimited.costThisMonthUsd).toBeCloseTo(recordedCost(rows), 9);
      expect(unlimited.tokensToday).toBe(2 * ACTUAL);

      // a quota of exactly what was read is exhausted, one token more admits: the counter is seeded with that number
      await updateLimits(gw, key.id, { limits: { tokensPerDay: unlimited.tokensToday } });
      expect(await viewerUsage(key.secret)).toEqual(unlimited);
      expect((await chat(gw, key.secret, { model: priced, maxTokens: 10 })).code).toBe('QUOTA_EXCEEDED');
      await updateLimits(gw, key.id, { limits: { tokensPerDay: unlimited.tokensToday + 1 } });
      expect((await chat(gw, key.secret, { model: priced, maxTokens: 10 })).ok).toBe(true);
      expect((await viewerUsage(key.secret)).tokensToday).toBe(unlimited.tokensToday + ACTUAL);
    });

    it('apiKeys reads every key with one peek at the limiter (one Redis round trip), and calls add no read', async () => {
      const keys = await Promise.all([{ requestsPerMinute: 10 }, { tokensPerDay: 10_000 }, { monthlyBudgetUsd: 100 }, {}].map((limits) => gw.createKey({ limits })));
      // a command, not the Lua text of a script sent with EVAL
      const reads = () => writes.filter((w) => /\r\n(hget|hmget)\r\n/i.test(w)).length;
      const readsBefore = reads();
      for (const k of keys) expect((await chat(gw, k.secret, { model: priced, maxTokens: 10 })).ok).toBe(true);
      expect(reads()).toBe(readsBefore);
      // the parts read from usage records see the calls once they are written
      await gw.flushUsage();

      const peeksBefore = peeks.length;
      const all = await everyKeysUsage();
      expect(peeks.slice(peeksBefore)).toEqual([all.size]);
      expect(all.size).toBeGreaterThanOrEqual(keys.length);
      if (redisUrl) expect(reads()).toBe(readsBefore + 1);
      // each as the key itself reads it
      for (const k of keys) expect(all.get(k.id)).toEqual(await viewerUsage(k.secret));
      const [rpm, tpd, budget, none] = keys.map((k) => all.get(k.id)!);
      expect(rpm).toMatchObject({ requestsThisMinute: 1, tokensThisMinute: ACTUAL });
      expect(tpd).toMatchObject({ requestsThisMinute: 0, tokensToday: ACTUAL });
      expect(budget!.costThisMonthUsd).toBeCloseTo(ACTUAL, 9);
      expect(none).toMatchObject({ requestsThisMinute: 0, tokensThisMinute: 0 });
    });

    it.skipIf(name === 'memory')('with Redis unreachable, reads the per-instance counters admissions fall back to', async () => {
      const key = await gw.createKey({ limits: { requestsPerMinute: 5 } });
      for (let i = 0; i < 2; i++) expect((await chat(gw, key.secret)).ok).toBe(true);
      expect((await viewerUsage(key.secret)).requestsThisMinute).toBe(2);
      proxy!.cut();
      try {
        // the fallback starts from the shared counts this instance last saw, and so does the reading
        expect((await viewerUsage(key.secret)).requestsThisMinute).toBe(2);
        expect((await chat(gw, key.secret)).ok).toBe(true);
        expect((await viewerUsage(key.secret)).requestsThisMinute).toBe(3);
      } finally {
        proxy!.restore();
      }
    });

    it.skipIf(name === 'redis')('a new minute window starts requestsThisMinute and tokensThisMinute from 0', async () => {
      // the memory limiter's clock is moved; Redis windows end by PEXPIRE on Redis's own clock, which no test moves
      const key = await gw.createKey({ limits: { requestsPerMinute: 2, tokensPerMinute: 1000 } });
      for (let i = 0; i < 2; i++) expect((await chat(gw, key.secret, { maxTokens: 10 })).ok).toBe(true);
      expect((await chat(gw, key.secret, { maxTokens: 10 })).code).toBe('RATE_LIMITED');
      expect(await viewerUsage(key.secret)).toMatchObject({ requestsThisMinute: 2, tokensThisMinute: 2 * ACTUAL });
      shift += 60_000;
      expect(await viewerUsage(key.secret)).toMatchObject({ requestsThisMinute: 0, tokensThisMinute: 0 });
      expect((await chat(gw, key.secret, { maxTokens: 10 })).ok).toBe(true);
      expect(await viewerUsage(key.secret)).toMatchObject({ requestsThisMinute: 1, tokensThisMinute: ACTUAL });
    });
  });
}

suite('memory', undefined);
suite('redis', TEST_REDIS_URL);
