import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { countTextTokens } from '../../src/providers/count-tokens.js';
import { createGeminiAdapter } from '../../src/providers/gemini/index.js';
import { SKIP_THOUGHT_SIGNATURE } from '../../src/providers/gemini/request.js';
import { closeUpstreamAgent } from '../../src/providers/http.js';
import { UpstreamError, type CallOptions, type ChatRequest, type StreamChunk } from '../../src/providers/types.js';
import { mockEmbedding, startGeminiMock, type GeminiMock } from '../mocks/gemini.js';

const KEY = 'AIza-test-secret-456';
const adapter = createGeminiAdapter();
let mock: GeminiMock;

beforeAll(async () => {
  mock = await startGeminiMock();
});
afterAll(async () => {
  await mock.close();
  await closeUpstreamAgent();
});
beforeEach(() => {
  mock.reply({});
  mock.requests.length = 0;
});

function opts(over: Partial<CallOptions> = {}): CallOptions {
  return { signal: new AbortController().signal, timeoutMs: 5_000, baseUrl: mock.url, apiKey: KEY, ...over };
}

function req(over: Partial<ChatRequest> = {}): ChatRequest {
  return { model: 'gemini-2.5-flash', messages: [{ role: 'USER', content: 'Hi' }], ...over };
}

async function collect(it: AsyncIterable<StreamChunk>): Promise<Array<StreamChunk & { at: number }>> {
  const out: Array<StreamChunk & { at: number }> = [];
  for await (const c of it) out.push({ ...c, at: Date.now() });
  return out;
}

async function failure(p: Promise<unknown>): Promise<UpstreamError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(UpstreamError);
  return e as UpstreamError;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_, rej) => setTimeout(() => rej(new Error(`${what} did not happen within ${ms}ms`)), ms))]);
}

function expectKeyOnlyInHeader(): void {
  const r = mock.last();
  expect(r.headers['x-goog-api-key']).toBe(KEY);
  for (const [name, value] of Object.entries(r.headers)) if (name !== 'x-goog-api-key') expect(String(value)).not.toContain(KEY);
  expect(r.path).not.toContain(KEY);
  expect(r.path).not.toContain('key=');
  expect(JSON.stringify(r.body)).not.toContain(KEY);
}

const weather = {
  name: 'get_weather',
  description: 'Weather for a city',
  parameters: {
    $schema: 'http://json-schema.org/draft-07/schema#',
    type: 'object',
    properties: { city: { type: 'string' }, units: { type: ['string', 'null'], enum: ['C', 'F'] } },
    required: ['city'],
    additionalProperties: false,
  },
};

