/**
 * Issue 4, resilience: upstreams that fail on demand (429 + retry-after, 500, 503, 529, connection refused,
 * a hang, a stall, a stream cut mid-way) behind a real gateway. Checks who answered, how many attempts,
 * how long it took, that streams never switch provider after their first chunk, fallbacks and loop
 * protection, and exactly one usage record per invocation.
 */
import type { ServerResponse } from 'node:http';
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { startAnthropicMock, type AnthropicMock } from '../mocks/anthropic.js';
import { sendJson, startMockServer, type MockServer } from '../mocks/mock-server.js';
import { mockError, startOpenAIMock, type OpenAIMock, type OpenAIMockReply } from '../mocks/openai.js';
import {
  chat,
  chatOk,
  closedPort,
  createModel,
  createProvider,
  healthOf,
  scriptByModel,
  sleep,
  streamAll,
  subscribeChat,
  textOf,
  uniq,
  usageEventually,
  usageOf,
  withTimeout,
  wsClient,
  type ModelInput,
  type ModelScripts,
} from './helpers.js';

const TIMEOUT_MS = 300;
const COOLDOWN_MS = 1000;
/** What a failover may add on top of the timeout: the guard's own slack, a backoff, a fast second attempt. */
const MARGIN_MS = 400;

let gw: TestGateway;
let mock: OpenAIMock;
let up: ModelScripts;
let anthropic: AnthropicMock;
let ws: Client;

beforeAll(async () => {
  [mock, anthropic] = await Promise.all([startOpenAIMock(), startAnthropicMock()]);
  up = scriptByModel(mock);
  gw = await startGateway(
    {},
    {
      router: { failureThreshold: 3, cooldownMs: COOLDOWN_MS },
      policy: { backoffBaseMs: 5, backoffMaxMs: 20, maxAttemptsPerModel: 3, maxAttempts: 8 },
    },
  );
  ws = wsClient(gw, gw.adminKey);
});

afterAll(async () => {
  await ws?.dispose();
  await gw?.stop();
  await Promise.all([mock?.close(), anthropic?.close()]);
});

const hi = [{ role: 'USER', content: 'hi' }];

interface T {
  provider: string;
  upstream: string;
}

/** A provider on the scripted OpenAI mock with its own upstream model, scripted with `replies`. */
async function target(...replies: OpenAIMockReply[]): Promise<T> {
  const provider = uniq('p');
  const upstream = uniq('up');
  await createProvider(gw, { name: provider, kind: 'OPENAI_COMPATIBLE', baseUrl: mock.baseUrl, apiKey: 'sk-x' });
  up.set(upstream, ...replies);
  return { provider, upstream };
}

/** A PRIORITY model over `targets` in the given order. */
async function model(targets: T[], extra: Partial<ModelInput> = {}): Promise<string> {
  const name = uniq('m');
  await createModel(gw, {
    name,
    strategy: 'PRIORITY',
    targets: targets.map((t, i) => ({ provider: t.provider, upstreamModel: t.upstream, priority: i })),
    timeoutMs: TIMEOUT_MS,
    ...extra,
  });
  return name;
}

const calls = (t: T) => up.requests(t.upstream).length;

