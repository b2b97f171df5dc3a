/**
 * Issue 3 end to end: every provider kind behind a real gateway, called through GraphQL over HTTP and
 * graphql-ws, against mock upstreams that speak each provider's wire format. Checks what went upstream
 * as well as what came back, and that the usage record agrees with what the mock reported.
 */
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { startAnthropicMock, type AnthropicMock } from '../mocks/anthropic.js';
import { startGeminiMock, type GeminiMock } from '../mocks/gemini.js';
import type { RecordedRequest } from '../mocks/mock-server.js';
import { COMPATIBLE_QUIRKS, startOpenAIMock, type OpenAIMock } from '../mocks/openai.js';
import {
  chat,
  chatOk,
  createModel,
  createProvider,
  ok,
  streamAll,
  subscribeChat,
  textOf,
  uniq,
  usageEventually,
  usageOf,
  withTimeout,
  wsClient,
  type ProviderKind,
} from './helpers.js';

const PROVIDER_SECRET = 'sk-provider-secret';
const PRICE_IN = 1.5; // USD per MTok
const PRICE_OUT = 4;
const cost = (p: number, c: number) => (p * PRICE_IN + c * PRICE_OUT) / 1e6;

let gw: TestGateway;
let caller: { id: string; secret: string };
let ws: Client;
let openai: OpenAIMock;
let compat: OpenAIMock;
let anthropic: AnthropicMock;
let gemini: GeminiMock;

/** What a test asks a mock to answer, in one shape for every kind. */
interface Script {
  text?: string;
  usage?: { prompt: number; completion: number };
  /** Without an id the mock makes one up the way its provider does (Gemini: none at all). */
  toolCall?: { id?: string; name: string; args: Record<string, unknown> };
  gapMs?: number;
  /** End the connection after this many *content* chunks (text pieces) were sent. */
  cutAfterChunks?: number;
  /** Stop sending (connection kept open) after this many content chunks. */
  stallAfterChunks?: number;
}

interface Kind {
  kind: ProviderKind;
  baseUrl(): string;
  script(s: Script): void;
  /** Chat/stream requests the mock received for an upstream model. */
  requests(upstreamModel: string): RecordedRequest[];
  credentialOf(r: RecordedRequest): string | undefined;
}

// events before the first text piece: OpenAI sends a role chunk, Anthropic message_start + ping + content_block_start
const OPENAI_LEAD = 1;
const ANTHROPIC_LEAD = 3;

function openaiKind(kind: 'OPENAI' | 'OPENAI_COMPATIBLE', mock: () => OpenAIMock): Kind {
  return {
    kind,
    baseUrl: () => mock().baseUrl,
    script(s) {
      mock().reply({
        text: s.text,
        usage: s.usage && { prompt_tokens: s.usage.prompt, completion_tokens: s.usage.completion },
        toolCalls: s.toolCall && [{ id: s.toolCall.id, name: s.toolCall.name, arguments: JSON.stringify(s.toolCall.args) }],
        gapMs: s.gapMs,
        cutAfter: s.cutAfterChunks !== undefined ? OPENAI_LEAD + s.cutAfterChunks : undefined,
        stallAfter: s.stallAfterChunks !== undefined ? OPENAI_LEAD + s.stallAfterChunks : undefined,
      });
    },
    requests: (m) => mock().chatRequests().filter((r) => r.body?.model === m),
    credentialOf: (r) => String(r.headers.authorization ?? '').replace(/^Bearer /, '') || undefined,
  };
}

