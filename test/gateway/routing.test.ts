/**
 * Issue 4, routing: the five strategies and per-target cooldown, end to end through GraphQL.
 * Targets are providers pointed at one scripted OpenAI-compatible mock (behaviour per upstream model)
 * or ECHO providers when only the choice matters; who answered is read from ChatResult.provider.
 */
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { startOpenAIMock, type OpenAIMock } from '../mocks/openai.js';
import {
  answeredBy,
  chat,
  chatOk,
  createModel,
  createProvider,
  healthOf,
  pool,
  scriptByModel,
  sleep,
  subscribeChat,
  tally,
  uniq,
  usageOf,
  withTimeout,
  wsClient,
  type ModelInput,
  type ModelScripts,
  type TargetInput,
} from './helpers.js';

/** Long enough that a few calls under load fit inside it, short enough to wait for. */
const COOLDOWN_MS = 1000;

let gw: TestGateway;
let mock: OpenAIMock;
let up: ModelScripts;
let ws: Client;

beforeAll(async () => {
  mock = await startOpenAIMock();
  up = scriptByModel(mock);
  gw = await startGateway(
    {},
    {
      router: { cooldownMs: COOLDOWN_MS, failureThreshold: 2, exploreRate: 0.2 },
      policy: { backoffBaseMs: 5, backoffMaxMs: 20 },
    },
  );
  ws = wsClient(gw, gw.adminKey);
});

afterAll(async () => {
  await ws?.dispose();
  await gw?.stop();
  await mock?.close();
});

const hi = [{ role: 'USER', content: 'hi' }];

/** n providers on the mock, each with its own upstream model; returns their names and upstream models. */
async function mockTargets(n: number): Promise<Array<{ provider: string; upstream: string }>> {
  const out = [];
  for (let i = 0; i < n; i++) {
    const provider = uniq(`p${String.fromCharCode(97 + i)}`);
    await createProvider(gw, { name: provider, kind: 'OPENAI_COMPATIBLE', baseUrl: mock.baseUrl, apiKey: 'sk-x' });
    out.push({ provider, upstream: uniq(`up${String.fromCharCode(97 + i)}`) });
  }
  return out;
}

async function echoProviders(n: number): Promise<string[]> {
  const names = [];
  for (let i = 0; i < n; i++) {
    const name = uniq(`echo${String.fromCharCode(97 + i)}`);
    await createProvider(gw, { name, kind: 'ECHO' });
    names.push(name);
  }
  return names;
}

async function model(strategy: ModelInput['strategy'], targets: TargetInput[], extra: Partial<ModelInput> = {}): Promise<string> {
  const name = uniq(strategy!.toLowerCase());
  await createModel(gw, { name, strategy, targets, timeoutMs: 5000, ...extra });
  return name;
}

describe('PRIORITY', () => {
  it('always answers from the lowest priority number (declaration order breaks ties); the next only on failure', async () => {
    const [a, b, c] = await mockTargets(3);
    for (const t of [a, b, c]) up.set(t.upstream, { text: `from ${t.provider}` });
    // declared out of order on purpose
    const m = await model('PRIORITY', [
      { provider: b.provider, upstreamModel: b.upstream, priority: 2 },
      { provider: c.provider, upstreamModel: c.upstream, priority: 2 },
      { provider: a.provider, upstreamModel: a.upstream, priority: 1 },
    ]);
    for (let i = 0; i < 5; i++) {
      const r = await chatOk(gw, { model: m, messages: hi });
      expect(r).toMatchObject({ provider: a.provider, upstreamModel: a.upstream, attempts: 1, message: { content: `from ${a.provider}` } });
    }
    expect(up.requests(b.upstream)).toHaveLength(0);

    up.set(a.upstream, { status: 500 });
    const r = await chatOk(gw, { model: m, messages: hi });
    expect(r).toMatchObject({ provider: b.provider, upstreamModel: b.upstream, attempts: 2 });
    // b and c tie on priority: b is declared first
    expect(up.requests(c.upstream)).toHaveLength(0);

    up.set(b.upstream, { status: 503 });
    const r2 = await chatOk(gw, { model: m, messages: hi });
    expect(r2).toMatchObject({ provider: c.provider, attempts: expect.any(Number) });
    expect(r2.attempts).toBeGreaterThanOrEqual(2);
  });
});

