import { createServer } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, expectTypeOf, it } from 'vitest';
import OpenAI from 'openai';
import type { ChatCompletion, ChatCompletionChunk, ChatCompletionCreateParamsBase } from 'openai/resources/chat/completions';
import type { CreateEmbeddingResponse, EmbeddingCreateParams } from 'openai/resources/embeddings';
import { closeUpstreamAgent } from '../../src/providers/http.js';
import { createOpenAIAdapter } from '../../src/providers/openai/index.js';
import type { OpenAIChatBody, OpenAIEmbeddingsBody } from '../../src/providers/openai/request.js';
import type { OpenAIChatCompletion, OpenAIEmbeddingsResponse } from '../../src/providers/openai/response.js';
import type { OpenAIChatCompletionChunk } from '../../src/providers/openai/stream.js';
import type { CallOptions, ChatRequest, StreamChunk } from '../../src/providers/types.js';
import { UpstreamError } from '../../src/providers/types.js';
import { mockError, startOpenAIMock, type OpenAIMock } from '../mocks/openai.js';

const adapter = createOpenAIAdapter();
let mock: OpenAIMock;

beforeAll(async () => {
  mock = await startOpenAIMock();
});
beforeEach(() => mock.reset());
afterAll(async () => {
  await mock.close();
  await closeUpstreamAgent();
});

function callOpts(extra: Partial<CallOptions> = {}): CallOptions {
  return { signal: new AbortController().signal, timeoutMs: 2_000, baseUrl: mock.baseUrl, apiKey: 'sk-test', ...extra };
}

const hello: ChatRequest = { model: 'gpt-4o-mini', messages: [{ role: 'USER', content: 'Say hello' }] };

async function collect(it: AsyncIterable<StreamChunk>): Promise<StreamChunk[]> {
  const out: StreamChunk[] = [];
  for await (const c of it) out.push(c);
  return out;
}

async function rejection(p: Promise<unknown>): Promise<UpstreamError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(UpstreamError);
  return e as UpstreamError;
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('wire types agree with the OpenAI SDK', () => {
  it('what we send is a valid create request, and what the API returns fits what we read', () => {
    expectTypeOf<OpenAIChatBody>().toExtend<ChatCompletionCreateParamsBase>();
    // extra (misspelled) fields pass a structural check, so compare the key sets as well
    expectTypeOf<keyof OpenAIChatBody>().toExtend<keyof ChatCompletionCreateParamsBase>();
    expectTypeOf<OpenAIEmbeddingsBody>().toExtend<EmbeddingCreateParams>();
    expectTypeOf<keyof OpenAIEmbeddingsBody>().toExtend<keyof EmbeddingCreateParams>();
    expectTypeOf<ChatCompletion>().toExtend<OpenAIChatCompletion>();
    expectTypeOf<ChatCompletionChunk>().toExtend<OpenAIChatCompletionChunk>();
    expectTypeOf<CreateEmbeddingResponse>().toExtend<OpenAIEmbeddingsResponse>();
  });
});