describe('gemini adapter: request mapping', () => {
  it('posts generateContent with the key in x-goog-api-key only, systemInstruction, user/model roles and generationConfig', async () => {
    await adapter.chat(
      req({
        model: 'models/gemini-2.5-flash',
        messages: [
          { role: 'SYSTEM', content: 'You are terse.' },
          { role: 'USER', content: 'Hi' },
          { role: 'ASSISTANT', content: 'Hello' },
          { role: 'USER', content: 'Weather?' },
        ],
        temperature: 0.4,
        topP: 0.8,
        maxTokens: 128,
        stop: ['END'],
        seed: 7,
      }),
      opts({ baseUrl: `${mock.url}/` }),
    );
    const r = mock.last();
    expect(r.method).toBe('POST');
    expect(r.path).toBe('/v1beta/models/gemini-2.5-flash:generateContent');
    expectKeyOnlyInHeader();
    expect(r.body).toEqual({
      systemInstruction: { parts: [{ text: 'You are terse.' }] },
      contents: [
        { role: 'user', parts: [{ text: 'Hi' }] },
        { role: 'model', parts: [{ text: 'Hello' }] },
        { role: 'user', parts: [{ text: 'Weather?' }] },
      ],
      generationConfig: { temperature: 0.4, topP: 0.8, maxOutputTokens: 128, stopSequences: ['END'], seed: 7 },
    });
  });

  it('a model name is one encoded path segment: a name full of path syntax never leaves /v1beta/models/ (chat, stream, embed)', async () => {
    const model = '../../../admin/export?all=1#';
    const segment = encodeURIComponent(model);
    await adapter.chat(req({ model }), opts());
    await collect(adapter.stream(req({ model }), opts()));
    await adapter.embed!({ model, input: ['x'] }, opts()).catch(() => undefined);
    expect(mock.requests.map((r) => r.path)).toEqual([
      `/v1beta/models/${segment}:generateContent`,
      `/v1beta/models/${segment}:streamGenerateContent?alt=sse`,
      `/v1beta/models/${segment}:batchEmbedContents`,
    ]);
  });

  it('JSON mode sets responseMimeType', async () => {
    await adapter.chat(req({ jsonMode: true }), opts());
    expect(mock.last().body.generationConfig).toEqual({ responseMimeType: 'application/json' });
    expect(mock.last().body).not.toHaveProperty('systemInstruction');
  });

  it('reasoning becomes generationConfig.thinkingConfig.thinkingBudget (a budget as given, an effort via the shared budgets)', async () => {
    // https://ai.google.dev/gemini-api/docs/thinking#set-budget
    await adapter.chat(req({ reasoning: { budgetTokens: 0 } }), opts());
    expect(mock.last().body.generationConfig).toEqual({ thinkingConfig: { thinkingBudget: 0 } });
    await adapter.chat(req({ reasoning: { effort: 'MEDIUM' } }), opts());
    expect(mock.last().body.generationConfig).toEqual({ thinkingConfig: { thinkingBudget: 4096 } });
    await adapter.chat(req({ reasoning: { effort: 'HIGH' }, maxTokens: 2000 }), opts());
    expect(mock.last().body.generationConfig).toEqual({ maxOutputTokens: 2000, thinkingConfig: { thinkingBudget: 1999 } });
    await adapter.chat(req(), opts());
    expect(mock.last().body).not.toHaveProperty('generationConfig');
  });

  it('sends data: images inline and other URLs as fileData with a guessed MIME type', async () => {
    await adapter.chat(
      req({
        messages: [
          {
            role: 'USER',
            content: 'Describe these',
            parts: [
              { type: 'IMAGE_URL', imageUrl: 'data:image/png;base64,iVBORw0KGgo=' },
              { type: 'IMAGE_URL', imageUrl: 'https://example.com/photos/cat.webp?size=large' },
            ],
          },
        ],
      }),
      opts(),
    );
    expect(mock.last().body.contents[0].parts).toEqual([
      { text: 'Describe these' },
      { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } },
      { fileData: { mimeType: 'image/webp', fileUri: 'https://example.com/photos/cat.webp?size=large' } },
    ]);
  });

  it('sends tools as functionDeclarations with a Gemini-compatible schema', async () => {
    await adapter.chat(req({ tools: [weather, { name: 'get_time' }, { name: 'ping', parameters: { type: 'object', properties: {} } }] }), opts());
    expect(mock.last().body.tools).toEqual([
      {
        functionDeclarations: [
          {
            name: 'get_weather',
            description: 'Weather for a city',
            parameters: {
              type: 'object',
              properties: { city: { type: 'string' }, units: { type: 'string', nullable: true, enum: ['C', 'F'] } },
              required: ['city'],
            },
          },
          { name: 'get_time' },
          { name: 'ping' },
        ],
      },
    ]);
    expect(mock.last().body).not.toHaveProperty('toolConfig');
  });

  it.each([
    ['AUTO', { mode: 'AUTO' }],
    ['NONE', { mode: 'NONE' }],
    ['REQUIRED', { mode: 'ANY' }],
    [{ name: 'get_weather' }, { mode: 'ANY', allowedFunctionNames: ['get_weather'] }],
  ] as const)('maps tool choice %j', async (choice, expected) => {
    await adapter.chat(req({ tools: [weather], toolChoice: choice }), opts());
    expect(mock.last().body.toolConfig).toEqual({ functionCallingConfig: expected });
  });

  it('round-trips tool calls: functionCall parts in the model turn, functionResponse parts merged into one user turn', async () => {
    const messages: ChatRequest['messages'] = [
      { role: 'USER', content: 'Weather in Paris and Rome?' },
      {
        role: 'ASSISTANT',
        content: null,
        toolCalls: [
          { id: 'call_0', name: 'get_weather', arguments: '{"city":"Paris"}' },
          { id: 'call_1', name: 'get_weather', arguments: '{"city":"Rome"}' },
        ],
      },
      { role: 'TOOL', toolCallId: 'call_0', content: '{"temp":21}' },
      { role: 'TOOL', toolCallId: 'call_1', name: 'get_weather', content: '"sunny"' },
    ];
    await adapter.chat(req({ tools: [weather], messages }), opts());
    expect(mock.last().body.contents).toEqual([
      { role: 'user', parts: [{ text: 'Weather in Paris and Rome?' }] },
      {
        role: 'model',
        parts: [
          { functionCall: { name: 'get_weather', args: { city: 'Paris' } } },
          { functionCall: { name: 'get_weather', args: { city: 'Rome' } } },
        ],
      },
      {
        role: 'user',
        parts: [
          { functionResponse: { name: 'get_weather', response: { temp: 21 } } },
          { functionResponse: { name: 'get_weather', response: { content: 'sunny' } } },
        ],
      },
    ]);

    // Gemini 3 rejects replayed calls without a thought signature: the first call of the turn gets the documented sentinel
    await adapter.chat(req({ model: 'gemini-3-pro-preview', tools: [weather], messages }), opts());
    const parts = mock.last().body.contents[1].parts;
    expect(parts[0].thoughtSignature).toBe(SKIP_THOUGHT_SIGNATURE);
    expect(parts[1]).not.toHaveProperty('thoughtSignature');
  });

  it('names each functionResponse after the call it answers, even when a history reuses a call id in every round', async () => {
    // what gateways before unique ids handed out: every round's first call was call_0
    const messages: ChatRequest['messages'] = [
      { role: 'USER', content: 'Weather and time in Paris?' },
      { role: 'ASSISTANT', content: null, toolCalls: [{ id: 'call_0', name: 'get_weather', arguments: '{"city":"Paris"}' }] },
      { role: 'TOOL', toolCallId: 'call_0', content: '{"temp":21}' },
      { role: 'ASSISTANT', content: null, toolCalls: [{ id: 'call_0', name: 'get_time', arguments: '{}' }] },
      { role: 'TOOL', toolCallId: 'call_0', content: '{"time":"12:00"}' },
    ];
    await adapter.chat(req({ tools: [weather, { name: 'get_time' }], messages }), opts());
    const responses = mock.last().body.contents.flatMap((c: { parts: Array<{ functionResponse?: unknown }> }) => c.parts.filter((p) => p.functionResponse));
    expect(responses).toEqual([
      { functionResponse: { name: 'get_weather', response: { temp: 21 } } },
      { functionResponse: { name: 'get_time', response: { time: '12:00' } } },
    ]);
  });
});

