import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { countMessagesTokens, countTextTokens } from '../../src/providers/count-tokens.js';
import { closeUpstreamAgent } from '../../src/providers/http.js';
import { createOpenAICompatibleAdapter } from '../../src/providers/openai-compatible/index.js';
import type { CallOptions, ChatRequest, StreamChunk } from '../../src/providers/types.js';
import { UpstreamError } from '../../src/providers/types.js';
import { sendJson, startMockServer, writeSse, type MockServer } from '../mocks/mock-server.js';
import { COMPATIBLE_QUIRKS, startOpenAIMock, type OpenAIMock } from '../mocks/openai.js';

const adapter = createOpenAICompatibleAdapter();
let mock: OpenAIMock;
/** For deviations the OpenAI mock does not script: each test writes the raw wire answer itself. */
let raw: MockServer;

beforeAll(async () => {
  mock = await startOpenAIMock({ quirks: COMPATIBLE_QUIRKS });
  raw = await startMockServer((_req, res) => sendJson(res, 500, { error: 'no scenario' }));
});
beforeEach(() => {
  mock.reset();
  raw.requests.length = 0;
});
afterAll(async () => {
  await mock.close();
  await raw.close();
  await closeUpstreamAgent();
});

function callOpts(extra: Partial<CallOptions> = {}): CallOptions {
  return { signal: new AbortController().signal, timeoutMs: 2_000, baseUrl: mock.baseUrl, ...extra };
}
const rawOpts = (extra: Partial<CallOptions> = {}) => callOpts({ baseUrl: `${raw.url}/v1`, ...extra });

const req: ChatRequest = {
  model: 'llama3.1:8b',
  messages: [
    { role: 'SYSTEM', content: 'You are brief.' },
    { role: 'USER', content: 'Name three colours.' },
  ],
};

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

/** Chunk payload in the shape most compatible servers use (no usage, no obfuscation, no fingerprint). */
const chunk = (delta: Record<string, unknown>, finish: string | null = null, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ id: 'cmpl-1', object: 'chat.completion.chunk', created: 1, model: 'served-model', choices: [{ index: 0, delta, finish_reason: finish }], ...extra });

describe('request sent upstream', () => {
  it('uses max_tokens, still asks for streamed usage, and sends no Authorization without a key', async () => {
    await collect(adapter.stream({ ...req, maxTokens: 32 }, callOpts()));
    const [sent] = mock.chatRequests();
    expect(sent.path).toBe('/v1/chat/completions');
    expect(sent.headers.authorization).toBeUndefined();
    expect(sent.body).toMatchObject({ model: 'llama3.1:8b', max_tokens: 32, stream: true, stream_options: { include_usage: true } });
    expect(sent.body.max_completion_tokens).toBeUndefined();
  });

  it('sends the provider credential when there is one', async () => {
    await adapter.chat(req, callOpts({ apiKey: 'gsk_123' }));
    expect(mock.chatRequests()[0].headers.authorization).toBe('Bearer gsk_123');
  });

  it('refuses to call without a base URL rather than falling back to api.openai.com', async () => {
    const err = await rejection(adapter.chat(req, callOpts({ baseUrl: undefined, apiKey: 'secret' })));
    expect(err).toMatchObject({ provider: 'openai-compatible', retryable: false });
  });
});