describe('request sent upstream', () => {
  it('maps every field of a chat request', async () => {
    await adapter.chat(
      {
        model: 'gpt-4o',
        messages: [
          { role: 'SYSTEM', content: 'Be terse.' },
          {
            role: 'USER',
            content: null,
            name: 'ann',
            parts: [
              { type: 'TEXT', text: 'What is in this image?' },
              { type: 'IMAGE_URL', imageUrl: 'https://example.com/cat.png' },
            ],
          },
          { role: 'ASSISTANT', content: null, toolCalls: [{ id: 'call_1', name: 'lookup', arguments: '{"q":"cat"}' }] },
          { role: 'TOOL', content: '{"answer":"a cat"}', toolCallId: 'call_1' },
        ],
        temperature: 0.2,
        topP: 0.9,
        maxTokens: 64,
        stop: ['\n\n', 'END'],
        seed: 7,
        jsonMode: true,
        tools: [{ name: 'lookup', description: 'Looks things up', parameters: { type: 'object', properties: { q: { type: 'string' } } } }],
        toolChoice: { name: 'lookup' },
      },
      callOpts(),
    );
    const [sent] = mock.chatRequests();
    expect(sent.method).toBe('POST');
    expect(sent.path).toBe('/v1/chat/completions');
    expect(sent.headers.authorization).toBe('Bearer sk-test');
    expect(sent.headers['content-type']).toBe('application/json');
    expect(sent.body).toEqual({
      model: 'gpt-4o',
      messages: [
        { role: 'system', content: 'Be terse.' },
        {
          role: 'user',
          name: 'ann',
          content: [
            { type: 'text', text: 'What is in this image?' },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } },
          ],
        },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'lookup', arguments: '{"q":"cat"}' } }] },
        { role: 'tool', content: '{"answer":"a cat"}', tool_call_id: 'call_1' },
      ],
      temperature: 0.2,
      top_p: 0.9,
      max_completion_tokens: 64,
      stop: ['\n\n', 'END'],
      seed: 7,
      response_format: { type: 'json_object' },
      tools: [
        {
          type: 'function',
          function: { name: 'lookup', description: 'Looks things up', parameters: { type: 'object', properties: { q: { type: 'string' } } } },
        },
      ],
      tool_choice: { type: 'function', function: { name: 'lookup' } },
    });
  });

  it('leaves out what the request does not set', async () => {
    await adapter.chat(hello, callOpts());
    expect(mock.chatRequests()[0].body).toEqual({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello' }] });
  });

  it.each([
    ['AUTO', 'auto'],
    ['NONE', 'none'],
    ['REQUIRED', 'required'],
  ] as const)('maps tool choice %s to %j', async (choice, wire) => {
    await adapter.chat({ ...hello, tools: [{ name: 'f' }], toolChoice: choice }, callOpts());
    expect(mock.chatRequests()[0].body.tool_choice).toBe(wire);
    expect(mock.chatRequests()[0].body.tools).toEqual([{ type: 'function', function: { name: 'f' } }]);
  });

  it('asks for a stream with usage', async () => {
    await collect(adapter.stream({ ...hello, maxTokens: 10 }, callOpts()));
    const [sent] = mock.chatRequests();
    expect(sent.headers.accept).toBe('text/event-stream');
    expect(sent.body).toMatchObject({ stream: true, stream_options: { include_usage: true }, max_completion_tokens: 10 });
    expect(sent.body.max_tokens).toBeUndefined();
  });

  it('sends no Authorization without a credential, and tolerates a trailing slash in the base URL', async () => {
    await adapter.chat(hello, callOpts({ apiKey: undefined, baseUrl: `${mock.baseUrl}/` }));
    const [sent] = mock.chatRequests();
    expect(sent.path).toBe('/v1/chat/completions');
    expect(sent.headers.authorization).toBeUndefined();
  });
});

describe('chat', () => {
  it('returns content, ids and exact usage', async () => {
    mock.reply({ text: 'Hello there, friend.', model: 'gpt-4o-mini-2024-07-18', usage: { prompt_tokens: 11, completion_tokens: 5 } });
    const res = await adapter.chat(hello, callOpts());
    expect(res).toEqual({
      id: expect.stringMatching(/^chatcmpl-/),
      upstreamModel: 'gpt-4o-mini-2024-07-18',
      content: 'Hello there, friend.',
      toolCalls: [],
      finishReason: 'STOP',
      usage: { promptTokens: 11, completionTokens: 5, totalTokens: 16, exact: true },
    });
  });

  it('reports cached prompt tokens and reasoning tokens as parts of the totals (chat and stream)', async () => {
    mock.reply({ text: 'thought it through', usage: { prompt_tokens: 2000, completion_tokens: 500, cached_tokens: 1024, reasoning_tokens: 320 } });
    const want = { promptTokens: 2000, completionTokens: 500, totalTokens: 2500, cachedReadTokens: 1024, reasoningTokens: 320, exact: true };
    expect((await adapter.chat(hello, callOpts())).usage).toEqual(want);
    expect((await collect(adapter.stream(hello, callOpts()))).at(-1)!.usage).toEqual(want);
  });

  it('returns tool calls', async () => {
    mock.reply({ toolCalls: [{ id: 'call_a', name: 'get_weather', arguments: '{"city":"Paris"}' }, { id: 'call_b', name: 'get_time', arguments: '{}' }] });
    const res = await adapter.chat({ ...hello, tools: [{ name: 'get_weather' }, { name: 'get_time' }] }, callOpts());
    expect(res.content).toBeNull();
    expect(res.finishReason).toBe('TOOL_CALLS');
    expect(res.toolCalls).toEqual([
      { id: 'call_a', name: 'get_weather', arguments: '{"city":"Paris"}' },
      { id: 'call_b', name: 'get_time', arguments: '{}' },
    ]);
  });

  it.each([
    ['stop', 'STOP'],
    ['length', 'LENGTH'],
    ['tool_calls', 'TOOL_CALLS'],
    ['content_filter', 'CONTENT_FILTER'],
  ] as const)('maps finish_reason %s to %s (chat and stream)', async (wire, unified) => {
    mock.reply({ text: 'x', finishReason: wire });
    expect((await adapter.chat(hello, callOpts())).finishReason).toBe(unified);
    const chunks = await collect(adapter.stream(hello, callOpts()));
    expect(chunks.at(-1)!.finishReason).toBe(unified);
  });
});