describe('retryable failures fail over to the next target', () => {
  it.each([
    ['429 (no retry-after)', mockError(429)],
    ['500', mockError(500)],
    ['502', mockError(502)],
    ['503', mockError(503)],
    ['504', mockError(504)],
    ['529', mockError(529)],
    ['a malformed body', { malformed: true } as OpenAIMockReply],
  ])('%s: the second target answers; 2 attempts; one usage record naming it', async (_, failure) => {
    const a = await target(failure);
    const b = await target({ text: 'from b' });
    const m = await model([a, b]);
    const res = await chatOk(gw, { model: m, messages: hi });
    expect(res).toMatchObject({ model: m, provider: b.provider, upstreamModel: b.upstream, attempts: 2, message: { content: 'from b' } });
    expect([calls(a), calls(b)]).toEqual([1, 1]);
    const recs = await usageOf(gw, m);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ status: 'OK', provider: b.provider, upstreamModel: b.upstream, attempts: 2 });
  });

  it('connection refused (nothing listening): the next target answers at once', async () => {
    const dead = uniq('dead');
    await createProvider(gw, { name: dead, kind: 'OPENAI_COMPATIBLE', baseUrl: `http://127.0.0.1:${await closedPort()}/v1` });
    const b = await target({ text: 'alive' });
    const m = uniq('m');
    await createModel(gw, {
      name: m,
      strategy: 'PRIORITY',
      targets: [
        { provider: dead, upstreamModel: 'x', priority: 0 },
        { provider: b.provider, upstreamModel: b.upstream, priority: 1 },
      ],
      timeoutMs: 3000,
    });
    const t0 = Date.now();
    const res = await chatOk(gw, { model: m, messages: hi });
    // a refused connection is known at once: no waiting for the (3 s) timeout
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(res).toMatchObject({ provider: b.provider, attempts: 2 });
  });

  it('connection refused everywhere: UPSTREAM_ERROR after the bounded attempts, one usage record', async () => {
    const dead = uniq('dead');
    await createProvider(gw, { name: dead, kind: 'OPENAI_COMPATIBLE', baseUrl: `http://127.0.0.1:${await closedPort()}/v1` });
    const m = uniq('m');
    await createModel(gw, { name: m, targets: [{ provider: dead, upstreamModel: 'x' }], timeoutMs: TIMEOUT_MS });
    const res = await chat(gw, { model: m, messages: hi });
    expect(res.errors?.[0].extensions).toMatchObject({ code: 'UPSTREAM_ERROR', provider: dead });
    expect(res.errors?.[0].message).toMatch(/ECONNREFUSED|connect/i);
    const recs = await usageOf(gw, m);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ status: 'ERROR', errorCode: 'UPSTREAM_ERROR', provider: dead, attempts: 3 });
  });

  it('one target failing twice then answering: retried with backoff on the same target, 3 attempts', async () => {
    const a = await target(mockError(503), mockError(500), { text: 'third time lucky' });
    const m = await model([a]);
    const res = await chatOk(gw, { model: m, messages: hi });
    expect(res).toMatchObject({ provider: a.provider, attempts: 3, message: { content: 'third time lucky' } });
    expect(calls(a)).toBe(3);
  });

  it('Anthropic 529 overloaded is retried', async () => {
    const provider = uniq('claude');
    await createProvider(gw, { name: provider, kind: 'ANTHROPIC', baseUrl: anthropic.url, apiKey: 'sk-ant' });
    const m = uniq('m');
    await createModel(gw, { name: m, targets: [{ provider, upstreamModel: 'claude-x' }], timeoutMs: TIMEOUT_MS });
    anthropic.reply({ text: 'Recovered.' });
    anthropic.replyOnce({ fail: { status: 529 } });
    const before = anthropic.requests.length;
    const res = await chatOk(gw, { model: m, messages: hi });
    expect(res).toMatchObject({ provider, attempts: 2, message: { content: 'Recovered.' } });
    expect(anthropic.requests.length - before).toBe(2);
  });
});

