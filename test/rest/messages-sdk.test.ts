/*
 * The official `@anthropic-ai/sdk`, pointed at the gateway, works unchanged against POST /v1/messages:
 * messages.create, messages.stream (text and finalMessage), tools and a tool-result turn, each routed once to an
 * Anthropic-format provider and once to an OpenAI-format one; errors in Anthropic's shape; usage recorded.
 * @see https://docs.anthropic.com/en/api/messages
 * @see https://docs.anthropic.com/en/docs/build-with-claude/streaming
 */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { rateLimited } from '../../src/errors.js';
import { utcDay, utcMonth, type Limiter } from '../../src/gateway/limits.js';
import type { AnyJson } from '../kit/json.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { startAnthropicMock, type AnthropicMock } from '../mocks/anthropic.js';
import { startOpenAIMock, type OpenAIMock } from '../mocks/openai.js';
import { addMockProvider, createModel } from './kit.js';

let gw: TestGateway;
let openai: OpenAIMock;
let anthropic: AnthropicMock;
let client: Anthropic;
let key: { id: string; secret: string };

/** Refuses keys named "limited", as a rate limiter would: the mapping to Anthropic's 429 is what is tested. */
const limiter: Limiter = {
  async admit({ principal }) {
    if (principal.key.name === 'limited') throw rateLimited('Requests per minute exceeded', 1500);
    return { settle() {} };
  },
  peek: async (keys) => ({ day: utcDay(Date.now()), month: utcMonth(Date.now()), counters: keys.map(() => ({ requestsThisMinute: 0, tokensThisMinute: 0 })) }),
  close: async () => {},
};

const sdk = (opts: { apiKey?: string | null; authToken?: string | null }) =>
  new Anthropic({ baseURL: gw.url, maxRetries: 0, timeout: 10_000, ...opts });

beforeAll(async () => {
  [gw, openai, anthropic] = await Promise.all([startGateway({}, { limiter }), startOpenAIMock(), startAnthropicMock()]);
  await addMockProvider(gw, openai, [{ name: 'gpt-mock' }]);
  const p = await gw.gql('mutation($i: CreateProviderInput!) { createProvider(input: $i) { id } }', {
    i: { name: 'mock-anthropic', kind: 'ANTHROPIC', baseUrl: anthropic.url, apiKey: 'sk-ant-mock' },
  });
  expect(p.errors).toBeUndefined();
  await createModel(gw, { name: 'claude-mock', targets: [{ provider: 'mock-anthropic', upstreamModel: 'claude-sonnet-4-5' }] });
  key = await gw.createKey({ scopes: ['INVOKE'] });
  client = sdk({ apiKey: key.secret });
});
beforeEach(() => {
  openai.reset();
  anthropic.requests.length = 0;
  anthropic.reply({});
});
afterAll(async () => {
  await Promise.all([gw?.stop(), openai?.close(), anthropic?.close()]);
});

const weatherTool = {
  name: 'get_weather',
  description: 'Weather for a city',
  input_schema: { type: 'object' as const, properties: { city: { type: 'string' } }, required: ['city'] },
};

/**
 * One upstream of each format behind the same Messages request: how to script its answer and read what the
 * gateway sent it, in that format's own terms.
 */
interface Target {
  name: string;
  model: string;
  replyText(text: string, usage: { input: number; output: number }): void;
  replyTool(id: string, name: string, input: Record<string, unknown>): void;
  /** The body the gateway sent upstream for the last call. */
  sent(): Record<string, AnyJson>;
  /** Asserts that the upstream got the system prompt and the user text. */
  expectPrompt(sent: Record<string, AnyJson>, system: string, user: string): void;
  /** Asserts that the upstream got the tool definition. */
  expectTool(sent: Record<string, AnyJson>): void;
  /** Asserts that the upstream got the assistant's tool call and the tool's result. */
  expectToolTurn(sent: Record<string, AnyJson>, id: string, result: string): void;
}