describe('stream', () => {
  it('yields each delta as it arrives, and ends with finish reason and usage', async () => {
    mock.reply({ text: 'one two three four five six', gapMs: 100, usage: { prompt_tokens: 9, completion_tokens: 6 } });
    const started = Date.now();
    const seen: Array<{ chunk: StreamChunk; at: number }> = [];
    for await (const chunk of adapter.stream(hello, callOpts())) seen.push({ chunk, at: Date.now() - started });

    expect(seen.map((s) => s.chunk)).toEqual([
      { delta: 'one' },
      { delta: ' two' },
      { delta: ' three' },
      { delta: ' four' },
      { delta: ' five' },
      { delta: ' six' },
      { delta: '', finishReason: 'STOP', usage: { promptTokens: 9, completionTokens: 6, totalTokens: 15, exact: true } },
    ]);
    // role, 6 deltas, finish, usage, [DONE]: 9 gaps of 100 ms; the first delta must not wait for them
    expect(seen[0].at).toBeLessThan(400);
    expect(seen.at(-1)!.at - seen[0].at).toBeGreaterThanOrEqual(600);
  });

  it('yields tool-call fragments as ToolCallDeltas', async () => {
    mock.reply({ toolCalls: [{ id: 'call_w', name: 'get_weather', arguments: '{"city":"Paris","unit":"c"}' }] });
    const chunks = await collect(adapter.stream({ ...hello, tools: [{ name: 'get_weather' }] }, callOpts()));
    const deltas = chunks.flatMap((c) => c.toolCalls ?? []);
    expect(deltas[0]).toEqual({ index: 0, id: 'call_w', name: 'get_weather' });
    expect(deltas.slice(1).every((d) => d.index === 0 && d.id === undefined && d.name === undefined)).toBe(true);
    expect(deltas.length).toBeGreaterThan(2);
    expect(deltas.map((d) => d.argumentsDelta ?? '').join('')).toBe('{"city":"Paris","unit":"c"}');
    expect(chunks.at(-1)).toMatchObject({ finishReason: 'TOOL_CALLS', usage: { exact: true } });
  });

  it('aborting the signal rejects the pending read and closes the upstream connection', async () => {
    mock.reply({ text: 'a b c d e f g h i j k l m n o p', gapMs: 150 });
    const ac = new AbortController();
    const it = adapter.stream(hello, callOpts({ signal: ac.signal }))[Symbol.asyncIterator]();
    expect((await it.next()).value).toEqual({ delta: 'a' });
    const pending = it.next();
    setTimeout(() => ac.abort(), 20);
    const started = Date.now();
    const err = await rejection(pending);
    expect(Date.now() - started).toBeLessThan(140);
    expect(err.retryable).toBe(false);
    await expect(withTimeout(mock.chatRequests()[0].closedEarly, 1_000)).resolves.toBe('settled');
  });

  it('aborting while the consumer is not reading still closes the upstream connection', async () => {
    mock.reply({ text: 'a b c d e f g h i j k l m n o p', gapMs: 150 });
    const ac = new AbortController();
    const it = adapter.stream(hello, callOpts({ signal: ac.signal }))[Symbol.asyncIterator]();
    await it.next();
    ac.abort();
    await expect(withTimeout(mock.chatRequests()[0].closedEarly, 500)).resolves.toBe('settled');
    await expect(it.next()).rejects.toBeInstanceOf(UpstreamError);
  });

  it('closes the upstream connection when the consumer stops early', async () => {
    mock.reply({ text: 'a b c d e f g h i j k l m n o p', gapMs: 50 });
    for await (const c of adapter.stream(hello, callOpts())) {
      expect(c.delta).toBe('a');
      break;
    }
    await expect(withTimeout(mock.chatRequests()[0].closedEarly, 1_000)).resolves.toBe('settled');
  });
});