describe('retry-after', () => {
  it('429 with retry-after on the only target: the retry waits for it', async () => {
    const a = await target(mockError(429, { retryAfter: '1' }), { text: 'after waiting' });
    const m = await model([a], { timeoutMs: 5000 });
    const t0 = Date.now();
    const res = await chatOk(gw, { model: m, messages: hi });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
    expect(res).toMatchObject({ provider: a.provider, attempts: 2, message: { content: 'after waiting' } });
  });

  it('429 with retry-after takes the target aside for that long (even below the failure threshold); the next one answers at once', async () => {
    const a = await target(mockError(429, { retryAfter: '1' }), { text: 'a again' });
    const b = await target({ text: 'b' });
    const m = await model([a, b]);
    const t0 = Date.now();
    expect(await chatOk(gw, { model: m, messages: hi })).toMatchObject({ provider: b.provider, attempts: 2 });
    expect(Date.now() - t0).toBeLessThan(500);
    expect(await healthOf(gw, m, a.provider)).toBe(false);
    // while it is aside, a is not asked
    expect(await chatOk(gw, { model: m, messages: hi })).toMatchObject({ provider: b.provider, attempts: 1 });
    expect(calls(a)).toBe(1);
    while (!(await healthOf(gw, m, a.provider))) {
      if (Date.now() - t0 > 2500) throw new Error('a never came back');
      await sleep(25);
    }
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
    expect(await chatOk(gw, { model: m, messages: hi })).toMatchObject({ provider: a.provider, attempts: 1 });
  });

  it('Gemini 429 gives its delay only in the body (error.details[].retryDelay): it is honoured', async () => {
    // a Gemini upstream whose 429 carries google.rpc.RetryInfo and no retry-after header, as the real API does
    let n = 0;
    const times: number[] = [];
    const gem: MockServer = await startMockServer((req, res: ServerResponse) => {
      times.push(Date.now());
      if (n++ === 0) {
        return sendJson(res, 429, {
          error: {
            code: 429,
            message: 'You exceeded your current quota, please check your plan and billing details.',
            status: 'RESOURCE_EXHAUSTED',
            details: [
              { '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{ quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests' }] },
              { '@type': 'type.googleapis.com/google.rpc.Help', links: [{ description: 'Learn more', url: 'https://ai.google.dev/gemini-api/docs/rate-limits' }] },
              { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '1s' },
            ],
          },
        });
      }
      expect(req.path).toMatch(/:generateContent$/);
      sendJson(res, 200, {
        candidates: [{ content: { role: 'model', parts: [{ text: 'Hi after the quota wait.' }] }, finishReason: 'STOP', index: 0 }],
        usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 5, totalTokenCount: 8 },
        modelVersion: 'gemini-2.0-flash',
      });
    });
    try {
      const provider = uniq('gem');
      await createProvider(gw, { name: provider, kind: 'GEMINI', baseUrl: gem.url, apiKey: 'gm' });
      const m = uniq('m');
      await createModel(gw, { name: m, targets: [{ provider, upstreamModel: 'gemini-2.0-flash' }], timeoutMs: 5000 });
      const res = await chatOk(gw, { model: m, messages: hi });
      expect(res).toMatchObject({ provider, attempts: 2, message: { content: 'Hi after the quota wait.' } });
      expect(times).toHaveLength(2);
      expect(times[1] - times[0]).toBeGreaterThanOrEqual(950);
    } finally {
      await gem.close();
    }
  });
});

describe('non-retryable errors fail at once with the provider message', () => {
  it.each([400, 401, 403, 404])('%i: UPSTREAM_ERROR with extensions.status, the next target is never called', async (status) => {
    const message = `provider says no (${status})`;
    const a = await target(mockError(status, { message }));
    const b = await target({ text: 'never' });
    const m = await model([a, b]);
    const res = await chat(gw, { model: m, messages: hi });
    expect(res.data).toBeNull();
    expect(res.errors).toHaveLength(1);
    expect(res.errors![0].message).toContain(message);
    expect(res.errors![0].extensions).toMatchObject({ code: 'UPSTREAM_ERROR', status, provider: a.provider });
    expect([calls(a), calls(b)]).toEqual([1, 0]);
    const recs = await usageOf(gw, m);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ status: 'ERROR', errorCode: 'UPSTREAM_ERROR', provider: a.provider, attempts: 1 });
  });
});