const TARGETS: Target[] = [
  {
    name: 'an Anthropic provider',
    model: 'claude-mock',
    replyText: (text, u) => anthropic.reply({ text, usage: { input_tokens: u.input, output_tokens: u.output } }),
    replyTool: (id, name, input) => anthropic.reply({ toolCalls: [{ id, name, input }], usage: { input_tokens: 30, output_tokens: 12 } }),
    sent: () => anthropic.last().body as Record<string, AnyJson>,
    expectPrompt(sent, system, user) {
      expect(sent.model).toBe('claude-sonnet-4-5');
      expect(sent.system).toBe(system);
      expect(sent.messages).toEqual([{ role: 'user', content: [{ type: 'text', text: user }] }]);
    },
    expectTool(sent) {
      expect(sent.tools).toEqual([weatherTool]);
      expect(sent.tool_choice).toEqual({ type: 'any' });
    },
    expectToolTurn(sent, id, result) {
      expect(sent.messages).toEqual([
        { role: 'user', content: [{ type: 'text', text: 'Weather in Paris?' }] },
        { role: 'assistant', content: [{ type: 'tool_use', id, name: 'get_weather', input: { city: 'Paris' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: id, content: result }] },
      ]);
    },
  },
  {
    name: 'an OpenAI provider',
    model: 'gpt-mock',
    replyText: (text, u) => openai.reply({ text, usage: { prompt_tokens: u.input, completion_tokens: u.output } }),
    replyTool: (id, name, input) => openai.reply({ toolCalls: [{ id, name, arguments: JSON.stringify(input) }], usage: { prompt_tokens: 30, completion_tokens: 12 } }),
    sent: () => openai.chatRequests().at(-1)!.body as Record<string, AnyJson>,
    expectPrompt(sent, system, user) {
      expect(sent.model).toBe('gpt-4o-mini');
      expect(sent.messages).toEqual([
        { role: 'system', content: system },
        { role: 'user', content: [{ type: 'text', text: user }] },
      ]);
    },
    expectTool(sent) {
      expect(sent.tools).toEqual([{ type: 'function', function: { name: 'get_weather', description: 'Weather for a city', parameters: weatherTool.input_schema } }]);
      expect(sent.tool_choice).toBe('required');
    },
    expectToolTurn(sent, id, result) {
      expect(sent.messages).toEqual([
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: null, tool_calls: [{ id, type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
        { role: 'tool', tool_call_id: id, content: result },
      ]);
    },
  },
];

describe.each(TARGETS)('the Anthropic SDK through $name', (t) => {
  it('messages.create: a Message with text, stop reason and the upstream usage', async () => {
    t.replyText('Hello from upstream.', { input: 17, output: 4 });
    const msg = await client.messages.create({
      model: t.model,
      max_tokens: 256,
      system: 'Be brief.',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Say hello' }] }],
    });
    expect(msg.type).toBe('message');
    expect(msg.role).toBe('assistant');
    expect(msg.id).toMatch(/^msg_/);
    expect(msg.model).toBe(t.model);
    expect(msg.content).toEqual([{ type: 'text', text: 'Hello from upstream.' }]);
    expect(msg.stop_reason).toBe('end_turn');
    expect(msg.stop_sequence).toBeNull();
    expect(msg.usage).toMatchObject({ input_tokens: 17, output_tokens: 4 });
    t.expectPrompt(t.sent(), 'Be brief.', 'Say hello');
  });

  it('messages.stream: text events as they come, and a finalMessage with the usage', async () => {
    t.replyText('one two three four', { input: 9, output: 4 });
    const stream = client.messages.stream({ model: t.model, max_tokens: 100, system: 'Count.', messages: [{ role: 'user', content: [{ type: 'text', text: 'Count to four' }] }] });
    const texts: string[] = [];
    const types: string[] = [];
    stream.on('text', (d) => texts.push(d));
    stream.on('streamEvent', (e) => types.push(e.type));
    const final = await stream.finalMessage();
    expect(texts.join('')).toBe('one two three four');
    expect(texts.length).toBeGreaterThan(1);
    expect(final.content).toEqual([{ type: 'text', text: 'one two three four' }]);
    expect(final.stop_reason).toBe('end_turn');
    expect(final.usage).toMatchObject({ input_tokens: 9, output_tokens: 4 });
    expect(final.model).toBe(t.model);
    // Anthropic's order: message_start, one block's start/deltas/stop, message_delta, message_stop
    expect(types[0]).toBe('message_start');
    expect(types[1]).toBe('content_block_start');
    expect(types.slice(2, -3).every((x) => x === 'content_block_delta')).toBe(true);
    expect(types.slice(-3)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);
    t.expectPrompt(t.sent(), 'Count.', 'Count to four');
  });

  it('tools: the definition goes upstream, the call comes back as a tool_use block (create and stream)', async () => {
    t.replyTool('toolu_01', 'get_weather', { city: 'Paris' });
    const req = {
      model: t.model,
      max_tokens: 200,
      tools: [weatherTool],
      tool_choice: { type: 'any' as const },
      messages: [{ role: 'user' as const, content: 'Weather in Paris?' }],
    };
    const msg = await client.messages.create(req);
    expect(msg.stop_reason).toBe('tool_use');
    expect(msg.content).toEqual([{ type: 'tool_use', id: 'toolu_01', name: 'get_weather', input: { city: 'Paris' } }]);
    expect(msg.usage).toMatchObject({ input_tokens: 30, output_tokens: 12 });
    t.expectTool(t.sent());

    const json: string[] = [];
    const stream = client.messages.stream(req);
    stream.on('inputJson', (partial) => json.push(partial));
    const final = await stream.finalMessage();
    expect(final.stop_reason).toBe('tool_use');
    expect(final.content).toEqual([{ type: 'tool_use', id: 'toolu_01', name: 'get_weather', input: { city: 'Paris' } }]);
    expect(json.join('')).toBe('{"city":"Paris"}');
    t.expectTool(t.sent());
  });

  it('a tool-result turn: the assistant tool_use and the user tool_result go upstream, the answer comes back', async () => {
    t.replyText('It is sunny in Paris.', { input: 40, output: 6 });
    const msg = await client.messages.create({
      model: t.model,
      max_tokens: 200,
      tools: [weatherTool],
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_01', name: 'get_weather', input: { city: 'Paris' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01', content: '{"sky":"sunny"}' }] },
      ],
    });
    expect(msg.content).toEqual([{ type: 'text', text: 'It is sunny in Paris.' }]);
    expect(msg.stop_reason).toBe('end_turn');
    t.expectToolTurn(t.sent(), 'toolu_01', '{"sky":"sunny"}');
  });
});

