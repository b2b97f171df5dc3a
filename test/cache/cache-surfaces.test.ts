/*
 * The exact response cache on every surface, against an upstream that takes 200 ms: the second identical call is
 * answered from the cache, with the same content, in a fraction of the time, without asking the upstream.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { sseSubscribe } from '../kit/sse.js';
import { createWsClient, wsCollect } from '../kit/ws.js';
import { startOpenAIMock, type OpenAIMock } from '../mocks/openai.js';
import { sseData } from '../rest/kit.js';
import { addMockModels, chat, CHAT_STREAM, input, usageOf, type StreamChunk } from './kit.js';

const SLOW = { delayMs: 200, text: 'Paris is the capital of France.', usage: { prompt_tokens: 12, completion_tokens: 7 } };

let gw: TestGateway;
let mock: OpenAIMock;
let key: { id: string; uuid: string; secret: string };

beforeAll(async () => {
  [gw, mock] = await Promise.all([startGateway(), startOpenAIMock({ reply: SLOW })]);
  await addMockModels(gw, mock, [{ name: 'cached', cache: { mode: 'EXACT' } }, { name: 'plain' }, { name: 'embedder' }]);
  key = await gw.createKey({ scopes: ['INVOKE', 'READ_USAGE'] });
});
afterAll(async () => {
  await gw?.stop();
  await mock?.close();
});
beforeEach(() => {
  mock.reset();
  mock.reply(SLOW);
});

let n = 0;
/** A question no other test asks, so each test starts from a cold cache. */
const fresh = (what: string) => `${what} #${++n}`;

async function streamOverSse(secret: string, vars: Record<string, unknown>): Promise<{ chunks: StreamChunk[]; ms: number }> {
  const started = performance.now();
  const sub = sseSubscribe<{ chatStream: StreamChunk }>(gw.url, CHAT_STREAM, { input: vars }, secret);
  const chunks: StreamChunk[] = [];
  for await (const r of sub.results) {
    if (r.errors) throw new Error(JSON.stringify(r.errors));
    chunks.push(r.data!.chatStream);
  }
  return { chunks, ms: performance.now() - started };
}

const textOf = (chunks: StreamChunk[]) => chunks.map((c) => c.delta).join('');

describe('GraphQL chat', () => {
  it('answers the second identical call from the cache: same content, a fraction of the time, no upstream call, no cost', async () => {
    const q = input('cached', fresh('What is the capital of France?'), { temperature: 0 });
    const first = await chat(gw, key.secret, q);
    const second = await chat(gw, key.secret, q);
    expect(first.ms).toBeGreaterThanOrEqual(200);
    expect(second.ms).toBeLessThan(first.ms / 2);
    expect(second.answer.message.content).toBe(first.answer.message.content);
    expect(second.answer.finishReason).toBe('STOP');
    expect(mock.chatRequests()).toHaveLength(1);
    // the hit costs nothing; the caller still sees the tokens the answer is made of
    expect(second.answer.usage.costUsd).toBe(0);
    expect(second.answer.usage.totalTokens).toBe(first.answer.usage.totalTokens);

    const rows = (await usageOf(gw, key.id)).filter((r) => r.invocationId === first.answer.id || r.invocationId === second.answer.id);
    expect(rows.map((r) => r.cacheHit)).toEqual([null, 'EXACT']);
    expect(rows[1]!.costUsd).toBe(0);
    expect(rows[1]!.costSavedUsd).toBeCloseTo(rows[0]!.costUsd, 10);
    expect(rows[0]!.costUsd).toBeGreaterThan(0);
  });

  it('misses when anything that shapes the answer differs, and never caches where the mode is OFF', async () => {
    const text = fresh('Name a colour');
    // only counting requests here: no need to wait for a slow upstream
    mock.reply({ ...SLOW, delayMs: 0 });
    await chat(gw, key.secret, input('cached', text));
    await chat(gw, key.secret, input('cached', text, { temperature: 0.5 }));
    await chat(gw, key.secret, input('cached', text, { maxTokens: 20 }));
    // OFF on the request wins over the model's EXACT
    await chat(gw, key.secret, input('cached', text, { cache: { mode: 'OFF' } }));
    // the model without a policy: not cached, unless the request asks
    await chat(gw, key.secret, input('plain', text));
    await chat(gw, key.secret, input('plain', text));
    expect(mock.chatRequests()).toHaveLength(6);
    await chat(gw, key.secret, input('plain', text, { cache: { mode: 'EXACT' } }));
    await chat(gw, key.secret, input('plain', text, { cache: { mode: 'EXACT' } }));
    expect(mock.chatRequests()).toHaveLength(7);
  });

  it('does not cache an answer that did not finish normally', async () => {
    const q = input('cached', fresh('Tell me something filtered'));
    mock.reply({ ...SLOW, delayMs: 0, finishReason: 'content_filter' });
    await chat(gw, key.secret, q);
    await chat(gw, key.secret, q);
    expect(mock.chatRequests()).toHaveLength(2);
  });

  it('refuses a bad ttl naming the field', async () => {
    const res = await gw.gql(
      'mutation($input: ChatInput!) { chat(input: $input) { id } }',
      { input: input('cached', 'x', { cache: { mode: 'EXACT', ttlSeconds: 0 } }) },
      key.secret,
    );
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.cache.ttlSeconds' });
  });
});

