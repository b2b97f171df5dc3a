import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAnthropicAdapter } from '../../src/providers/anthropic/index.js';
import { DEFAULT_MAX_TOKENS, JSON_MODE_INSTRUCTION } from '../../src/providers/anthropic/request.js';
import { closeUpstreamAgent } from '../../src/providers/http.js';
import { UpstreamError, type CallOptions, type ChatRequest, type StreamChunk } from '../../src/providers/types.js';
import { startAnthropicMock, type AnthropicMock } from '../mocks/anthropic.js';

const KEY = 'sk-ant-test-secret-123';
const adapter = createAnthropicAdapter();
let mock: AnthropicMock;

beforeAll(async () => {
  mock = await startAnthropicMock();
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
  return { model: 'claude-sonnet-4-5', messages: [{ role: 'USER', content: 'Hi' }], ...over };
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

describe('anthropic adapter: request mapping', () => {
  it('posts to /v1/messages with the key in x-api-key only, anthropic-version, system at top level and default max_tokens', async () => {
    await adapter.chat(
      req({
        messages: [
          { role: 'SYSTEM', content: 'You are terse.' },
          { role: 'SYSTEM', content: 'Answer in French.' },
          { role: 'USER', content: 'Hi' },
          { role: 'ASSISTANT', content: 'Bonjour' },
          { role: 'USER', content: 'How are you?' },
        ],
        temperature: 0.3,
        topP: 0.9,
        stop: ['END'],
        seed: 42,
      }),
      opts({ baseUrl: `${mock.url}/` }),
    );
    const r = mock.last();
    expect(r.method).toBe('POST');
    expect(r.path).toBe('/v1/messages');
    expect(r.headers['x-api-key']).toBe(KEY);
    expect(r.headers['anthropic-version']).toBe('2023-06-01');
    expect(r.headers['content-type']).toMatch(/application\/json/);
    for (const [name, value] of Object.entries(r.headers)) if (name !== 'x-api-key') expect(String(value)).not.toContain(KEY);
    expect(r.path).not.toContain(KEY);
    expect(JSON.stringify(r.body)).not.toContain(KEY);
    expect(r.body).toEqual({
      model: 'claude-sonnet-4-5',
      max_tokens: DEFAULT_MAX_TOKENS,
      system: 'You are terse.\n\nAnswer in French.',
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Hi' }] },
        { role: 'assistant', content: [{ type: 'text', text: 'Bonjour' }] },
        { role: 'user', content: [{ type: 'text', text: 'How are you?' }] },
      ],
      temperature: 0.3,
      top_p: 0.9,
      stop_sequences: ['END'],
    });
    expect(r.body).not.toHaveProperty('seed');
    expect(r.body).not.toHaveProperty('stream');
  });

  it('uses the caller max_tokens and merges consecutive same-role messages', async () => {
    await adapter.chat(
      req({
        maxTokens: 77,
        messages: [
          { role: 'USER', content: 'one' },
          { role: 'USER', content: 'two' },
        ],
      }),
      opts(),
    );
    expect(mock.last().body.max_tokens).toBe(77);
    expect(mock.last().body.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'one' }, { type: 'text', text: 'two' }] },
    ]);
  });

  it('sends image parts as url and base64 sources', async () => {
    await adapter.chat(
      req({
        messages: [
          {
            role: 'USER',
            content: null,
            parts: [
              { type: 'TEXT', text: 'What is in these?' },
              { type: 'IMAGE_URL', imageUrl: 'https://example.com/cat.png' },
              { type: 'IMAGE_URL', imageUrl: 'data:image/jpeg;base64,/9j/4AAQ' },
            ],
          },
        ],
      }),
      opts(),
    );
    expect(mock.last().body.messages[0].content).toEqual([
      { type: 'text', text: 'What is in these?' },
      { type: 'image', source: { type: 'url', url: 'https://example.com/cat.png' } },
      { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: '/9j/4AAQ' } },
    ]);
  });

  it('asks for JSON in the system prompt in JSON mode', async () => {
    await adapter.chat(req({ jsonMode: true, messages: [{ role: 'SYSTEM', content: 'Be brief.' }, { role: 'USER', content: 'x' }] }), opts());
    expect(mock.last().body.system).toBe(`Be brief.\n\n${JSON_MODE_INSTRUCTION}`);
    await adapter.chat(req({ jsonMode: true }), opts());
    expect(mock.last().body.system).toBe(JSON_MODE_INSTRUCTION);
  });

  const tools = [{ name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }];

  it.each([
    ['AUTO', { type: 'auto' }],
    ['REQUIRED', { type: 'any' }],
    ['NONE', { type: 'none' }],
    [{ name: 'get_weather' }, { type: 'tool', name: 'get_weather' }],
  ] as const)('maps tools and tool choice %j', async (choice, expected) => {
    await adapter.chat(req({ tools, toolChoice: choice }), opts());
    expect(mock.last().body.tools).toEqual([
      { name: 'get_weather', description: 'Weather for a city', input_schema: tools[0].parameters },
    ]);
    expect(mock.last().body.tool_choice).toEqual(expected);
  });

  it('round-trips tool calls: tool_use blocks in the assistant turn, tool results merged into one user turn first', async () => {
    await adapter.chat(
      req({
        tools,
        messages: [
          { role: 'USER', content: 'Weather in Paris and Rome?' },
          {
            role: 'ASSISTANT',
            content: 'Checking.',
            toolCalls: [
              { id: 'toolu_1', name: 'get_weather', arguments: '{"city":"Paris"}' },
              { id: 'call:2', name: 'get_weather', arguments: '{"city":"Rome"}' },
            ],
          },
          { role: 'TOOL', toolCallId: 'toolu_1', content: '{"temp":21}' },
          { role: 'TOOL', toolCallId: 'call:2', content: 'sunny' },
          { role: 'USER', content: 'Thanks' },
        ],
      }),
      opts(),
    );
    expect(mock.last().body.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Weather in Paris and Rome?' }] },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Checking.' },
          { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
          { type: 'tool_use', id: 'call_2', name: 'get_weather', input: { city: 'Rome' } },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_1', content: '{"temp":21}' },
          { type: 'tool_result', tool_use_id: 'call_2', content: 'sunny' },
          { type: 'text', text: 'Thanks' },
        ],
      },
    ]);
  });
});