describe('timeouts', () => {
  it(`a hung upstream fails over within timeoutMs (${TIMEOUT_MS}) plus a small margin, and its connection is closed`, async () => {
    const a = await target({ hang: true });
    const b = await target({ text: 'from b' });
    const m = await model([a, b]);
    const t0 = Date.now();
    const res = await chatOk(gw, { model: m, messages: hi });
    const took = Date.now() - t0;
    expect(res).toMatchObject({ provider: b.provider, attempts: 2 });
    expect(took).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);
    expect(took).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
    await withTimeout(up.requests(a.upstream)[0].closedEarly, 500, 'the hung request being aborted');
  });

  it('every attempt hung: UPSTREAM_TIMEOUT after maxAttemptsPerModel timeouts, not later', async () => {
    const a = await target({ hang: true });
    const m = await model([a]);
    const t0 = Date.now();
    const res = await chat(gw, { model: m, messages: hi });
    const took = Date.now() - t0;
    expect(res.errors?.[0].extensions).toMatchObject({ code: 'UPSTREAM_TIMEOUT', provider: a.provider });
    expect(calls(a)).toBe(3);
    expect(took).toBeLessThan(3 * TIMEOUT_MS + MARGIN_MS + 200);
    const recs = await usageOf(gw, m);
    expect(recs[0]).toMatchObject({ status: 'ERROR', errorCode: 'UPSTREAM_TIMEOUT', attempts: 3 });
  });

  it('a slow first byte (headers after timeoutMs) counts as a timeout too', async () => {
    const a = await target({ delayMs: TIMEOUT_MS + 400 });
    const b = await target({ text: 'quick' });
    const m = await model([a, b]);
    const t0 = Date.now();
    expect(await chatOk(gw, { model: m, messages: hi })).toMatchObject({ provider: b.provider, attempts: 2 });
    expect(Date.now() - t0).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
  });

  it('a stream whose upstream hangs before the first chunk fails over within the timeout', async () => {
    const a = await target({ hang: true });
    const b = await target({ text: 'streamed from b' });
    const m = await model([a, b]);
    const { chunks, errors, endedAt } = await streamAll(ws, { model: m, messages: hi });
    expect(errors).toEqual([]);
    expect(textOf(chunks)).toBe('streamed from b');
    expect(chunks[0].at).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
    expect(endedAt).toBeLessThan(TIMEOUT_MS + MARGIN_MS + 200);
    const recs = await usageEventually(gw, m, 1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ status: 'OK', streamed: true, provider: b.provider, attempts: 2 });
  });

  it('a stream that stalls after its first chunks ends within the per-event timeout: ERROR chunk, UPSTREAM_TIMEOUT, no switch', async () => {
    const a = await target({ text: 'one two three four', stallAfter: 3 });
    const b = await target({ text: 'never' });
    const m = await model([a, b]);
    const { chunks, errors, completed } = await streamAll(ws, { model: m, messages: hi });
    expect(completed).toBe(false);
    expect(chunks.map((c) => c.delta).filter(Boolean)).toEqual(['one', ' two']);
    const last = chunks[chunks.length - 1];
    expect(last.finishReason).toBe('ERROR');
    const lastText = chunks[chunks.length - 2];
    // the per-event timeout, counted from the last event that arrived
    expect(last.at - lastText.at).toBeGreaterThanOrEqual(TIMEOUT_MS - 20);
    expect(last.at - lastText.at).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
    expect(errors).toHaveLength(1);
    expect(errors[0].extensions).toMatchObject({ code: 'UPSTREAM_TIMEOUT', provider: a.provider });
    expect(calls(b)).toBe(0);
    await withTimeout(up.requests(a.upstream)[0].closedEarly, 500, 'the stalled upstream being closed');
    const recs = await usageEventually(gw, m, 1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ status: 'ERROR', errorCode: 'UPSTREAM_TIMEOUT', provider: a.provider, attempts: 1 });
  });
});