describe('thinking, images and cache_control', () => {
  it('sends thinking upstream and returns signed thinking blocks (create), which go back unchanged on the next turn', async () => {
    anthropic.reply({ thinking: [{ thinking: 'The user wants weather.', signature: 'sig-abc' }, { redacted: 'opaque-data' }], toolCalls: [{ id: 'toolu_7', name: 'get_weather', input: { city: 'Oslo' } }] });
    const msg = await client.messages.create({
      model: 'claude-mock',
      max_tokens: 4000,
      thinking: { type: 'enabled', budget_tokens: 2048 },
      tools: [weatherTool],
      messages: [{ role: 'user', content: 'Weather in Oslo?' }],
    });
    expect(anthropic.last().body).toMatchObject({ thinking: { type: 'enabled', budget_tokens: 2048 }, max_tokens: 4000 });
    expect(msg.content).toEqual([
      { type: 'thinking', thinking: 'The user wants weather.', signature: 'sig-abc' },
      { type: 'redacted_thinking', data: 'opaque-data' },
      { type: 'tool_use', id: 'toolu_7', name: 'get_weather', input: { city: 'Oslo' } },
    ]);

    anthropic.reply({ text: 'Cold.' });
    await client.messages.create({
      model: 'claude-mock',
      max_tokens: 4000,
      thinking: { type: 'enabled', budget_tokens: 2048 },
      tools: [weatherTool],
      messages: [
        { role: 'user', content: 'Weather in Oslo?' },
        { role: 'assistant', content: msg.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_7', content: '-5C' }] },
      ],
    });
    const sent = anthropic.last().body as { messages: AnyJson[] };
    expect(sent.messages[1]).toEqual({
      role: 'assistant',
      content: [
        { type: 'thinking', thinking: 'The user wants weather.', signature: 'sig-abc' },
        { type: 'redacted_thinking', data: 'opaque-data' },
        { type: 'tool_use', id: 'toolu_7', name: 'get_weather', input: { city: 'Oslo' } },
      ],
    });
  });

  it('streams thinking as thinking_delta and signature_delta before the text', async () => {
    anthropic.reply({ thinking: [{ thinking: 'Two plus two.', signature: 'sig-xyz' }], text: 'Four.' });
    const stream = client.messages.stream({ model: 'claude-mock', max_tokens: 3000, thinking: { type: 'enabled', budget_tokens: 1024 }, messages: [{ role: 'user', content: '2+2?' }] });
    const thinking: string[] = [];
    const deltas: string[] = [];
    stream.on('thinking', (d) => thinking.push(d));
    stream.on('streamEvent', (e) => {
      if (e.type === 'content_block_delta') deltas.push(e.delta.type);
    });
    const final = await stream.finalMessage();
    expect(thinking.join('')).toBe('Two plus two.');
    expect(final.content).toEqual([
      { type: 'thinking', thinking: 'Two plus two.', signature: 'sig-xyz' },
      { type: 'text', text: 'Four.' },
    ]);
    expect(deltas.indexOf('signature_delta')).toBeGreaterThan(deltas.lastIndexOf('thinking_delta'));
    expect(deltas.indexOf('text_delta')).toBeGreaterThan(deltas.indexOf('signature_delta'));
  });

  it('does not turn a thinking budget into reasoning_effort for an OpenAI provider (models that do not reason refuse it)', async () => {
    openai.reply({ text: 'ok' });
    const msg = await client.messages.create({ model: 'gpt-mock', max_tokens: 20000, thinking: { type: 'enabled', budget_tokens: 10000 }, messages: [{ role: 'user', content: 'think' }] });
    expect(msg.content).toEqual([{ type: 'text', text: 'ok' }]);
    const sent = openai.chatRequests()[0].body;
    expect(sent).toMatchObject({ max_completion_tokens: 20000 });
    expect(sent).not.toHaveProperty('reasoning_effort');
  });

  it('passes cache_control on system, tools and blocks, images, stop_sequences and metadata.user_id through', async () => {
    anthropic.reply({ text: 'A cat.' });
    await client.messages.create({
      model: 'claude-mock',
      max_tokens: 100,
      stop_sequences: ['END'],
      metadata: { user_id: 'user-42' },
      system: [{ type: 'text', text: 'Long shared context.', cache_control: { type: 'ephemeral' } }],
      tools: [{ ...weatherTool, cache_control: { type: 'ephemeral', ttl: '1h' } }],
      messages: [
        {
          role: 'user',
          content: [
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
            { type: 'image', source: { type: 'url', url: 'https://example.com/cat.png' } },
            { type: 'text', text: 'What is this?', cache_control: { type: 'ephemeral' } },
          ],
        },
      ],
    });
    const sent = anthropic.last().body as Record<string, AnyJson>;
    expect(sent.system).toEqual([{ type: 'text', text: 'Long shared context.', cache_control: { type: 'ephemeral' } }]);
    expect(sent.tools).toEqual([{ ...weatherTool, cache_control: { type: 'ephemeral', ttl: '1h' } }]);
    expect(sent.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
          { type: 'image', source: { type: 'url', url: 'https://example.com/cat.png' } },
          { type: 'text', text: 'What is this?', cache_control: { type: 'ephemeral' } },
        ],
      },
    ]);
    expect(sent).toMatchObject({ stop_sequences: ['END'] });
    await gw.flushUsage();
    const u = await gw.gql('{ usage(filter: { model: "claude-mock" }, first: 1) { edges { node { user } } } }');
    expect(u.data.usage.edges[0].node.user).toBe('user-42');
  });
});