describe('ROUND_ROBIN', () => {
  it('rotates through the targets in turn', async () => {
    const names = await echoProviders(3);
    const m = await model('ROUND_ROBIN', names.map((p) => ({ provider: p, upstreamModel: 'echo' })));
    const seen: string[] = [];
    for (let i = 0; i < 9; i++) seen.push((await chatOk(gw, { model: m, messages: hi })).provider);
    // each consecutive triple is a permutation, and the order repeats
    for (let i = 0; i < 9; i++) {
      expect(seen[i]).toBe(seen[i % 3]);
    }
    expect(new Set(seen.slice(0, 3)).size).toBe(3);
    expect(tally(seen)).toEqual(Object.fromEntries(names.map((n) => [n, 3])));
  });

  it('skips a target in cooldown and keeps rotating over the others', async () => {
    const [a, b, c] = await mockTargets(3);
    up.set(a.upstream, { status: 503 });
    up.set(b.upstream, {});
    up.set(c.upstream, {});
    const m = await model('ROUND_ROBIN', [a, b, c].map((t) => ({ provider: t.provider, upstreamModel: t.upstream })));
    const seen: string[] = [];
    const t0 = Date.now();
    for (let i = 0; i < 8; i++) seen.push((await chatOk(gw, { model: m, messages: hi })).provider);
    const elapsed = Date.now() - t0;
    expect(seen).not.toContain(a.provider);
    // a failed failureThreshold (2) times, then was left out; at most one probe per cooldown that ran out meanwhile
    expect(up.requests(a.upstream).length).toBeLessThanOrEqual(2 + Math.floor(elapsed / COOLDOWN_MS));
    expect(tally(seen)[b.provider]).toBeGreaterThanOrEqual(3);
    expect(tally(seen)[c.provider]).toBeGreaterThanOrEqual(3);
  });
});

describe('WEIGHTED', () => {
  it('shares calls by weight within a few percent over 1000 calls (3:1), a weight-0 target gets none', async () => {
    const [a, b, z] = await echoProviders(3);
    const m = await model('WEIGHTED', [
      { provider: a, upstreamModel: 'echo', weight: 3 },
      { provider: b, upstreamModel: 'echo', weight: 1 },
      { provider: z, upstreamModel: 'echo', weight: 0 },
    ]);
    const N = 1000;
    const providers = await pool(N, 32, () => answeredBy(gw, { model: m, messages: hi }));
    const counts = tally(providers);
    const shareA = (counts[a] ?? 0) / N;
    // expected 0.75; one standard deviation is 1.4 points at N = 1000, so this allows ~3.3 sigma
    expect(Math.abs(shareA - 0.75)).toBeLessThan(0.045);
    expect(counts[a] + counts[b]).toBe(N);
    expect(counts[z]).toBeUndefined();
  }, 60_000);
});

describe('LEAST_BUSY', () => {
  it('spreads concurrent calls by requests in flight: 20 slow calls on two targets split 10/10', async () => {
    const [a, b] = await mockTargets(2);
    up.set(a.upstream, { delayMs: 800 });
    up.set(b.upstream, { delayMs: 800 });
    const m = await model('LEAST_BUSY', [a, b].map((t) => ({ provider: t.provider, upstreamModel: t.upstream })));
    const providers = await Promise.all(Array.from({ length: 20 }, async () => (await chatOk(gw, { model: m, messages: hi })).provider));
    expect(tally(providers)).toEqual({ [a.provider]: 10, [b.provider]: 10 });
  });

  it('prefers the idle target while the other is busy with a stream', async () => {
    const [a, b] = await mockTargets(2);
    const longText = Array.from({ length: 40 }, (_, i) => `w${i}`).join(' ');
    up.set(a.upstream, { text: longText, gapMs: 40 });
    up.set(b.upstream, { text: longText, gapMs: 40 });
    const m = await model('LEAST_BUSY', [a, b].map((t) => ({ provider: t.provider, upstreamModel: t.upstream })));

    const run = subscribeChat(ws, { model: m, messages: hi });
    await withTimeout(run.firstChunk, 3000, 'the first chunk');
    const streaming = up.requests(a.upstream).length ? a : b;
    const idle = streaming === a ? b : a;
    const seen: string[] = [];
    // each call is alone on its target; the stream keeps the other one busy for ~1.6 s
    for (let i = 0; i < 6; i++) seen.push((await chatOk(gw, { model: m, messages: hi })).provider);
    run.unsubscribe();
    expect(seen).toEqual(Array(6).fill(idle.provider));
  });
});

describe('LOWEST_LATENCY', () => {
  it('prefers the faster target, still explores the slower one, and finds a recovered target again', async () => {
    const [a, b] = await mockTargets(2);
    up.set(a.upstream, {});
    up.set(b.upstream, { delayMs: 150 });
    const m = await model('LOWEST_LATENCY', [a, b].map((t) => ({ provider: t.provider, upstreamModel: t.upstream })));

    // unmeasured targets are tried first (unless the pick explores): both get a first sample at once
    const warm = new Set<string>();
    for (let i = 0; i < 10 && warm.size < 2; i++) warm.add((await chatOk(gw, { model: m, messages: hi })).provider);
    expect(warm).toEqual(new Set([a.provider, b.provider]));

    const phase1: string[] = [];
    for (let i = 0; i < 60; i++) phase1.push((await chatOk(gw, { model: m, messages: hi })).provider);
    const c1 = tally(phase1);
    expect(c1[a.provider]).toBeGreaterThanOrEqual(45);
    // exploration (20 % of picks, half of them land on b) keeps sampling the slow target
    expect(c1[b.provider] ?? 0).toBeGreaterThanOrEqual(1);

    // a slows down to 60 ms and b recovers to 0 ms: b's stale estimate (~150 ms) is still worse than a's,
    // so only exploration can find out that b is now the faster one
    up.set(a.upstream, { delayMs: 60 });
    up.set(b.upstream, {});
    const phase2: string[] = [];
    let i = 0;
    for (; i < 200; i++) {
      phase2.push((await chatOk(gw, { model: m, messages: hi })).provider);
      const last = phase2.slice(-10);
      if (last.length === 10 && last.filter((p) => p === b.provider).length >= 9) break;
    }
    expect(i, `b was not preferred again after ${phase2.length} calls: ${JSON.stringify(tally(phase2))}`).toBeLessThan(200);
  }, 60_000);
});