const KINDS: Kind[] = [
  openaiKind('OPENAI', () => openai),
  openaiKind('OPENAI_COMPATIBLE', () => compat),
  {
    kind: 'ANTHROPIC',
    baseUrl: () => anthropic.url,
    script(s) {
      anthropic.reply({
        text: s.text,
        usage: s.usage && { input_tokens: s.usage.prompt, output_tokens: s.usage.completion },
        toolCalls: s.toolCall && [{ id: s.toolCall.id, name: s.toolCall.name, input: s.toolCall.args }],
        gapMs: s.gapMs,
        cutAfter: s.cutAfterChunks !== undefined ? ANTHROPIC_LEAD + s.cutAfterChunks : undefined,
        stallAfter: s.stallAfterChunks !== undefined ? ANTHROPIC_LEAD + s.stallAfterChunks : undefined,
      });
    },
    requests: (m) => anthropic.requests.filter((r) => r.body?.model === m),
    credentialOf: (r) => r.headers['x-api-key'] as string | undefined,
  },
  {
    kind: 'GEMINI',
    baseUrl: () => gemini.url,
    script(s) {
      gemini.reply({
        text: s.text,
        usage: s.usage && { promptTokenCount: s.usage.prompt, candidatesTokenCount: s.usage.completion },
        functionCalls: s.toolCall && [{ name: s.toolCall.name, args: s.toolCall.args }],
        gapMs: s.gapMs,
        cutAfter: s.cutAfterChunks,
        stallAfter: s.stallAfterChunks,
      });
    },
    requests: (m) => gemini.requests.filter((r) => r.path.includes(`/models/${m}:`)),
    credentialOf: (r) => r.headers['x-goog-api-key'] as string | undefined,
  },
];

/** A provider of this kind pointed at its mock, and a priced model with one target on it. */
async function setup(k: Kind): Promise<{ provider: string; model: string; upstream: string }> {
  const provider = uniq(k.kind.toLowerCase().replace('_', '-'));
  const model = uniq('m');
  const upstream = uniq('up');
  await createProvider(gw, { name: provider, kind: k.kind, baseUrl: k.baseUrl(), apiKey: PROVIDER_SECRET });
  await createModel(gw, {
    name: model,
    targets: [{ provider, upstreamModel: upstream }],
    inputPricePerMTok: PRICE_IN,
    outputPricePerMTok: PRICE_OUT,
    timeoutMs: 5000,
  });
  return { provider, model, upstream };
}

/** The upstream request carries the provider credential and nothing of the caller's gateway key. */
function expectProviderCredential(k: Kind, r: RecordedRequest) {
  expect(k.credentialOf(r)).toBe(PROVIDER_SECRET);
  const everything = JSON.stringify({ path: r.path, headers: r.headers, body: r.body });
  expect(everything).not.toContain(caller.secret);
  expect(everything).not.toContain('gw_');
}

beforeAll(async () => {
  [openai, compat, anthropic, gemini] = await Promise.all([
    startOpenAIMock(),
    startOpenAIMock({ quirks: { noId: true, noModel: true, usageInFinishChunk: true } }),
    startAnthropicMock(),
    startGeminiMock(),
  ]);
  gw = await startGateway({}, { policy: { backoffBaseMs: 5, backoffMaxMs: 20 } });
  caller = await gw.createKey({ name: 'e2e caller', scopes: ['INVOKE'] });
  ws = wsClient(gw, caller.secret);
});

afterAll(async () => {
  await ws?.dispose();
  await gw?.stop();
  await Promise.all([openai?.close(), compat?.close(), anthropic?.close(), gemini?.close()]);
});

const QUESTION = [
  { role: 'SYSTEM', content: 'You are terse.' },
  { role: 'USER', content: 'What is the capital of France?' },
];