describe('errors in Anthropic shape, auth, usage', () => {
  it('a bad request is a 400 invalid_request_error naming the field', async () => {
    const err = await client.messages.create({ model: 'claude-mock', messages: [{ role: 'user', content: 'hi' }] } as unknown as Anthropic.MessageCreateParamsNonStreaming).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    const e = err as InstanceType<typeof Anthropic.BadRequestError>;
    expect(e.status).toBe(400);
    expect(e.error).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    expect((e.error as { error: { message: string } }).error.message).toMatch(/^max_tokens: /);

    const bad = await client.messages.create({ model: 'claude-mock', max_tokens: 10, messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }, { type: 'image', source: { type: 'url', url: 'ftp://x' } }] }] }).catch((x: unknown) => x);
    expect(bad).toBeInstanceOf(Anthropic.BadRequestError);
    expect(((bad as InstanceType<typeof Anthropic.BadRequestError>).error as { error: { message: string } }).error.message).toMatch(/^messages\[0\]\.content\[1\]\.source\.url: /);
  });

  it('a field the core refuses is named by the request\'s message and block, not the gateway\'s message index', async () => {
    // the system prompt and the split tool_result turn shift the gateway's indices: the bad tool name is its messages[5]
    const err = await client.messages
      .create({
        model: 'claude-mock',
        max_tokens: 10,
        system: 'Be brief.',
        messages: [
          { role: 'user', content: 'Hi' },
          { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_a', name: 'get_weather', input: {} }] },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_a', content: 'ok' }, { type: 'text', text: 'more' }] },
          { role: 'assistant', content: [{ type: 'text', text: 'x' }, { type: 'tool_use', id: 'toolu_b', name: 'bad name!', input: {} }] },
        ],
      })
      .catch((x: unknown) => x);
    expect(err).toBeInstanceOf(Anthropic.BadRequestError);
    expect(((err as InstanceType<typeof Anthropic.BadRequestError>).error as { error: { message: string } }).error.message).toMatch(/^messages\[3\]\.content\[1\]\.name: /);
    expect(anthropic.requests).toHaveLength(0);
  });

  it('an unknown key is a 401 authentication_error, with x-api-key or Bearer', async () => {
    for (const c of [sdk({ apiKey: 'gw_not_a_real_key_0000000000000000' }), sdk({ apiKey: null, authToken: 'gw_not_a_real_key_0000000000000000' })]) {
      const err = await c.messages.create({ model: 'claude-mock', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Anthropic.AuthenticationError);
      expect((err as InstanceType<typeof Anthropic.AuthenticationError>).error).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
    }
    // the gateway key as a Bearer token works as well as x-api-key
    anthropic.reply({ text: 'ok' });
    const msg = await sdk({ apiKey: null, authToken: key.secret }).messages.create({ model: 'claude-mock', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] });
    expect(msg.content).toEqual([{ type: 'text', text: 'ok' }]);
  });

  it('a rate-limited key is a 429 rate_limit_error with retry-after', async () => {
    const limited = await gw.createKey({ name: 'limited', scopes: ['INVOKE'] });
    const err = await sdk({ apiKey: limited.secret }).messages.create({ model: 'claude-mock', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.RateLimitError);
    const e = err as InstanceType<typeof Anthropic.RateLimitError>;
    expect(e.error).toMatchObject({ type: 'error', error: { type: 'rate_limit_error', message: 'Requests per minute exceeded' } });
    expect(e.headers?.get('retry-after')).toBe('2');
    // streams are refused the same way, before any event
    const s = await sdk({ apiKey: limited.secret }).messages.stream({ model: 'claude-mock', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }).finalMessage().catch((x: unknown) => x);
    expect(s).toBeInstanceOf(Anthropic.RateLimitError);
  });

  it('an unknown model is a 404 not_found_error; an upstream failure mid-stream is an error event', async () => {
    const err = await client.messages.create({ model: 'no-such-model', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Anthropic.NotFoundError);
    expect((err as InstanceType<typeof Anthropic.NotFoundError>).error).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });

    anthropic.reply({ text: 'one two three four', streamError: { type: 'invalid_request_error', message: 'bad thing' } });
    const stream = client.messages.stream({ model: 'claude-mock', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] });
    const texts: string[] = [];
    stream.on('text', (d) => texts.push(d));
    const failed = await stream.finalMessage().catch((e: unknown) => e);
    expect(texts.join('')).toBe('one');
    expect(failed).toBeInstanceOf(Anthropic.APIError);
    expect((failed as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({ type: 'error', error: { type: 'api_error' } });
  });

  it('records usage under the calling key, for create and stream, as other surfaces do', async () => {
    const own = await gw.createKey({ scopes: ['INVOKE'] });
    const c = sdk({ apiKey: own.secret });
    anthropic.reply({ text: 'a b c', usage: { input_tokens: 21, output_tokens: 3 } });
    await c.messages.create({ model: 'claude-mock', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] });
    openai.reply({ text: 'x y', usage: { prompt_tokens: 8, completion_tokens: 2 } });
    await c.messages.stream({ model: 'gpt-mock', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }).finalMessage();
    await gw.flushUsage();
    const u = await gw.gql(`{ usage(filter: { apiKeyId: "${own.id}" }) { edges { node { model provider promptTokens completionTokens streamed status apiKey { id } } } } }`);
    expect(u.errors).toBeUndefined();
    const nodes = u.data.usage.edges.map((e: { node: Record<string, unknown> }) => e.node);
    expect(nodes).toEqual(
      expect.arrayContaining([
        { model: 'claude-mock', provider: 'mock-anthropic', promptTokens: 21, completionTokens: 3, streamed: false, status: 'OK', apiKey: { id: own.id } },
        { model: 'gpt-mock', provider: 'mock-openai', promptTokens: 8, completionTokens: 2, streamed: true, status: 'OK', apiKey: { id: own.id } },
      ]),
    );
    expect(nodes).toHaveLength(2);
  });

  it('a client that leaves mid-stream aborts the upstream request, recorded as cancelled', async () => {
    anthropic.reply({ text: Array.from({ length: 40 }, (_, i) => `w${i}`).join(' '), gapMs: 40 });
    const stream = client.messages.stream({ model: 'claude-mock', max_tokens: 100, messages: [{ role: 'user', content: 'long answer' }] });
    let seen = '';
    for await (const e of stream) {
      if (e.type === 'content_block_delta' && e.delta.type === 'text_delta') seen += e.delta.text;
      if (seen.includes('w1')) break; // leaving the loop aborts the SDK's request
    }
    const closed = await Promise.race([anthropic.last().closedEarly.then(() => true), new Promise((r) => setTimeout(() => r(false), 2000))]);
    expect(closed).toBe(true);
    let records: unknown[] = [];
    for (let i = 0; i < 50 && !records.length; i++) {
      await gw.flushUsage();
      const u = await gw.gql('{ usage(filter: { model: "claude-mock", status: CANCELLED }) { edges { node { streamed status } } } }');
      records = u.data.usage.edges.map((e: { node: unknown }) => e.node);
      if (!records.length) await new Promise((r) => setTimeout(r, 20));
    }
    expect(records).toEqual([{ streamed: true, status: 'CANCELLED' }]);
  });
});