describe('streams never switch provider after their first chunk', () => {
  it('cut after two chunks: ERROR chunk then UPSTREAM_ERROR; the second target is never called', async () => {
    // events: role, " one", " two", then the socket is destroyed
    const a = await target({ text: 'one two three four five', cutAfter: 3, gapMs: 10 });
    const b = await target({ text: 'never' });
    const m = await model([a, b]);
    const { chunks, errors, completed } = await streamAll(ws, { model: m, messages: hi });
    expect(completed).toBe(false);
    expect(chunks.map((c) => c.delta)).toEqual(['one', ' two', '']);
    expect(chunks[2]).toMatchObject({ finishReason: 'ERROR' });
    // usage of what was streamed is still reported on the ERROR chunk
    expect(chunks[2].usage?.completionTokens).toBeGreaterThan(0);
    expect(errors).toHaveLength(1);
    expect(errors[0].extensions).toMatchObject({ code: 'UPSTREAM_ERROR', provider: a.provider });
    expect(calls(b)).toBe(0);
    const recs = await usageEventually(gw, m, 1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ status: 'ERROR', errorCode: 'UPSTREAM_ERROR', streamed: true, provider: a.provider, attempts: 1 });
  });

  it('a failure before the first chunk is retried on the next target; every chunk comes from it', async () => {
    const a = await target(mockError(503));
    const b = await target({ text: 'all from b' });
    const m = await model([a, b]);
    const { chunks, errors } = await streamAll(ws, { model: m, messages: hi });
    expect(errors).toEqual([]);
    expect(textOf(chunks)).toBe('all from b');
    expect(chunks.at(-1)?.finishReason).toBe('STOP');
    const recs = await usageEventually(gw, m, 1);
    expect(recs[0]).toMatchObject({ status: 'OK', provider: b.provider, attempts: 2 });
  });

  it('a target whose streams keep breaking mid-way goes into cooldown like any failing target', async () => {
    // (a gap lets the mock flush each event before it destroys the socket)
    const a = await target({ text: 'one two three', cutAfter: 2, gapMs: 10 });
    const b = await target({ text: 'fine' });
    const m = await model([a, b]);
    for (let i = 0; i < 3; i++) {
      const { chunks } = await streamAll(ws, { model: m, messages: hi });
      expect(chunks.at(-1)?.finishReason).toBe('ERROR');
    }
    // failureThreshold is 3 in this file
    expect(await healthOf(gw, m, a.provider)).toBe(false);
    const { chunks } = await streamAll(ws, { model: m, messages: hi });
    expect(textOf(chunks)).toBe('fine');
    expect(calls(a)).toBe(3);
  });
});

describe('cancellation', () => {
  it('unsubscribing while the upstream has not answered yet aborts it; the record is CANCELLED and names the attempt', async () => {
    const a = await target({ hang: true });
    const m = await model([a], { timeoutMs: 10_000 });
    const run = subscribeChat(ws, { model: m, messages: hi });
    while (!calls(a)) await sleep(10);
    run.unsubscribe();
    await withTimeout(up.requests(a.upstream)[0].closedEarly, 1000, 'the pending upstream request being aborted');
    const recs = await usageEventually(gw, m, 1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ status: 'CANCELLED', streamed: true, provider: a.provider, upstreamModel: a.upstream, attempts: 1 });
    // the client went away: that is no fault of the target
    expect(await healthOf(gw, m, a.provider)).toBe(true);
  });
});