describe('gemini adapter: responses', () => {
  it('maps text, responseId, modelVersion, finish reason and exact usage (thoughts count as completion)', async () => {
    mock.reply({
      text: 'Hello there',
      responseId: 'resp_1',
      modelVersion: 'gemini-2.5-flash-001',
      usage: { promptTokenCount: 9, cachedContentTokenCount: 6, candidatesTokenCount: 3, thoughtsTokenCount: 20 },
    });
    expect(await adapter.chat(req(), opts())).toEqual({
      id: 'resp_1',
      upstreamModel: 'gemini-2.5-flash-001',
      content: 'Hello there',
      toolCalls: [],
      finishReason: 'STOP',
      usage: { promptTokens: 9, completionTokens: 23, totalTokens: 32, cachedReadTokens: 6, reasoningTokens: 20, exact: true },
    });
  });

  it('maps function calls with made-up ids, or the id Gemini sent, and finishes with TOOL_CALLS', async () => {
    mock.reply({
      functionCalls: [
        { name: 'get_weather', args: { city: 'Paris' } },
        { name: 'get_weather', args: { city: 'Rome' }, id: 'fc_abc' },
      ],
    });
    const res = await adapter.chat(req({ tools: [weather] }), opts());
    expect(res.finishReason).toBe('TOOL_CALLS');
    expect(res.content).toBeNull();
    expect(res.toolCalls).toEqual([
      { id: expect.stringMatching(/^call_./), name: 'get_weather', arguments: '{"city":"Paris"}' },
      { id: 'fc_abc', name: 'get_weather', arguments: '{"city":"Rome"}' },
    ]);
    // a made-up id is never made up again in a later round of the same conversation
    const again = await adapter.chat(req({ tools: [weather] }), opts());
    expect(again.toolCalls[0].id).toMatch(/^call_./);
    expect(again.toolCalls[0].id).not.toBe(res.toolCalls[0].id);
  });

  it.each([
    ['STOP', 'STOP'],
    ['MAX_TOKENS', 'LENGTH'],
    ['SAFETY', 'CONTENT_FILTER'],
    ['RECITATION', 'CONTENT_FILTER'],
    ['BLOCKLIST', 'CONTENT_FILTER'],
    ['PROHIBITED_CONTENT', 'CONTENT_FILTER'],
    ['SPII', 'CONTENT_FILTER'],
    ['OTHER', 'STOP'],
  ] as const)('maps finishReason %s to %s', async (finishReason, expected) => {
    mock.reply({ text: 'x', finishReason });
    expect((await adapter.chat(req(), opts())).finishReason).toBe(expected);
  });

  it('a blocked prompt (promptFeedback.blockReason, no candidates) is CONTENT_FILTER', async () => {
    mock.reply({ blockReason: 'SAFETY', usage: { promptTokenCount: 5, candidatesTokenCount: 0 } });
    const res = await adapter.chat(req(), opts());
    expect(res.finishReason).toBe('CONTENT_FILTER');
    expect(res.content).toBeNull();
    expect(res.usage).toEqual({ promptTokens: 5, completionTokens: 0, totalTokens: 5, exact: true });
    mock.reply({ blockReason: 'OTHER' });
    const chunks = await collect(adapter.stream(req(), opts()));
    expect(chunks[chunks.length - 1].finishReason).toBe('CONTENT_FILTER');
  });
});