describe('anthropic adapter: responses', () => {
  it('maps content, id, model, finish reason and exact usage including cache tokens', async () => {
    mock.reply({
      text: 'Hello there',
      model: 'claude-sonnet-4-5-20250929',
      id: 'msg_abc',
      usage: { input_tokens: 10, cache_creation_input_tokens: 3, cache_read_input_tokens: 5, output_tokens: 7 },
    });
    const res = await adapter.chat(req(), opts());
    expect(res).toEqual({
      id: 'msg_abc',
      upstreamModel: 'claude-sonnet-4-5-20250929',
      content: 'Hello there',
      toolCalls: [],
      finishReason: 'STOP',
      usage: { promptTokens: 18, completionTokens: 7, totalTokens: 25, cachedReadTokens: 5, cacheWriteTokens: 3, exact: true },
    });
  });

  it('maps tool_use blocks to tool calls', async () => {
    mock.reply({ toolCalls: [{ id: 'toolu_9', name: 'get_weather', input: { city: 'Paris', units: 'C' } }] });
    const res = await adapter.chat(req(), opts());
    expect(res.content).toBeNull();
    expect(res.finishReason).toBe('TOOL_CALLS');
    expect(res.toolCalls).toEqual([{ id: 'toolu_9', name: 'get_weather', arguments: '{"city":"Paris","units":"C"}' }]);
  });

  it.each([
    ['end_turn', 'STOP'],
    ['stop_sequence', 'STOP'],
    ['max_tokens', 'LENGTH'],
    ['tool_use', 'TOOL_CALLS'],
    ['refusal', 'CONTENT_FILTER'],
  ] as const)('maps stop_reason %s to %s', async (stopReason, expected) => {
    mock.reply({ text: 'x', stopReason });
    expect((await adapter.chat(req(), opts())).finishReason).toBe(expected);
  });
});