describe('fallback models', () => {
  it('are tried in order when every target failed; ChatResult.model stays the name asked for; attempts count every try', async () => {
    const a = await target(mockError(500));
    const y = await target(mockError(503));
    const z = await target({ text: 'from the second fallback' });
    const fbY = await model([y]);
    const fbZ = await model([z]);
    const m = await model([a], { fallbacks: [fbY, fbZ] });
    const res = await chatOk(gw, { model: m, messages: hi });
    // 3 tries on a, 3 on y, 1 on z
    expect(res).toMatchObject({ model: m, provider: z.provider, upstreamModel: z.upstream, attempts: 7, message: { content: 'from the second fallback' } });
    expect([calls(a), calls(y), calls(z)]).toEqual([3, 3, 1]);
    const recs = await usageOf(gw, m);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ model: m, status: 'OK', provider: z.provider, upstreamModel: z.upstream, attempts: 7 });
    // the fallback models' own names get no records of their own
    expect(await usageOf(gw, fbZ)).toHaveLength(0);
  });

  it('work for streams too (before the first chunk)', async () => {
    const a = await target({ hang: true });
    const z = await target({ text: 'fallback stream' });
    const fb = await model([z]);
    const m = await model([a], { fallbacks: [fb] });
    const { chunks, errors } = await streamAll(ws, { model: m, messages: hi });
    expect(errors).toEqual([]);
    expect(textOf(chunks)).toBe('fallback stream');
    expect(chunks.every((c) => c.model === m)).toBe(true);
    const recs = await usageEventually(gw, m, 1);
    expect(recs[0]).toMatchObject({ status: 'OK', provider: z.provider, attempts: 4 });
  });

  it('loop protection: A falls back to B which falls back to A; the call ends with an error after each was tried once', async () => {
    const a = await target(mockError(500));
    const b = await target(mockError(503));
    const mA = uniq('loopA');
    const mB = uniq('loopB');
    await createModel(gw, { name: mA, targets: [{ provider: a.provider, upstreamModel: a.upstream }], fallbacks: [mB], timeoutMs: TIMEOUT_MS });
    await createModel(gw, { name: mB, targets: [{ provider: b.provider, upstreamModel: b.upstream }], fallbacks: [mA], timeoutMs: TIMEOUT_MS });
    const t0 = Date.now();
    const res = await withTimeout(chat(gw, { model: mA, messages: hi }), 5000, 'the looping call ending');
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(res.errors?.[0].extensions).toMatchObject({ code: 'UPSTREAM_ERROR', status: 503, provider: b.provider });
    expect([calls(a), calls(b)]).toEqual([3, 3]);
    const recs = await usageOf(gw, mA);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ status: 'ERROR', provider: b.provider, attempts: 6 });
  });

  it('attempts over all models are bounded (maxAttempts 8)', async () => {
    const ts = await Promise.all([1, 2, 3, 4].map(() => target(mockError(500))));
    const names = [uniq('c1'), uniq('c2'), uniq('c3'), uniq('c4')];
    for (let i = 3; i >= 0; i--) {
      await createModel(gw, { name: names[i], targets: [{ provider: ts[i].provider, upstreamModel: ts[i].upstream }], fallbacks: names.slice(i + 1), timeoutMs: TIMEOUT_MS });
    }
    const res = await chat(gw, { model: names[0], messages: hi });
    expect(res.errors?.[0].extensions?.code).toBe('UPSTREAM_ERROR');
    expect(ts.map(calls)).toEqual([3, 3, 2, 0]);
    expect((await usageOf(gw, names[0]))[0]).toMatchObject({ attempts: 8 });
  });
});

describe('usage records', () => {
  it('exactly one per invocation, whatever happened, with the attempts and the provider that answered (or the last tried)', async () => {
    const a = await target({ text: 'ok' });
    const b = await target({ text: 'ok' });
    const m = await model([a, b]);
    const expected: Array<[string, string, number, boolean]> = [];

    await chatOk(gw, { model: m, messages: hi }); // a answers
    expected.push(['OK', a.provider, 1, false]);

    up.set(a.upstream, mockError(500), {});
    await chatOk(gw, { model: m, messages: hi }); // a fails, b answers
    expected.push(['OK', b.provider, 2, false]);

    up.set(a.upstream, mockError(400));
    await chat(gw, { model: m, messages: hi }); // non-retryable
    expected.push(['ERROR', a.provider, 1, false]);

    up.set(a.upstream, mockError(503));
    up.set(b.upstream, mockError(503));
    await chat(gw, { model: m, messages: hi }); // a, b, a all fail (a is retried last)
    expected.push(['ERROR', a.provider, 3, false]);
    // that was a's third failure in a row (threshold 3): let its cooldown pass
    await sleep(COOLDOWN_MS + 50);

    up.set(a.upstream, { text: 'streamed answer' });
    up.set(b.upstream, { text: 'streamed answer' });
    await streamAll(ws, { model: m, messages: hi });
    expected.push(['OK', a.provider, 1, true]);

    up.set(a.upstream, { text: 'one two three four five six', stallAfter: 2 });
    const run = subscribeChat(ws, { model: m, messages: hi });
    await withTimeout(run.firstChunk, 3000, 'the first chunk');
    run.unsubscribe();
    expected.push(['CANCELLED', a.provider, 1, true]);

    up.set(a.upstream, { text: 'one two three', cutAfter: 2, gapMs: 10 });
    await streamAll(ws, { model: m, messages: hi });
    expected.push(['ERROR', a.provider, 1, true]);

    const recs = await usageEventually(gw, m, expected.length);
    await sleep(100);
    const final = await usageOf(gw, m);
    expect(final).toHaveLength(expected.length);
    expect(recs).toHaveLength(expected.length);
    // newest first
    expect(final.reverse().map((r) => [r.status, r.provider, r.attempts, r.streamed])).toEqual(expected);
  });
});