describe('missing usage, id and model', () => {
  it('chat: makes up an id, reports the requested model, counts usage locally', async () => {
    mock.reply({ text: 'Red, green and blue.' });
    const res = await adapter.chat(req, callOpts());
    expect(res.id).toMatch(/^openai-compatible-[0-9a-f-]{36}$/);
    expect(res.upstreamModel).toBe('llama3.1:8b');
    expect(res.content).toBe('Red, green and blue.');
    const promptTokens = countMessagesTokens(req.messages);
    const completionTokens = countTextTokens('Red, green and blue.');
    expect(res.usage).toEqual({ promptTokens, completionTokens, totalTokens: promptTokens + completionTokens, exact: false });
  });

  it('stream: the final chunk carries counted usage', async () => {
    mock.reply({ text: 'Red, green and blue.' });
    const chunks = await collect(adapter.stream(req, callOpts()));
    expect(chunks.map((c) => c.delta).join('')).toBe('Red, green and blue.');
    expect(chunks.at(-1)).toEqual({
      delta: '',
      finishReason: 'STOP',
      usage: { promptTokens: countMessagesTokens(req.messages), completionTokens: countTextTokens('Red, green and blue.'), totalTokens: expect.any(Number), exact: false },
    });
  });

  it('stream: counts tool calls and tool definitions too', async () => {
    mock.reply({ toolCalls: [{ name: 'paint', arguments: '{"colour":"red"}' }] });
    const tools = [{ name: 'paint', parameters: { type: 'object' } }];
    const chunks = await collect(adapter.stream({ ...req, tools }, callOpts()));
    const usage = chunks.at(-1)!.usage!;
    expect(usage.exact).toBe(false);
    expect(usage.promptTokens).toBe(countMessagesTokens(req.messages) + countTextTokens(JSON.stringify(tools)));
    expect(usage.completionTokens).toBe(countTextTokens('paint') + countTextTokens('{"colour":"red"}'));
  });

  it('embeddings: counts usage locally', async () => {
    const res = await adapter.embed!({ model: 'nomic-embed-text', input: ['hello world', 'bye'] }, callOpts());
    expect(res.upstreamModel).toBe('nomic-embed-text');
    expect(res.vectors).toHaveLength(2);
    expect(res.usage).toEqual({ promptTokens: countTextTokens('hello world') + countTextTokens('bye'), completionTokens: 0, totalTokens: 3, exact: false });
  });
});

describe('stream endings', () => {
  it('usage on the finish_reason chunk: one final chunk, exact usage', async () => {
    mock.reply({ text: 'Red.', usage: { prompt_tokens: 20, completion_tokens: 2 }, quirks: { noUsage: false, usageInFinishChunk: true } });
    const chunks = await collect(adapter.stream(req, callOpts()));
    expect(chunks).toEqual([{ delta: 'Red.' }, { delta: '', finishReason: 'STOP', usage: { promptTokens: 20, completionTokens: 2, totalTokens: 22, exact: true } }]);
  });

  it('no [DONE] after a finish reason is a normal end', async () => {
    mock.reply({ text: 'Red.', quirks: { noDone: true } });
    const chunks = await collect(adapter.stream(req, callOpts()));
    expect(chunks.at(-1)).toMatchObject({ finishReason: 'STOP', usage: { exact: false } });
  });

  it('finish_reason null to the end, then [DONE]: the reason is inferred', async () => {
    mock.reply({ text: 'Red.', finishReason: null });
    expect((await collect(adapter.stream(req, callOpts()))).at(-1)).toMatchObject({ delta: '', finishReason: 'STOP' });
    mock.reply({ toolCalls: [{ name: 'paint', arguments: '{}' }], finishReason: null });
    expect((await collect(adapter.stream(req, callOpts()))).at(-1)).toMatchObject({ delta: '', finishReason: 'TOOL_CALLS' });
  });

  it('neither finish reason nor [DONE]: stream ended early, retryable', async () => {
    mock.reply({ text: 'Red', finishReason: null, quirks: { noDone: true } });
    const err = await rejection(collect(adapter.stream(req, callOpts())));
    expect(err).toMatchObject({ provider: 'openai-compatible', retryable: true });
    expect(err.message).toContain('stream ended early');
  });

  it('content on the finish chunk, usage-only chunk with choices null (vLLM)', async () => {
    raw.handle((_r, res) =>
      writeSse(res, [
        { data: chunk({ role: 'assistant', content: 'Red' }) },
        { data: chunk({ content: ' and blue.' }, 'stop') },
        { data: JSON.stringify({ id: 'cmpl-1', object: 'chat.completion.chunk', created: 1, model: 'served-model', choices: null, usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 } }) },
        { data: '[DONE]' },
      ]),
    );
    const chunks = await collect(adapter.stream(req, rawOpts()));
    expect(chunks).toEqual([
      { delta: 'Red' },
      { delta: ' and blue.' },
      { delta: '', finishReason: 'STOP', usage: { promptTokens: 7, completionTokens: 3, totalTokens: 10, exact: true } },
    ]);
  });

  it('tool-call fragments without index or id, arguments as an object', async () => {
    raw.handle((_r, res) =>
      writeSse(res, [
        { data: chunk({ role: 'assistant', tool_calls: [{ function: { name: 'paint', arguments: { colour: 'red' } } }] }) },
        { data: chunk({}, 'tool_calls') },
        { data: '[DONE]' },
      ]),
    );
    const chunks = await collect(adapter.stream(req, rawOpts()));
    expect(chunks[0].toolCalls).toEqual([{ index: 0, id: expect.stringMatching(/^call_/), name: 'paint', argumentsDelta: '{"colour":"red"}' }]);
    expect(chunks.at(-1)).toMatchObject({ finishReason: 'TOOL_CALLS', usage: { exact: false } });
  });

  it('an error event with an HTTP status as its code (vLLM, OpenRouter)', async () => {
    raw.handle((_r, res) =>
      writeSse(res, [{ data: chunk({ role: 'assistant', content: 'Re' }) }, { data: JSON.stringify({ error: { message: 'Provider overloaded', code: 503 } }) }]),
    );
    const err = await rejection(collect(adapter.stream(req, rawOpts())));
    expect(err).toMatchObject({ status: 503, retryable: true });
    expect(err.message).toContain('Provider overloaded');
  });

  it('an `event: error` SSE event', async () => {
    raw.handle((_r, res) => writeSse(res, [{ event: 'error', data: JSON.stringify({ message: 'context too long', type: 'invalid_request_error' }) }]));
    const err = await rejection(collect(adapter.stream(req, rawOpts())));
    expect(err).toMatchObject({ retryable: false });
    expect(err.message).toContain('context too long');
  });
});