describe('anthropic adapter: streaming', () => {
  it('yields text chunks as the events arrive, then finishReason and usage as the mock reported', async () => {
    mock.reply({ text: 'one two three four five', gapMs: 100, usage: { input_tokens: 11, cache_read_input_tokens: 4, output_tokens: 5 } });
    const started = Date.now();
    const chunks = await collect(adapter.stream(req(), opts()));
    expect(mock.last().body.stream).toBe(true);
    expect(mock.last().headers['x-api-key']).toBe(KEY);
    const text = chunks.filter((c) => c.delta);
    expect(text.map((c) => c.delta)).toEqual(['one', ' two', ' three', ' four', ' five']);
    // 'one' is the 4th of 11 events sent 100 ms apart: it must arrive long before the mock has finished
    expect(text[0].at - started).toBeLessThan(800);
    expect(chunks[chunks.length - 1].at - text[0].at).toBeGreaterThanOrEqual(500);
    const last = chunks[chunks.length - 1];
    expect(last.finishReason).toBe('STOP');
    // the cache counters of message_start survive message_delta's output count
    expect(last.usage).toEqual({ promptTokens: 15, completionTokens: 5, totalTokens: 20, cachedReadTokens: 4, exact: true });
    expect(chunks.slice(0, -1).every((c) => c.finishReason === undefined && c.usage === undefined)).toBe(true);
  });

  it('streams tool calls: id and name first, then argument deltas that assemble to the JSON input', async () => {
    mock.reply({
      text: 'Let me check.',
      toolCalls: [
        { id: 'toolu_a', name: 'get_weather', input: { city: 'Paris' } },
        { id: 'toolu_b', name: 'get_time', input: {} },
      ],
      usage: { input_tokens: 30, output_tokens: 40 },
    });
    const chunks = await collect(adapter.stream(req({ tools: [{ name: 'get_weather' }, { name: 'get_time' }] }), opts()));
    const deltas = chunks.flatMap((c) => c.toolCalls ?? []);
    expect(deltas[0]).toEqual({ index: 0, id: 'toolu_a', name: 'get_weather' });
    const args = (i: number) =>
      deltas
        .filter((d) => d.index === i)
        .map((d) => d.argumentsDelta ?? '')
        .join('');
    expect(deltas.filter((d) => d.index === 0 && d.argumentsDelta).length).toBeGreaterThanOrEqual(2);
    expect(JSON.parse(args(0))).toEqual({ city: 'Paris' });
    expect(deltas.find((d) => d.index === 1 && d.id)).toEqual({ index: 1, id: 'toolu_b', name: 'get_time' });
    expect(JSON.parse(args(1))).toEqual({});
    const last = chunks[chunks.length - 1];
    expect(last.finishReason).toBe('TOOL_CALLS');
    expect(last.usage).toEqual({ promptTokens: 30, completionTokens: 40, totalTokens: 70, exact: true });
  });

  it('aborting the signal closes the upstream connection and ends the iterator', async () => {
    mock.reply({ text: 'a b c d e f g h i j', gapMs: 100 });
    const ac = new AbortController();
    const it = adapter.stream(req(), opts({ signal: ac.signal }))[Symbol.asyncIterator]();
    let first = await it.next();
    while (!first.done && !first.value.delta) first = await it.next();
    expect(first.value.delta).toBe('a');
    ac.abort();
    const next = await it.next().then(
      (r) => r,
      (e: unknown) => e,
    );
    if (!(next instanceof Error)) expect(next).toEqual({ done: true, value: undefined });
    await withTimeout(mock.last().closedEarly, 1_000, 'upstream connection close');
  });

  it('an error event mid-stream becomes a retryable UpstreamError for overloaded_error', async () => {
    mock.reply({ text: 'a b c', streamError: { type: 'overloaded_error', message: 'Overloaded' } });
    const e = await failure(collect(adapter.stream(req(), opts())));
    expect(e.retryable).toBe(true);
    expect(e.message).toContain('Overloaded');
  });

  it('a stream cut mid-way throws a retryable UpstreamError instead of hanging', async () => {
    mock.reply({ text: 'a b c d', cutAfter: 4 });
    const e = await withTimeout(failure(collect(adapter.stream(req(), opts()))), 3_000, 'stream failure');
    expect(e.retryable).toBe(true);
  });

  it('a stream that ends cleanly but without message_stop throws a retryable UpstreamError', async () => {
    mock.reply({ text: 'a b c d', endAfter: 5 });
    const chunks: StreamChunk[] = [];
    const e = await failure(
      (async () => {
        for await (const c of adapter.stream(req(), opts())) chunks.push(c);
      })(),
    );
    expect(e.retryable).toBe(true);
    expect(e.message).toContain('message_stop');
    expect(chunks.map((c) => c.delta).join('')).toBe('a b');
    expect(chunks.some((c) => c.finishReason)).toBe(false);
  });

  it('a stream that stalls times out', async () => {
    mock.reply({ text: 'a b c d', stallAfter: 3 });
    const e = await withTimeout(failure(collect(adapter.stream(req(), opts({ timeoutMs: 300 })))), 3_000, 'stream timeout');
    expect(e.timeout).toBe(true);
    expect(e.retryable).toBe(true);
  });
});