describe('chatStream', () => {
  it('over SSE: the hit streams in the same shape as the live stream, with finishReason and usage last', async () => {
    const q = input('cached', fresh('Stream me the capital of France'));
    const live = await streamOverSse(key.secret, q);
    const hit = await streamOverSse(key.secret, q);
    expect(mock.chatRequests()).toHaveLength(1);
    expect(hit.ms).toBeLessThan(live.ms / 2);
    expect(textOf(hit.chunks)).toBe(textOf(live.chunks));
    expect(textOf(hit.chunks)).toBe(SLOW.text);
    const [lastLive, lastHit] = [live.chunks.at(-1)!, hit.chunks.at(-1)!];
    expect(lastHit).toMatchObject({ delta: '', finishReason: 'STOP', toolCalls: null });
    expect(lastHit.usage).toEqual({ ...lastLive.usage, costUsd: 0 });
    expect(hit.chunks.slice(0, -1).every((c) => c.finishReason === null && c.usage === null)).toBe(true);
    expect(hit.chunks.map((c) => c.index)).toEqual(hit.chunks.map((_, i) => i));
    // a stream and a unary call with the same question share the entry
    const unary = await chat(gw, key.secret, q);
    expect(unary.answer.message.content).toBe(SLOW.text);
    expect(mock.chatRequests()).toHaveLength(1);
  });

  it('over graphql-ws: the same', async () => {
    const client = createWsClient(gw.url, key.secret);
    try {
      const q = input('cached', fresh('Stream it over a websocket'));
      const t0 = performance.now();
      const live = (await wsCollect<{ chatStream: StreamChunk }>(client, CHAT_STREAM, { input: q })).map((r) => r.data!.chatStream);
      const t1 = performance.now();
      const hit = (await wsCollect<{ chatStream: StreamChunk }>(client, CHAT_STREAM, { input: q })).map((r) => r.data!.chatStream);
      const t2 = performance.now();
      expect(mock.chatRequests()).toHaveLength(1);
      expect(t2 - t1).toBeLessThan((t1 - t0) / 2);
      expect(textOf(hit)).toBe(textOf(live));
      expect(hit.at(-1)).toMatchObject({ finishReason: 'STOP', usage: { ...live.at(-1)!.usage, costUsd: 0 } });
    } finally {
      await client.dispose();
    }
  });

  it('does not cache a stream the client cancelled half-way', async () => {
    const q = input('cached', fresh('A long story, please'));
    mock.reply({ ...SLOW, delayMs: 0, text: 'one two three four five six', gapMs: 60 });
    const sub = sseSubscribe<{ chatStream: StreamChunk }>(gw.url, CHAT_STREAM, { input: q }, key.secret);
    for await (const r of sub.results) {
      if (r.data?.chatStream.delta) break;
    }
    sub.abort();
    await new Promise((r) => setTimeout(r, 150));
    const rows = await usageOf(gw, key.id);
    expect(rows.at(-1)!.status).toBe('CANCELLED');
    const again = await streamOverSse(key.secret, q);
    expect(textOf(again.chunks)).toBe('one two three four five six');
    expect(mock.chatRequests()).toHaveLength(2);
  });
});