/** undici runs headersTimeout/bodyTimeout on its coarse "fast timers" (about 1 s resolution), hence the slack. */
const TIMER_SLACK_MS = 1_200;

function withTimeout(p: Promise<unknown>, ms: number): Promise<'settled' | 'timed out'> {
  return Promise.race([p.then(() => 'settled' as const), new Promise<'timed out'>((r) => setTimeout(() => r('timed out'), ms))]);
}

describe('errors', () => {
  it('400 is final and carries the provider message', async () => {
    mock.reply(mockError(400, { message: "Invalid value for 'temperature'." }));
    const err = await rejection(adapter.chat(hello, callOpts()));
    expect(err).toMatchObject({ provider: 'openai', status: 400, retryable: false, timeout: false });
    expect(err.message).toContain("Invalid value for 'temperature'.");
  });

  it('429 is retryable after retry-after', async () => {
    mock.reply(mockError(429, { retryAfter: '2' }));
    const err = await rejection(adapter.chat(hello, callOpts()));
    expect(err).toMatchObject({ status: 429, retryable: true, retryAfterMs: 2_000 });
    expect(err.message).toContain('Rate limit reached');
  });

  it.each([500, 503])('%i is retryable, in chat and before a stream starts', async (status) => {
    mock.reply(mockError(status));
    expect(await rejection(adapter.chat(hello, callOpts()))).toMatchObject({ status, retryable: true });
    expect(await rejection(collect(adapter.stream(hello, callOpts())))).toMatchObject({ status, retryable: true });
  });

  it('connection refused is retryable', async () => {
    const port = await closedPort();
    const err = await rejection(adapter.chat(hello, callOpts({ baseUrl: `http://127.0.0.1:${port}/v1` })));
    expect(err).toMatchObject({ retryable: true, timeout: false, status: undefined });
  });

  it('an upstream that never answers times out within timeoutMs', async () => {
    mock.reply({ hang: true });
    for (const call of [() => adapter.chat(hello, callOpts({ timeoutMs: 300 })), () => collect(adapter.stream(hello, callOpts({ timeoutMs: 300 })))]) {
      const started = Date.now();
      const err = await rejection(call());
      expect(err).toMatchObject({ timeout: true, retryable: true });
      expect(Date.now() - started).toBeLessThan(300 + TIMER_SLACK_MS);
    }
  });

  it('a stream that stalls mid-way times out', async () => {
    mock.reply({ text: 'a b c d', stallAfter: 3 });
    const got: StreamChunk[] = [];
    const started = Date.now();
    const err = await rejection(
      (async () => {
        for await (const c of adapter.stream(hello, callOpts({ timeoutMs: 300 }))) got.push(c);
      })(),
    );
    expect(got).toEqual([{ delta: 'a' }, { delta: ' b' }]);
    expect(err).toMatchObject({ timeout: true, retryable: true });
    expect(Date.now() - started).toBeLessThan(300 + TIMER_SLACK_MS);
  });

  it('a malformed JSON body is an error', async () => {
    mock.reply({ malformed: true });
    expect(await rejection(adapter.chat(hello, callOpts()))).toMatchObject({ retryable: true });
    expect(await rejection(collect(adapter.stream(hello, callOpts())))).toMatchObject({ retryable: true });
  });

  it('a stream cut mid-way throws a retryable error instead of hanging', async () => {
    mock.reply({ text: 'a b c d e f', cutAfter: 3, gapMs: 20 });
    const got: StreamChunk[] = [];
    const started = Date.now();
    const err = await rejection(
      (async () => {
        for await (const c of adapter.stream(hello, callOpts())) got.push(c);
      })(),
    );
    expect(got).toEqual([{ delta: 'a' }, { delta: ' b' }]);
    expect(err.retryable).toBe(true);
    expect(err.timeout).toBe(false);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('a stream that ends cleanly without a finish reason is an error', async () => {
    mock.reply({ text: 'a b', finishReason: null, quirks: { noDone: true, noUsage: true } });
    const err = await rejection(collect(adapter.stream(hello, callOpts())));
    expect(err).toMatchObject({ retryable: true });
    expect(err.message).toContain('stream ended early');
  });

  it('an error event inside the stream becomes an UpstreamError', async () => {
    mock.reply({ text: 'a b c d', streamErrorAfter: 2, error: { message: 'The model crashed mid-answer.' } });
    const got: StreamChunk[] = [];
    const err = await rejection(
      (async () => {
        for await (const c of adapter.stream(hello, callOpts())) got.push(c);
      })(),
    );
    expect(got).toEqual([{ delta: 'a' }]);
    expect(err).toMatchObject({ provider: 'openai', retryable: true });
    expect(err.message).toContain('The model crashed mid-answer.');
  });

  it('a final invalid_request_error inside the stream is not retryable', async () => {
    mock.reply({ streamErrorAfter: 1, error: { message: 'bad input', type: 'invalid_request_error' } });
    expect(await rejection(collect(adapter.stream(hello, callOpts())))).toMatchObject({ retryable: false });
  });
});

describe('embeddings', () => {
  it('sends model and input, returns vectors in input order with exact usage', async () => {
    const res = await adapter.embed!({ model: 'text-embedding-3-small', input: ['alpha beta', 'gamma'] }, callOpts());
    const [sent] = mock.embeddingRequests();
    expect(sent.path).toBe('/v1/embeddings');
    expect(sent.headers.authorization).toBe('Bearer sk-test');
    expect(sent.body).toEqual({ model: 'text-embedding-3-small', input: ['alpha beta', 'gamma'] });
    expect(res.upstreamModel).toBe('text-embedding-3-small');
    expect(res.vectors).toHaveLength(2);
    expect(res.vectors[0]).toHaveLength(8);
    expect(res.vectors[0]).not.toEqual(res.vectors[1]);
    expect(res.usage).toEqual({ promptTokens: 3, completionTokens: 0, totalTokens: 3, exact: true });
  });

  it('maps errors like chat', async () => {
    mock.reply(mockError(404, { message: 'The model `nope` does not exist' }));
    const err = await rejection(adapter.embed!({ model: 'nope', input: ['x'] }, callOpts()));
    expect(err).toMatchObject({ status: 404, retryable: false });
    expect(err.message).toContain('The model `nope` does not exist');
  });
});

describe('mock fidelity', () => {
  it('the official SDK reads the mock like the real API', async () => {
    mock.reply({ text: 'Hi from the SDK test', toolCalls: [{ id: 'call_s', name: 'f', arguments: '{"a":1}' }] });
    const client = new OpenAI({ baseURL: mock.baseUrl, apiKey: 'sk-test', maxRetries: 0 });
    const done = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    expect(done.choices[0].message.content).toBe('Hi from the SDK test');
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let streamed = '';
    for await (const chunk of stream) streamed += chunk.choices[0]?.delta.content ?? '';
    expect(streamed).toBe('Hi from the SDK test');
    const runner = client.chat.completions.stream({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], stream_options: { include_usage: true } });
    const completion = await runner.finalChatCompletion();
    expect(completion.choices[0].message.content).toBe('Hi from the SDK test');
    expect(completion.choices[0].message.tool_calls?.[0]).toMatchObject({ id: 'call_s', function: { name: 'f', arguments: '{"a":1}' } });
    expect(completion.usage?.total_tokens).toBeGreaterThan(0);
    const emb = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['x'], encoding_format: 'float' });
    expect(emb.data[0].embedding).toHaveLength(8);
  });
});