describe.each(KINDS)('$kind through the gateway', (k) => {
  it('chat returns the content and usage the mock reported, sends the provider credential and the right wire shape; the usage record agrees', async () => {
    const { provider, model, upstream } = await setup(k);
    k.script({ text: 'Paris, of course.', usage: { prompt: 17, completion: 5 } });

    const res = await chatOk(gw, { model, messages: QUESTION, maxTokens: 64, temperature: 0.2 }, caller.secret);

    expect(res).toMatchObject({ model, provider, upstreamModel: upstream, attempts: 1, finishReason: 'STOP' });
    expect(res.message).toEqual({ role: 'ASSISTANT', content: 'Paris, of course.', toolCalls: [] });
    expect(res.usage).toEqual({ promptTokens: 17, completionTokens: 5, totalTokens: 22, costUsd: expect.closeTo(cost(17, 5), 12) });

    const reqs = k.requests(upstream);
    expect(reqs).toHaveLength(1);
    const r = reqs[0];
    expectProviderCredential(k, r);
    const b = r.body;
    switch (k.kind) {
      case 'OPENAI':
      case 'OPENAI_COMPATIBLE':
        expect(r.path).toBe('/v1/chat/completions');
        expect(b.messages).toEqual([
          { role: 'system', content: 'You are terse.' },
          { role: 'user', content: 'What is the capital of France?' },
        ]);
        expect(b.temperature).toBe(0.2);
        // OpenAI's current field; compatible servers only know the older one
        if (k.kind === 'OPENAI') expect(b.max_completion_tokens).toBe(64);
        else expect(b.max_tokens).toBe(64);
        expect(b.stream ?? false).toBe(false);
        break;
      case 'ANTHROPIC':
        expect(r.path).toBe('/v1/messages');
        expect(r.headers['anthropic-version']).toMatch(/^\d{4}-\d{2}-\d{2}$/);
        expect(r.headers.authorization).toBeUndefined();
        // system prompt at top level, never a message role
        expect(typeof b.system === 'string' ? b.system : b.system.map((x: { text: string }) => x.text).join('\n')).toBe('You are terse.');
        expect(b.messages).toEqual([{ role: 'user', content: expect.anything() }]);
        expect(JSON.stringify(b.messages)).toContain('What is the capital of France?');
        expect(b.max_tokens).toBe(64);
        expect(b.temperature).toBe(0.2);
        break;
      case 'GEMINI':
        expect(r.path).toBe(`/v1beta/models/${upstream}:generateContent`);
        expect(r.headers.authorization).toBeUndefined();
        expect(b.systemInstruction).toEqual({ parts: [{ text: 'You are terse.' }] });
        expect(b.contents).toEqual([{ role: 'user', parts: [{ text: 'What is the capital of France?' }] }]);
        expect(b.generationConfig).toMatchObject({ maxOutputTokens: 64, temperature: 0.2 });
        break;
    }

    const [rec, ...more] = await usageOf(gw, model);
    expect(more).toHaveLength(0);
    expect(rec).toMatchObject({ status: 'OK', streamed: false, provider, upstreamModel: upstream, attempts: 1, promptTokens: 17, completionTokens: 5 });
    expect(rec.costUsd).toBeCloseTo(cost(17, 5), 12);
  });

  it('a tool call round-trips: the answer carries the call, the follow-up sends the assistant call and the TOOL result upstream', async () => {
    const { model, upstream } = await setup(k);
    const tools = [
      {
        name: 'get_weather',
        description: 'Weather for a city',
        parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
      },
    ];
    k.script({ toolCall: { id: 'call_w1', name: 'get_weather', args: { city: 'Paris' } }, usage: { prompt: 30, completion: 12 } });
    const first = await chatOk(gw, { model, messages: [{ role: 'USER', content: 'Weather in Paris?' }], tools }, caller.secret);

    expect(first.finishReason).toBe('TOOL_CALLS');
    expect(first.message.toolCalls).toHaveLength(1);
    const call = first.message.toolCalls[0];
    expect(call.name).toBe('get_weather');
    expect(JSON.parse(call.arguments)).toEqual({ city: 'Paris' });
    // Gemini sends no call id: the gateway makes one up; the others pass the provider's id through
    if (k.kind !== 'GEMINI') expect(call.id).toBe('call_w1');
    else expect(call.id).toBeTruthy();
    expect(first.usage).toMatchObject({ promptTokens: 30, completionTokens: 12 });

    // the tool definitions went upstream in the provider's own shape
    const firstBody = k.requests(upstream)[0].body;
    if (k.kind === 'OPENAI' || k.kind === 'OPENAI_COMPATIBLE') {
      expect(firstBody.tools).toEqual([{ type: 'function', function: expect.objectContaining({ name: 'get_weather', parameters: tools[0].parameters }) }]);
    } else if (k.kind === 'ANTHROPIC') {
      expect(firstBody.tools).toEqual([expect.objectContaining({ name: 'get_weather', input_schema: tools[0].parameters })]);
    } else {
      expect(firstBody.tools).toEqual([{ functionDeclarations: [expect.objectContaining({ name: 'get_weather' })] }]);
    }

    k.script({ text: 'It is 21 degrees in Paris.', usage: { prompt: 45, completion: 7 } });
    const second = await chatOk(
      gw,
      {
        model,
        tools,
        messages: [
          { role: 'USER', content: 'Weather in Paris?' },
          { role: 'ASSISTANT', content: null, toolCalls: [call] },
          { role: 'TOOL', toolCallId: call.id, content: '{"tempC":21}' },
        ],
      },
      caller.secret,
    );
    expect(second.message.content).toBe('It is 21 degrees in Paris.');
    expect(second.finishReason).toBe('STOP');

    const reqs = k.requests(upstream);
    expect(reqs).toHaveLength(2);
    const msgs = reqs[1].body.messages ?? reqs[1].body.contents;
    switch (k.kind) {
      case 'OPENAI':
      case 'OPENAI_COMPATIBLE':
        expect(msgs[1]).toMatchObject({
          role: 'assistant',
          tool_calls: [{ id: 'call_w1', type: 'function', function: { name: 'get_weather', arguments: call.arguments } }],
        });
        expect(msgs[2]).toEqual({ role: 'tool', tool_call_id: 'call_w1', content: '{"tempC":21}' });
        break;
      case 'ANTHROPIC':
        expect(msgs[1]).toEqual({
          role: 'assistant',
          content: [expect.objectContaining({ type: 'tool_use', id: 'call_w1', name: 'get_weather', input: { city: 'Paris' } })],
        });
        expect(msgs[2].role).toBe('user');
        expect(msgs[2].content[0]).toMatchObject({ type: 'tool_result', tool_use_id: 'call_w1' });
        expect(JSON.stringify(msgs[2].content[0].content)).toContain('21');
        break;
      case 'GEMINI':
        expect(msgs[1]).toEqual({ role: 'model', parts: [{ functionCall: expect.objectContaining({ name: 'get_weather', args: { city: 'Paris' } }) }] });
        expect(msgs[2].role).toBe('user');
        // the response is matched to the call by name (Gemini has no ids)
        expect(msgs[2].parts[0].functionResponse).toMatchObject({ name: 'get_weather' });
        expect(JSON.stringify(msgs[2].parts[0].functionResponse.response)).toContain('21');
        break;
    }
  });

  it('a two-round tool loop with different functions: call ids are unique across the conversation, and each result goes back under its own call', async () => {
    const { model, upstream } = await setup(k);
    const tools = [
      { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
      { name: 'get_time', parameters: { type: 'object', properties: { zone: { type: 'string' } }, required: ['zone'] } },
    ];
    const ask = { role: 'USER', content: 'Weather and time in Paris?' };

    // ids as each provider makes them (none from Gemini): nothing here hands the gateway unique ones
    k.script({ toolCall: { name: 'get_weather', args: { city: 'Paris' } } });
    const first = await chatOk(gw, { model, tools, messages: [ask] }, caller.secret);
    const weatherCall = first.message.toolCalls[0];
    expect(weatherCall.name).toBe('get_weather');

    k.script({ toolCall: { name: 'get_time', args: { zone: 'Europe/Paris' } } });
    const round1 = [ask, { role: 'ASSISTANT', content: null, toolCalls: [weatherCall] }, { role: 'TOOL', toolCallId: weatherCall.id, content: '{"tempC":21}' }];
    const second = await chatOk(gw, { model, tools, messages: round1 }, caller.secret);
    const timeCall = second.message.toolCalls[0];
    expect(timeCall.name).toBe('get_time');
    expect(timeCall.id).toBeTruthy();
    expect(timeCall.id).not.toBe(weatherCall.id);

    k.script({ text: '21 degrees, and it is noon.' });
    const round2 = [...round1, { role: 'ASSISTANT', content: null, toolCalls: [timeCall] }, { role: 'TOOL', toolCallId: timeCall.id, content: '{"time":"12:00"}' }];
    const third = await chatOk(gw, { model, tools, messages: round2 }, caller.secret);
    expect(third.message.content).toBe('21 degrees, and it is noon.');

    // what the third upstream request pairs each result with: [call name, result] in conversation order
    const body = k.requests(upstream)[2].body;
    let pairs: Array<[string, string]> = [];
    switch (k.kind) {
      case 'OPENAI':
      case 'OPENAI_COMPATIBLE': {
        const messages = body.messages as Array<{ role: string; content: string; tool_call_id?: string; tool_calls?: Array<{ id: string; function: { name: string } }> }>;
        const names = new Map<string, string>();
        for (const m of messages) for (const c of m.tool_calls ?? []) names.set(c.id, c.function.name);
        const results = messages.filter((m) => m.role === 'tool');
        pairs = results.map((m) => [names.get(m.tool_call_id!)!, m.content]);
        expect(results.map((m) => m.tool_call_id)).toEqual([weatherCall.id, timeCall.id]);
        break;
      }
      case 'ANTHROPIC': {
        type Block = { type: string; id?: string; name?: string; tool_use_id?: string; content?: unknown };
        const blocks = (body.messages as Array<{ content: string | Block[] }>).flatMap((m) => (Array.isArray(m.content) ? m.content : []));
        const names = new Map(blocks.filter((b) => b.type === 'tool_use').map((b) => [b.id!, b.name!]));
        const results = blocks.filter((b) => b.type === 'tool_result');
        expect(results.map((b) => b.tool_use_id)).toEqual([weatherCall.id, timeCall.id]);
        pairs = results.map((b) => [names.get(b.tool_use_id!)!, JSON.stringify(b.content)]);
        break;
      }
      case 'GEMINI': {
        // Gemini pairs a functionResponse with its call by name
        type Part = { functionCall?: { name: string }; functionResponse?: { name: string; response: unknown } };
        const parts = (body.contents as Array<{ parts: Part[] }>).flatMap((c) => c.parts);
        pairs = parts.filter((p) => p.functionResponse).map((p) => [p.functionResponse!.name, JSON.stringify(p.functionResponse!.response)]);
        expect(parts.filter((p) => p.functionCall).map((p) => p.functionCall!.name)).toEqual(['get_weather', 'get_time']);
        break;
      }
    }
    expect(pairs.map(([name]) => name)).toEqual(['get_weather', 'get_time']);
    expect(pairs[0][1]).toContain('21');
    expect(pairs[1][1]).toContain('12:00');
  });

  it('chatStream over graphql-ws forwards chunks while the mock is still sending; final chunk, ChatResult and usage record agree with the mock', async () => {
    const { provider, model, upstream } = await setup(k);
    const gap = 120;
    k.script({ text: 'one two three four five six', usage: { prompt: 21, completion: 6 }, gapMs: gap });

    const run = subscribeChat(ws, { model, messages: QUESTION });
    const first = await withTimeout(run.firstChunk, 3000, 'the first chunk');
    const { completed, errors, chunks } = await withTimeout(run.done, 5000, 'the end of the stream');

    expect(errors).toEqual([]);
    expect(completed).toBe(true);
    expect(textOf(chunks)).toBe('one two three four five six');
    // one chunk per upstream piece, each forwarded as it arrived: the first long before the mock was done
    const content = chunks.filter((c) => c.delta);
    expect(content).toHaveLength(6);
    const final = chunks[chunks.length - 1];
    // a buffering gateway would deliver everything at once (≈ 0 ms apart); the slack lets the first piece
    // be up to two gaps late under a loaded suite without hiding that
    expect(final.at - first.at).toBeGreaterThanOrEqual(3 * gap);
    // the mock sleeps `gap` after each piece and cannot start before the subscription did, so piece i
    // cannot arrive before i gaps: measured from the subscription's start, not from piece 0, whose
    // own lateness would otherwise eat the bound (40 ms allowed because node timers start from the
    // event loop's cached clock, which is stale while the loop is busy)
    for (let i = 1; i < content.length; i++) expect(content[i].at).toBeGreaterThanOrEqual(i * gap - 40);

    expect(final).toMatchObject({ delta: '', finishReason: 'STOP' });
    expect(final.usage).toEqual({ promptTokens: 21, completionTokens: 6, totalTokens: 27, costUsd: expect.closeTo(cost(21, 6), 12) });
    expect(chunks.slice(0, -1).every((c) => c.finishReason === null && c.usage === null)).toBe(true);

    const r = k.requests(upstream)[0];
    expectProviderCredential(k, r);
    if (k.kind === 'OPENAI' || k.kind === 'OPENAI_COMPATIBLE') {
      expect(r.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    } else if (k.kind === 'ANTHROPIC') {
      expect(r.body).toMatchObject({ stream: true, system: expect.anything(), max_tokens: expect.any(Number) });
    } else {
      expect(r.path).toBe(`/v1beta/models/${upstream}:streamGenerateContent?alt=sse`);
    }

    const recs = await usageEventually(gw, model, 1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ status: 'OK', streamed: true, provider, upstreamModel: upstream, attempts: 1, promptTokens: 21, completionTokens: 6 });
    expect(recs[0].costUsd).toBeCloseTo(cost(21, 6), 12);
    expect(recs[0].ttftMs).not.toBeNull();
    expect(recs[0].ttftMs!).toBeLessThan(final.at);
  });

  it('a streamed tool call arrives as ToolCallDeltas that add up to the call', async () => {
    const { model } = await setup(k);
    k.script({ toolCall: { id: 'call_s1', name: 'get_weather', args: { city: 'Oslo', unit: 'C' } }, usage: { prompt: 30, completion: 12 } });
    const { errors, chunks } = await streamAll(ws, {
      model,
      messages: [{ role: 'USER', content: 'Weather in Oslo?' }],
      tools: [{ name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' }, unit: { type: 'string' } } } }],
    });
    expect(errors).toEqual([]);
    const deltas = chunks.flatMap((c) => c.toolCalls ?? []);
    expect(deltas.length).toBeGreaterThan(0);
    expect(deltas.every((d) => d.index === 0)).toBe(true);
    expect(deltas.map((d) => d.name ?? '').join('')).toBe('get_weather');
    expect(JSON.parse(deltas.map((d) => d.argumentsDelta ?? '').join(''))).toEqual({ city: 'Oslo', unit: 'C' });
    const final = chunks[chunks.length - 1];
    expect(final.finishReason).toBe('TOOL_CALLS');
    expect(final.usage).toMatchObject({ promptTokens: 30, completionTokens: 12 });
  });

  it('unsubscribing after the first chunk closes the upstream connection at once; the usage record is CANCELLED', async () => {
    const { provider, model, upstream } = await setup(k);
    // the mock sends two pieces, then stays silent with the connection open (as a model thinking would)
    k.script({ text: 'alpha beta gamma delta epsilon', usage: { prompt: 9, completion: 5 }, stallAfterChunks: 2 });

    const run = subscribeChat(ws, { model, messages: QUESTION });
    await withTimeout(run.firstChunk, 3000, 'the first chunk');
    const r = k.requests(upstream)[0];
    run.unsubscribe();
    const t0 = Date.now();
    await withTimeout(r.closedEarly, 1000, 'the mock seeing its connection closed');
    expect(Date.now() - t0).toBeLessThan(1000);

    const recs = await usageEventually(gw, model, 1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ status: 'CANCELLED', streamed: true, provider, attempts: 1 });
  });

  it('a stream cut mid-way ends with a final ERROR chunk, then an UPSTREAM_ERROR, never a hang', async () => {
    const { provider, model } = await setup(k);
    k.script({ text: 'first second third fourth fifth', usage: { prompt: 9, completion: 5 }, gapMs: 20, cutAfterChunks: 2 });

    const { completed, errors, chunks } = await streamAll(ws, { model, messages: QUESTION }, 5000);

    expect(chunks.map((c) => c.delta).filter(Boolean)).toEqual(['first', ' second']);
    const last = chunks[chunks.length - 1];
    expect(last.finishReason).toBe('ERROR');
    expect(completed).toBe(false);
    expect(errors).toHaveLength(1);
    expect(errors[0].extensions?.code).toBe('UPSTREAM_ERROR');

    const recs = await usageEventually(gw, model, 1);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ status: 'ERROR', errorCode: 'UPSTREAM_ERROR', streamed: true, provider, attempts: 1 });
  });
});