describe('REST /v1/chat/completions', () => {
  const body = (text: string, extra: Record<string, unknown> = {}) => ({ model: 'plain', messages: [{ role: 'user', content: text }], ...extra });
  const post = (b: unknown, headers: Record<string, string> = {}) =>
    fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key.secret}`, ...headers }, body: JSON.stringify(b) });

  it('takes x-gateway-cache and answers whether it hit in x-gateway-cache, streamed or not', async () => {
    const b = body(fresh('REST question'));
    const r1 = await post(b, { 'x-gateway-cache': 'exact', 'x-gateway-cache-ttl': '60' });
    expect(r1.headers.get('x-gateway-cache')).toBe('MISS');
    const c1 = (await r1.json()) as { choices: Array<{ message: { content: string } }> };
    const t0 = performance.now();
    const r2 = await post(b, { 'x-gateway-cache': 'EXACT' });
    expect(performance.now() - t0).toBeLessThan(150);
    expect(r2.headers.get('x-gateway-cache')).toBe('HIT-EXACT');
    const c2 = (await r2.json()) as typeof c1;
    expect(c2.choices[0]!.message.content).toBe(c1.choices[0]!.message.content);

    const r3 = await post({ ...b, stream: true, stream_options: { include_usage: true } }, { 'x-gateway-cache': 'exact' });
    expect(r3.headers.get('x-gateway-cache')).toBe('HIT-EXACT');
    const events = await sseData(r3);
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as { choices: Array<{ delta: { content?: string }; finish_reason: string | null }>; usage?: { total_tokens: number } | null });
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(SLOW.text);
    expect(chunks.some((c) => c.choices[0]?.finish_reason === 'stop')).toBe(true);
    expect(chunks.at(-1)!.usage?.total_tokens).toBe(19);
    expect(mock.chatRequests()).toHaveLength(1);

    // without the header the model's policy (none) applies: no cache, no header
    const r4 = await post(b);
    expect(r4.headers.get('x-gateway-cache')).toBeNull();
    expect(mock.chatRequests()).toHaveLength(2);
  });

  it('caches a stream and replays it to a non-streaming call', async () => {
    const b = body(fresh('Streamed first'));
    const r1 = await post({ ...b, stream: true }, { 'x-gateway-cache': 'exact' });
    expect(r1.headers.get('x-gateway-cache')).toBe('MISS');
    await sseData(r1);
    const r2 = await post(b, { 'x-gateway-cache': 'exact' });
    expect(r2.headers.get('x-gateway-cache')).toBe('HIT-EXACT');
    expect(((await r2.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content).toBe(SLOW.text);
    expect(mock.chatRequests()).toHaveLength(1);
  });

  it.each([
    ['x-gateway-cache', 'sometimes'],
    // names every plain object inherits must not pass for modes
    ['x-gateway-cache', 'constructor'],
    ['x-gateway-cache', 'toString'],
    ['x-gateway-cache-ttl', 'soon'],
    ['x-gateway-cache-ttl', '0'],
    ['x-gateway-cache-ttl', '99999999'],
  ])('answers 400 naming %s for %j', async (header, value) => {
    const r = await post(body('bad header'), { [header]: value });
    expect(r.status).toBe(400);
    const e = (await r.json()) as { error: { param: string; code: string } };
    expect(e.error).toMatchObject({ param: header, code: 'BAD_USER_INPUT' });
    expect(mock.chatRequests()).toHaveLength(0);
  });

  it('documents the headers in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${gw.url}/openapi.json`)).json()) as { paths: Record<string, { post: { parameters: Array<{ name: string; in: string }>; responses: Record<string, { headers?: Record<string, unknown> }> } }> };
    for (const path of ['/v1/chat/completions', '/v1/prompts/{name}/run']) {
      const op = doc.paths[path]!.post;
      expect(op.parameters.filter((p) => p.in === 'header').map((p) => p.name)).toEqual(expect.arrayContaining(['x-gateway-cache', 'x-gateway-cache-ttl']));
      expect(op.responses['200']!.headers).toHaveProperty('x-gateway-cache');
    }
  });
});