describe('gemini adapter: streaming', () => {
  it('yields text chunks as the events arrive, then the last cumulative usage and finishReason', async () => {
    mock.reply({ text: 'one two three four five', gapMs: 100, usage: { promptTokenCount: 8, candidatesTokenCount: 5 } });
    const started = Date.now();
    const chunks = await collect(adapter.stream(req(), opts()));
    expect(mock.last().path).toBe('/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse');
    expectKeyOnlyInHeader();
    const text = chunks.filter((c) => c.delta);
    expect(text.map((c) => c.delta)).toEqual(['one', ' two', ' three', ' four', ' five']);
    // five events sent 100 ms apart: the first must arrive long before the last
    expect(text[0].at - started).toBeLessThan(500);
    expect(text[text.length - 1].at - text[0].at).toBeGreaterThanOrEqual(300);
    const last = chunks[chunks.length - 1];
    expect(last.finishReason).toBe('STOP');
    expect(last.usage).toEqual({ promptTokens: 8, completionTokens: 5, totalTokens: 13, exact: true });
    expect(chunks.slice(0, -1).every((c) => c.finishReason === undefined && c.usage === undefined)).toBe(true);
  });

  it('streams function calls as whole tool-call deltas and finishes with TOOL_CALLS', async () => {
    mock.reply({ text: 'Checking', functionCalls: [{ name: 'get_weather', args: { city: 'Paris' } }, { name: 'get_time' }] });
    const chunks = await collect(adapter.stream(req({ tools: [weather] }), opts()));
    const deltas = chunks.flatMap((c) => c.toolCalls ?? []);
    expect(deltas).toEqual([
      { index: 0, id: expect.stringMatching(/^call_./), name: 'get_weather', argumentsDelta: '{"city":"Paris"}' },
      { index: 1, id: expect.stringMatching(/^call_./), name: 'get_time', argumentsDelta: '{}' },
    ]);
    expect(deltas[0].id).not.toBe(deltas[1].id);
    expect(chunks[chunks.length - 1].finishReason).toBe('TOOL_CALLS');
  });

  it('aborting the signal closes the upstream connection and ends the iterator', async () => {
    mock.reply({ text: 'a b c d e f g h i j', gapMs: 100 });
    const ac = new AbortController();
    const it = adapter.stream(req(), opts({ signal: ac.signal }))[Symbol.asyncIterator]();
    const first = await it.next();
    expect(first.value?.delta).toBe('a');
    ac.abort();
    const next = await it.next().then(
      (r) => r,
      (e: unknown) => e,
    );
    if (!(next instanceof Error)) expect(next).toEqual({ done: true, value: undefined });
    await withTimeout(mock.last().closedEarly, 1_000, 'upstream connection close');
  });

  it('a stream cut mid-way throws a retryable UpstreamError instead of hanging', async () => {
    mock.reply({ text: 'a b c d', cutAfter: 2 });
    const e = await withTimeout(failure(collect(adapter.stream(req(), opts()))), 3_000, 'stream failure');
    expect(e.retryable).toBe(true);
  });

  it('an error object in the stream becomes an UpstreamError', async () => {
    mock.reply({ text: 'a b c', streamError: { code: 503, status: 'UNAVAILABLE', message: 'The model is overloaded.' } });
    const e = await failure(collect(adapter.stream(req(), opts())));
    expect(e.retryable).toBe(true);
    expect(e.status).toBe(503);
    expect(e.message).toContain('The model is overloaded.');
  });

  it('a stream that ends cleanly before the finishReason throws a retryable UpstreamError', async () => {
    mock.reply({ text: 'a b c d', endAfter: 3 });
    const e = await failure(collect(adapter.stream(req(), opts())));
    expect(e.retryable).toBe(true);
    expect(e.message).toContain('finish reason');
  });

  it('a stream that stalls times out', async () => {
    mock.reply({ text: 'a b c d', stallAfter: 2 });
    const e = await withTimeout(failure(collect(adapter.stream(req(), opts({ timeoutMs: 300 })))), 3_000, 'stream timeout');
    expect(e.timeout).toBe(true);
  });
});