describe('OPENAI_COMPATIBLE servers that report no usage', () => {
  it('usage is counted locally and agrees between ChatResult, the final chunk and the usage records', async () => {
    const provider = uniq('vllm');
    const model = uniq('m');
    const mock = await startOpenAIMock({ quirks: COMPATIBLE_QUIRKS });
    try {
      await createProvider(gw, { name: provider, kind: 'OPENAI_COMPATIBLE', baseUrl: mock.baseUrl });
      await createModel(gw, { name: model, targets: [{ provider, upstreamModel: 'llama' }], inputPricePerMTok: PRICE_IN, outputPricePerMTok: PRICE_OUT });
      mock.reply({ text: 'The capital of France is Paris.' });
      const res = await chatOk(gw, { model, messages: QUESTION }, caller.secret);
      expect(res.message.content).toBe('The capital of France is Paris.');
      expect(res.usage.promptTokens).toBeGreaterThan(0);
      expect(res.usage.completionTokens).toBeGreaterThan(0);
      // no key configured: none sent
      expect(mock.chatRequests()[0].headers.authorization).toBeUndefined();

      const { chunks, errors } = await streamAll(ws, { model, messages: QUESTION });
      expect(errors).toEqual([]);
      const final = chunks[chunks.length - 1];
      expect(final.finishReason).toBe('STOP');
      expect(final.usage).toEqual(res.usage);

      const recs = await usageEventually(gw, model, 2);
      expect(recs).toHaveLength(2);
      for (const r of recs) expect({ p: r.promptTokens, c: r.completionTokens }).toEqual({ p: res.usage.promptTokens, c: res.usage.completionTokens });
    } finally {
      await mock.close();
    }
  });
});

