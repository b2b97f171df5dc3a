/* Requests/tokens per minute, allowedModels and limit changes, through GraphQL on a real gateway: in memory, and on Redis when TEST_REDIS_URL is set. */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { TEST_REDIS_URL, chat, slowEcho, dropPrefix, ok, statusCounts, tally, uniquePrefix, updateLimits, usageOf } from './kit.js';

function suite(name: string, redisUrl: string | undefined) {
  describe.skipIf(name === 'redis' && !redisUrl)(`rate limits (${name})`, () => {
    let gw: TestGateway;
    const prefix = uniquePrefix();

    beforeAll(async () => {
      gw = await startGateway(redisUrl ? { REDIS_URL: redisUrl } : {}, { redisPrefix: prefix, adapters: { ECHO: slowEcho(100) } });
    });
    afterAll(async () => {
      await gw?.stop();
      if (redisUrl) await dropPrefix(redisUrl, prefix);
    });

    it('200 concurrent chats against requestsPerMinute: 50 admit exactly 50; the rest are RATE_LIMITED with retryAfterMs and recorded', async () => {
      const key = await gw.createKey({ limits: { requestsPerMinute: 50 } });
      const outs = await Promise.all(Array.from({ length: 200 }, () => chat(gw, key.secret)));
      expect(tally(outs)).toEqual({ OK: 50, RATE_LIMITED: 150 });
      for (const o of outs.filter((x) => !x.ok)) {
        expect(o.retryAfterMs).toBeGreaterThan(0);
        expect(o.retryAfterMs).toBeLessThanOrEqual(60_000);
      }
      const rows = await usageOf(gw, key.id);
      expect(statusCounts(rows)).toEqual({ OK: 50, RATE_LIMITED: 150 });
      expect(rows.filter((r) => r.status === 'RATE_LIMITED').every((r) => r.errorCode === 'RATE_LIMITED')).toBe(true);
      if (redisUrl) {
        // the counter really is the shared one, not the per-instance fallback
        const r = new Redis(redisUrl);
        try {
          expect(await r.hget(`${prefix}{${key.uuid}}:w`, 'r')).toBe('50');
        } finally {
          r.disconnect();
        }
      }
    });

    it('tokensPerMinute reserves the estimate before the call and settles to the actual afterwards', async () => {
      // estimate = 3 + (3 + 2 "hello world") + maxTokens 10 = 18; the echo model really uses 2 + 3 = 5
      const key = await gw.createKey({ limits: { tokensPerMinute: 100 } });
      const first = await Promise.all(Array.from({ length: 20 }, () => chat(gw, key.secret, { maxTokens: 10 })));
      // admitted while reserved < 100: 0, 18, 36, 54, 72, 90 → 6
      expect(tally(first)).toEqual({ OK: 6, RATE_LIMITED: 14 });
      expect(first.find((o) => !o.ok)?.retryAfterMs).toBeGreaterThan(0);
      expect(first.filter((o) => o.ok).every((o) => o.totalTokens === 5)).toBe(true);
      // settled to 6 × 5 = 30: admitted again while < 100: 30, 48, 66, 84 → 4 (without settlement: none)
      const second = await Promise.all(Array.from({ length: 20 }, () => chat(gw, key.secret, { maxTokens: 10 })));
      expect(tally(second)).toEqual({ OK: 4, RATE_LIMITED: 16 });
    });

    it('a refusal by one limit consumes nothing from another', async () => {
      // tokensPerMinute refuses first; the refused requests must not eat into requestsPerMinute
      const key = await gw.createKey({ limits: { requestsPerMinute: 3, tokensPerMinute: 10 } });
      expect((await chat(gw, key.secret, { maxTokens: 10 })).ok).toBe(true); // reserves 18 ≥ 10, settles to 5
      // 5 < 10 → admitted once more (settles to 10); then refused by tokens, four times
      const refused = [];
      for (let i = 0; i < 5; i++) refused.push(await chat(gw, key.secret, { maxTokens: 10 }));
      expect(tally(refused)).toEqual({ OK: 1, RATE_LIMITED: 4 });
      await updateLimits(gw, key.id, { limits: { tokensPerMinute: null } });
      // 2 requests admitted so far: exactly one more fits into requestsPerMinute: 3
      const outs = [];
      for (let i = 0; i < 3; i++) outs.push(await chat(gw, key.secret));
      expect(tally(outs)).toEqual({ OK: 1, RATE_LIMITED: 2 });
    });

    it('updateApiKey changing limits applies to the next request', async () => {
      const key = await gw.createKey({ limits: { requestsPerMinute: 2 } });
      const a = [await chat(gw, key.secret), await chat(gw, key.secret), await chat(gw, key.secret)];
      expect(tally(a)).toEqual({ OK: 2, RATE_LIMITED: 1 });
      await updateLimits(gw, key.id, { limits: { requestsPerMinute: 4 } });
      const b = [await chat(gw, key.secret), await chat(gw, key.secret), await chat(gw, key.secret)];
      expect(tally(b)).toEqual({ OK: 2, RATE_LIMITED: 1 });
      await updateLimits(gw, key.id, { limits: { requestsPerMinute: null } });
      const c = await Promise.all(Array.from({ length: 10 }, () => chat(gw, key.secret)));
      expect(tally(c)).toEqual({ OK: 10 });
      await updateLimits(gw, key.id, { limits: { requestsPerMinute: 0 } });
      const d = await chat(gw, key.secret);
      expect(d.code).toBe('RATE_LIMITED');
      expect(d.retryAfterMs).toBeGreaterThan(0);
    });

    it('a model outside allowedModels is FORBIDDEN and recorded', async () => {
      ok(
        await gw.gql('mutation($input: CreateModelInput!) { createModel(input: $input) { id } }', {
          input: { name: `other-${prefix.slice(7, 15)}`, targets: [{ provider: 'echo', upstreamModel: 'echo' }] },
        }),
      );
      const key = await gw.createKey({ allowedModels: ['echo'] });
      const denied = await chat(gw, key.secret, { model: `other-${prefix.slice(7, 15)}` });
      expect(denied.code).toBe('FORBIDDEN');
      expect((await chat(gw, key.secret)).ok).toBe(true);
      const rows = await usageOf(gw, key.id);
      expect(rows.map((r) => r.errorCode).sort()).toEqual(['FORBIDDEN', null]);
    });
  });
}

suite('memory', undefined);
suite('redis', TEST_REDIS_URL);