describe('gemini adapter: embeddings', () => {
  it('posts batchEmbedContents and counts usage locally', async () => {
    const input = ['hello world', 'second text'];
    const res = await adapter.embed!({ model: 'gemini-embedding-001', input }, opts());
    const r = mock.last();
    expect(r.path).toBe('/v1beta/models/gemini-embedding-001:batchEmbedContents');
    expectKeyOnlyInHeader();
    expect(r.body).toEqual({
      requests: input.map((text) => ({ model: 'models/gemini-embedding-001', content: { parts: [{ text }] } })),
    });
    expect(res.vectors).toEqual(input.map((t) => mockEmbedding(t)));
    const tokens = countTextTokens('hello world') + countTextTokens('second text');
    expect(res.usage).toEqual({ promptTokens: tokens, completionTokens: 0, totalTokens: tokens, exact: false });
    expect(res.upstreamModel).toBe('gemini-embedding-001');
  });

  it('splits inputs into batches of 100', async () => {
    const input = Array.from({ length: 150 }, (_, i) => `text ${i}`);
    const res = await adapter.embed!({ model: 'gemini-embedding-001', input }, opts());
    expect(mock.requests.map((r) => r.body.requests.length)).toEqual([100, 50]);
    expect(res.vectors).toHaveLength(150);
    expect(res.vectors[149]).toEqual(mockEmbedding('text 149'));
  });
});

describe('gemini adapter: errors', () => {
  it('400 is not retryable and carries the provider message', async () => {
    mock.reply({ fail: { status: 400, message: 'Invalid value at contents[0].role' } });
    const e = await failure(adapter.chat(req(), opts()));
    expect(e.status).toBe(400);
    expect(e.retryable).toBe(false);
    expect(e.provider).toBe('gemini');
    expect(e.message).toContain('Invalid value at contents[0].role');
  });

  it('429 with retry-after is retryable with retryAfterMs', async () => {
    mock.reply({ fail: { status: 429, retryAfter: 3 } });
    const e = await failure(adapter.chat(req(), opts()));
    expect(e.status).toBe(429);
    expect(e.retryable).toBe(true);
    expect(e.retryAfterMs).toBe(3_000);
  });

  it('503 is retryable, for chat, stream and embed', async () => {
    mock.reply({ fail: { status: 503 } });
    expect((await failure(adapter.chat(req(), opts()))).retryable).toBe(true);
    expect((await failure(collect(adapter.stream(req(), opts())))).retryable).toBe(true);
    expect((await failure(adapter.embed!({ model: 'gemini-embedding-001', input: ['x'] }, opts()))).retryable).toBe(true);
  });

  it('no credential: the mock answers 403 like Gemini and the error is not retryable', async () => {
    const e = await failure(adapter.chat(req(), opts({ apiKey: undefined })));
    expect(e.status).toBe(403);
    expect(e.retryable).toBe(false);
  });

  it('an upstream that never answers times out', async () => {
    mock.reply({ hang: true });
    const e = await failure(adapter.chat(req(), opts({ timeoutMs: 300 })));
    expect(e.timeout).toBe(true);
    expect(e.retryable).toBe(true);
  });
});