describe('anthropic adapter: errors', () => {
  it('400 is not retryable and carries the provider message', async () => {
    mock.reply({ fail: { status: 400, message: 'messages.0.content: must not be empty' } });
    const e = await failure(adapter.chat(req(), opts()));
    expect(e.status).toBe(400);
    expect(e.retryable).toBe(false);
    expect(e.provider).toBe('anthropic');
    expect(e.message).toContain('messages.0.content: must not be empty');
  });

  it('429 with retry-after is retryable with retryAfterMs', async () => {
    mock.reply({ fail: { status: 429, retryAfter: 7 } });
    const e = await failure(adapter.chat(req(), opts()));
    expect(e.status).toBe(429);
    expect(e.retryable).toBe(true);
    expect(e.retryAfterMs).toBe(7_000);
  });

  it('529 overloaded is retryable, for chat and for stream', async () => {
    mock.reply({ fail: { status: 529 } });
    const chat = await failure(adapter.chat(req(), opts()));
    expect(chat.status).toBe(529);
    expect(chat.retryable).toBe(true);
    expect(chat.message).toContain('Overloaded');
    const stream = await failure(collect(adapter.stream(req(), opts())));
    expect(stream.status).toBe(529);
    expect(stream.retryable).toBe(true);
  });

  it('no credential: the mock answers 401 like Anthropic and the error is not retryable', async () => {
    const e = await failure(adapter.chat(req(), opts({ apiKey: undefined })));
    expect(e.status).toBe(401);
    expect(e.retryable).toBe(false);
  });

  it('an upstream that never answers times out', async () => {
    mock.reply({ hang: true });
    const started = Date.now();
    const e = await failure(adapter.chat(req(), opts({ timeoutMs: 300 })));
    expect(e.timeout).toBe(true);
    expect(e.retryable).toBe(true);
    expect(Date.now() - started).toBeLessThan(2_000);
    const s = await failure(collect(adapter.stream(req(), opts({ timeoutMs: 300 }))));
    expect(s.timeout).toBe(true);
  });
});