describe('non-stream deviations', () => {
  it('an error object in a 200 body is an error, not an empty answer', async () => {
    raw.handle((_r, res) => sendJson(res, 200, { error: { message: 'model is loading', type: 'server_error' } }));
    const err = await rejection(adapter.chat(req, rawOpts()));
    expect(err).toMatchObject({ retryable: true });
    expect(err.message).toContain('model is loading');
  });

  it('a completion without choices is a retryable error', async () => {
    raw.handle((_r, res) => sendJson(res, 200, { object: 'chat.completion', choices: [] }));
    expect(await rejection(adapter.chat(req, rawOpts()))).toMatchObject({ retryable: true, status: 200 });
  });

  it('tool calls without ids get made-up ids; arguments objects are re-encoded', async () => {
    raw.handle((_r, res) =>
      sendJson(res, 200, {
        choices: [{ index: 0, message: { role: 'assistant', content: '', tool_calls: [{ type: 'function', function: { name: 'paint', arguments: { colour: 'red' } } }] }, finish_reason: 'tool_calls' }],
        usage: { prompt_tokens: 5, completion_tokens: 4 },
      }),
    );
    const res = await adapter.chat(req, rawOpts());
    expect(res.toolCalls).toEqual([{ id: expect.stringMatching(/^call_/), name: 'paint', arguments: '{"colour":"red"}' }]);
    expect(res.finishReason).toBe('TOOL_CALLS');
    expect(res.usage).toEqual({ promptTokens: 5, completionTokens: 4, totalTokens: 9, exact: true });
  });

  it('embeddings returned out of order are put back in input order', async () => {
    raw.handle((_r, res) =>
      sendJson(res, 200, {
        object: 'list',
        data: [
          { object: 'embedding', index: 1, embedding: [0, 1] },
          { object: 'embedding', index: 0, embedding: [1, 0] },
        ],
      }),
    );
    const res = await adapter.embed!({ model: 'e5', input: ['first', 'second'] }, rawOpts());
    expect(res.vectors).toEqual([
      [1, 0],
      [0, 1],
    ]);
  });
});