describe('cooldown', () => {
  it('takes a repeatedly failing target out (healthy false), leaves it alone, and probes it again after the cooldown', async () => {
    const [a, b] = await mockTargets(2);
    up.set(a.upstream, { status: 503 });
    up.set(b.upstream, {});
    const m = await model('PRIORITY', [
      { provider: a.provider, upstreamModel: a.upstream, priority: 0 },
      { provider: b.provider, upstreamModel: b.upstream, priority: 1 },
    ]);

    expect(await chatOk(gw, { model: m, messages: hi })).toMatchObject({ provider: b.provider, attempts: 2 });
    // one failure is below the threshold (2)
    expect(await healthOf(gw, m, a.provider)).toBe(true);
    expect(await chatOk(gw, { model: m, messages: hi })).toMatchObject({ provider: b.provider, attempts: 2 });
    const cooledAt = Date.now();
    expect(await healthOf(gw, m, a.provider)).toBe(false);
    expect(await healthOf(gw, m, b.provider)).toBe(true);

    // out of rotation: b answers first time, a sees nothing
    for (let i = 0; i < 3; i++) expect(await chatOk(gw, { model: m, messages: hi })).toMatchObject({ provider: b.provider, attempts: 1 });
    expect(up.requests(a.upstream)).toHaveLength(2);

    // a recovers; after the cooldown it is healthy again and, being first by priority, probed and used
    up.set(a.upstream, {});
    while (!(await healthOf(gw, m, a.provider))) {
      if (Date.now() - cooledAt > COOLDOWN_MS + 1000) throw new Error('a never came back from cooldown');
      await sleep(20);
    }
    expect(Date.now() - cooledAt).toBeGreaterThanOrEqual(COOLDOWN_MS - 50);
    expect(await chatOk(gw, { model: m, messages: hi })).toMatchObject({ provider: a.provider, attempts: 1 });

    // the success reset its failure count: one new failure does not take it out again
    up.set(a.upstream, { status: 500 }, {});
    expect(await chatOk(gw, { model: m, messages: hi })).toMatchObject({ provider: b.provider, attempts: 2 });
    expect(await healthOf(gw, m, a.provider)).toBe(true);
  });

  it('a probe after the cooldown that fails again puts the target straight back into cooldown', async () => {
    const [a, b] = await mockTargets(2);
    up.set(a.upstream, { status: 503 });
    up.set(b.upstream, {});
    const m = await model('PRIORITY', [
      { provider: a.provider, upstreamModel: a.upstream, priority: 0 },
      { provider: b.provider, upstreamModel: b.upstream, priority: 1 },
    ]);
    await chatOk(gw, { model: m, messages: hi });
    await chatOk(gw, { model: m, messages: hi });
    expect(await healthOf(gw, m, a.provider)).toBe(false);
    await sleep(COOLDOWN_MS + 50);
    expect(await healthOf(gw, m, a.provider)).toBe(true);

    expect(await chatOk(gw, { model: m, messages: hi })).toMatchObject({ provider: b.provider, attempts: 2 });
    expect(up.requests(a.upstream)).toHaveLength(3);
    expect(await healthOf(gw, m, a.provider)).toBe(false);
  });

  it('when every target is cooling down they are still tried (soonest back first) rather than failing unasked', async () => {
    const [a] = await mockTargets(1);
    up.set(a.upstream, { status: 503 });
    const m = await model('PRIORITY', [{ provider: a.provider, upstreamModel: a.upstream }]);
    const res = await chat(gw, { model: m, messages: hi });
    expect(res.errors?.[0].extensions).toMatchObject({ code: 'UPSTREAM_ERROR', status: 503, provider: a.provider });
    expect(await healthOf(gw, m, a.provider)).toBe(false);

    up.set(a.upstream, {});
    expect(await chatOk(gw, { model: m, messages: hi })).toMatchObject({ provider: a.provider, attempts: 1 });
    expect(await healthOf(gw, m, a.provider)).toBe(true);
    const recs = await usageOf(gw, m);
    expect(recs.map((x) => [x.status, x.attempts])).toEqual([
      ['OK', 1],
      ['ERROR', 3],
    ]);
  });
});