describe('prompts', () => {
  it('runPrompt goes through the cache like chat', async () => {
    const created = await gw.gql('mutation($i: CreatePromptInput!) { createPrompt(input: $i) { name } }', {
      i: { name: 'capital', model: 'cached', messages: [{ role: 'USER', content: 'Capital of {{country}}?' }] },
    });
    expect(created.errors).toBeUndefined();
    const run = async () => {
      const t0 = performance.now();
      const r = await gw.gql<{ runPrompt: { message: { content: string } } }>(
        'mutation($v: JSON) { runPrompt(name: "capital", variables: $v) { message { content } } }',
        { v: { country: 'France' } },
        key.secret,
      );
      expect(r.errors).toBeUndefined();
      return { content: r.data!.runPrompt.message.content, ms: performance.now() - t0 };
    };
    const a = await run();
    const b = await run();
    expect(b.content).toBe(a.content);
    expect(b.ms).toBeLessThan(a.ms / 2);
    expect(mock.chatRequests()).toHaveLength(1);
    const rest = await fetch(`${gw.url}/v1/prompts/capital/run`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key.secret}` },
      body: JSON.stringify({ variables: { country: 'France' } }),
    });
    expect(rest.headers.get('x-gateway-cache')).toBe('HIT-EXACT');
    expect(mock.chatRequests()).toHaveLength(1);
  });
});

describe('semantic, with the index the gateway set up', () => {
  it('a paraphrase is answered from the cache, on GraphQL and REST, with its similarity on the record', async () => {
    const set = (m: string | null) => gw.gql('mutation($m: String) { updateCacheSettings(input: { embeddingModel: $m, similarityThreshold: 0.9 }) { vectorIndex } }', { m });
    const vi = await set('embedder');
    expect(vi.data).toEqual({ updateCacheSettings: { vectorIndex: 'pgvector' } });
    try {
      const [q1, q2, far] = [fresh('What is the capital of Spain?'), fresh('Which city is the capital of Spain?'), fresh('How tall is Everest?')];
      mock.reply({ ...SLOW, delayMs: 0, vectors: { [q1]: [1, 0, 0], [q2]: [0.98, 0.2, 0], [far]: [0, 0, 1] } });
      const ask = (text: string) => input('plain', text, { cache: { mode: 'SEMANTIC' } });
      const first = await chat(gw, key.secret, ask(q1));
      const para = await chat(gw, key.secret, ask(q2));
      expect(para.answer.message.content).toBe(first.answer.message.content);
      await chat(gw, key.secret, ask(far));
      expect(mock.chatRequests()).toHaveLength(2);
      const rows = (await usageOf(gw, key.id)).filter((r) => r.invocationId === para.answer.id);
      expect(rows[0]).toMatchObject({ cacheHit: 'SEMANTIC', costUsd: 0 });
      expect(rows[0]!.cacheSimilarity).toBeCloseTo(0.98 / Math.hypot(0.98, 0.2), 4);

      const rest = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key.secret}`, 'x-gateway-cache': 'semantic' },
        body: JSON.stringify({ model: 'plain', messages: [{ role: 'user', content: q2 }] }),
      });
      // the same question as `para` asked: REST and GraphQL share entries
      expect(rest.headers.get('x-gateway-cache')).toMatch(/^HIT-/);
      expect(mock.chatRequests()).toHaveLength(2);
    } finally {
      await set(null);
    }
  });
});