describe('errors from each provider', () => {
  it.each(KINDS)('$kind: a 400 fails at once with the provider message and extensions.status', async (k) => {
    const { provider, model, upstream } = await setup(k);
    const message = 'temperature: must be at most 2';
    if (k.kind === 'ANTHROPIC') anthropic.reply({ fail: { status: 400, message } });
    else if (k.kind === 'GEMINI') gemini.reply({ fail: { status: 400, message } });
    else (k.kind === 'OPENAI' ? openai : compat).reply({ status: 400, error: { message } });

    const res = await chat(gw, { model, messages: QUESTION }, caller.secret);
    expect(res.data).toBeNull();
    expect(res.errors).toHaveLength(1);
    expect(res.errors![0].message).toContain(message);
    expect(res.errors![0].extensions).toMatchObject({ code: 'UPSTREAM_ERROR', status: 400, provider });
    expect(k.requests(upstream)).toHaveLength(1);
  });
});

describe('embeddings', () => {
  it('OPENAI: vectors and the usage the mock reported, in the result and the usage record', async () => {
    const provider = uniq('openai-emb');
    const model = uniq('emb');
    await createProvider(gw, { name: provider, kind: 'OPENAI', baseUrl: openai.baseUrl, apiKey: PROVIDER_SECRET });
    await createModel(gw, { name: model, targets: [{ provider, upstreamModel: 'text-embedding-3-small' }], inputPricePerMTok: 0.02 });
    openai.reply({ embeddingDims: 4 });
    const res = ok(
      await gw.gql(
        'mutation($input: EmbedInput!) { embed(input: $input) { model provider vectors usage { promptTokens completionTokens totalTokens costUsd } } }',
        { input: { model, input: ['hello world', 'the quick brown fox'] } },
        caller.secret,
      ),
    ).embed;
    expect(res.model).toBe(model);
    expect(res.provider).toBe(provider);
    expect(res.vectors).toHaveLength(2);
    expect(res.vectors[0]).toHaveLength(4);
    // the mock counts words: 2 + 4
    expect(res.usage).toEqual({ promptTokens: 6, completionTokens: 0, totalTokens: 6, costUsd: expect.closeTo((6 * 0.02) / 1e6, 12) });
    const req = openai.embeddingRequests().at(-1)!;
    expect(req.body).toMatchObject({ model: 'text-embedding-3-small', input: ['hello world', 'the quick brown fox'] });
    expectProviderCredential(KINDS[0], req);
    const recs = await usageOf(gw, model);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ status: 'OK', provider, promptTokens: 6, completionTokens: 0, attempts: 1 });
  });

  it('GEMINI: batchEmbedContents, vectors in order, usage counted locally and recorded', async () => {
    const provider = uniq('gemini-emb');
    const model = uniq('emb');
    await createProvider(gw, { name: provider, kind: 'GEMINI', baseUrl: gemini.url, apiKey: PROVIDER_SECRET });
    await createModel(gw, { name: model, targets: [{ provider, upstreamModel: 'text-embedding-004' }] });
    gemini.reply({ embeddingDims: 6 });
    const res = ok(
      await gw.gql(
        'mutation($input: EmbedInput!) { embed(input: $input) { provider vectors usage { promptTokens completionTokens totalTokens } } }',
        { input: { model, input: ['alpha', 'beta gamma'] } },
        caller.secret,
      ),
    ).embed;
    expect(res.provider).toBe(provider);
    expect(res.vectors).toHaveLength(2);
    expect(res.vectors[0]).toHaveLength(6);
    expect(res.vectors[0]).not.toEqual(res.vectors[1]);
    expect(res.usage.promptTokens).toBeGreaterThan(0);
    expect(res.usage.totalTokens).toBe(res.usage.promptTokens);
    const req = gemini.requests.at(-1)!;
    expect(req.path).toBe('/v1beta/models/text-embedding-004:batchEmbedContents');
    expect(req.body.requests).toEqual([
      { model: 'models/text-embedding-004', content: { parts: [{ text: 'alpha' }] } },
      { model: 'models/text-embedding-004', content: { parts: [{ text: 'beta gamma' }] } },
    ]);
    expectProviderCredential(KINDS[3], req);
    const recs = await usageOf(gw, model);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ status: 'OK', provider, promptTokens: res.usage.promptTokens });
  });

  it('ANTHROPIC has no embeddings: a clear error, not a retry loop', async () => {
    const { model, upstream } = await setup(KINDS[2]);
    const res = await gw.gql('mutation($input: EmbedInput!) { embed(input: $input) { provider } }', { input: { model, input: ['x'] } }, caller.secret);
    expect(res.errors?.[0].extensions?.code).toBe('UPSTREAM_ERROR');
    expect(res.errors?.[0].message).toMatch(/embeddings/i);
    expect(KINDS[2].requests(upstream)).toHaveLength(0);
    const recs = await usageOf(gw, model);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ status: 'ERROR', attempts: 1 });
  });
});
