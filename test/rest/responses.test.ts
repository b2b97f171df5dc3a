/*
 * The official `openai` SDK against POST /v1/responses and GET /v1/responses/{id}: responses.create and
 * responses.stream with a function call, then the function_call_output turn through previous_response_id, each routed
 * once to an OpenAI-format upstream (test/mocks/openai.ts) and once to an Anthropic-format one (test/mocks/anthropic.ts).
 * @see https://platform.openai.com/docs/api-reference/responses
 * @see https://platform.openai.com/docs/api-reference/responses-streaming
 */
import OpenAI from 'openai';
import type { ResponseStreamEvent } from 'openai/resources/responses/responses';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { startAnthropicMock, type AnthropicMock } from '../mocks/anthropic.js';
import { startOpenAIMock, type OpenAIMock } from '../mocks/openai.js';
import { createModel } from './kit.js';

let gw: TestGateway;
let openai: OpenAIMock;
let anthropic: AnthropicMock;
let key: { id: string; uuid: string; secret: string };
let client: OpenAI;

const sdk = (apiKey: string) => new OpenAI({ baseURL: `${gw.url}/v1`, apiKey, maxRetries: 0, timeout: 10_000 });

const weatherTool = {
  type: 'function' as const,
  name: 'get_weather',
  description: 'Weather for a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  strict: false,
};

beforeAll(async () => {
  [gw, openai, anthropic] = await Promise.all([startGateway(), startOpenAIMock(), startAnthropicMock()]);
  for (const p of [
    { name: 'mock-openai', kind: 'OPENAI', baseUrl: openai.baseUrl, apiKey: 'sk-mock' },
    { name: 'mock-anthropic', kind: 'ANTHROPIC', baseUrl: anthropic.url, apiKey: 'sk-ant-mock' },
  ]) {
    const r = await gw.gql('mutation($i: CreateProviderInput!) { createProvider(input: $i) { id } }', { i: p });
    expect(r.errors).toBeUndefined();
  }
  await createModel(gw, { name: 'gpt-resp', targets: [{ provider: 'mock-openai', upstreamModel: 'gpt-4o-mini' }] });
  await createModel(gw, { name: 'claude-resp', targets: [{ provider: 'mock-anthropic', upstreamModel: 'claude-sonnet-4-5' }] });
  key = await gw.createKey({ scopes: ['INVOKE'] });
  client = sdk(key.secret);
});
beforeEach(() => {
  openai.reset();
  anthropic.requests.length = 0;
});
afterAll(async () => {
  await Promise.all([gw?.stop(), openai?.close(), anthropic?.close()]);
});

/** One upstream format: how to script its reply, and what the gateway sent it, normalised for the assertions. */
interface Upstream {
  name: string;
  model: string;
  /** The next reply: a tool call, or text, with the usage the upstream reports. */
  replyToolCall(id: string, args: Record<string, unknown>, usage: { input: number; output: number }): void;
  replyText(text: string, usage: { input: number; output: number }): void;
  /** The last request sent upstream: system prompt, the conversation as plain turns, tool names. */
  lastSent(): { system: string | null; turns: unknown[]; tools: string[]; stream: boolean };
}

const OPENAI_UPSTREAM: Upstream = {
  name: 'OpenAI',
  model: 'gpt-resp',
  replyToolCall(id, args, usage) {
    openai.replyOnce({ toolCalls: [{ id, name: 'get_weather', arguments: JSON.stringify(args) }], usage: { prompt_tokens: usage.input, completion_tokens: usage.output } });
  },
  replyText(text, usage) {
    openai.replyOnce({ text, usage: { prompt_tokens: usage.input, completion_tokens: usage.output } });
  },
  lastSent() {
    const b = openai.chatRequests().at(-1)!.body as {
      messages: Array<{ role: string; content: unknown; tool_calls?: Array<{ id: string; function: { name: string; arguments: string } }>; tool_call_id?: string }>;
      tools?: Array<{ function: { name: string } }>;
      stream?: boolean;
    };
    const system = b.messages.find((m) => m.role === 'system');
    return {
      system: system ? String(system.content) : null,
      turns: b.messages
        .filter((m) => m.role !== 'system')
        .map((m) =>
          m.role === 'tool' ? { role: 'tool', id: m.tool_call_id, content: m.content }
          : m.tool_calls ? { role: 'assistant', calls: m.tool_calls.map((c) => ({ id: c.id, name: c.function.name, args: JSON.parse(c.function.arguments) })) }
          : { role: m.role, content: m.content },
        ),
      tools: (b.tools ?? []).map((t) => t.function.name),
      stream: b.stream === true,
    };
  },
};

const ANTHROPIC_UPSTREAM: Upstream = {
  name: 'Anthropic',
  model: 'claude-resp',
  replyToolCall(id, args, usage) {
    anthropic.replyOnce({ toolCalls: [{ id, name: 'get_weather', input: args }], usage: { input_tokens: usage.input, output_tokens: usage.output } });
  },
  replyText(text, usage) {
    anthropic.replyOnce({ text, usage: { input_tokens: usage.input, output_tokens: usage.output } });
  },
  lastSent() {
    type Block = { type: string; text?: string; id?: string; name?: string; input?: unknown; tool_use_id?: string; content?: unknown };
    const b = anthropic.last().body as {
      system?: string | Array<{ text: string }>;
      messages: Array<{ role: string; content: string | Block[] }>;
      tools?: Array<{ name: string }>;
      stream?: boolean;
    };
    const system = b.system == null ? null : typeof b.system === 'string' ? b.system : b.system.map((s) => s.text).join('\n');
    const textOf = (c: unknown) => (typeof c === 'string' ? c : (c as Block[]).map((x) => x.text ?? '').join(''));
    return {
      system,
      turns: b.messages.map((m) => {
        const blocks: Block[] = typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : m.content;
        const uses = blocks.filter((x) => x.type === 'tool_use');
        const results = blocks.filter((x) => x.type === 'tool_result');
        if (uses.length) return { role: 'assistant', calls: uses.map((u) => ({ id: u.id, name: u.name, args: u.input })) };
        if (results.length) return { role: 'tool', id: results[0].tool_use_id, content: textOf(results[0].content) };
        return { role: m.role, content: textOf(m.content) };
      }),
      tools: (b.tools ?? []).map((t) => t.name),
      stream: b.stream === true,
    };
  },
};

async function usageOf(responseId: string): Promise<Array<Record<string, unknown>>> {
  for (let i = 0; i < 50; i++) {
    await gw.flushUsage();
    const r = await gw.gql<{ usage: { edges: Array<{ node: Record<string, unknown> }> } }>(
      '{ usage(first: 50) { edges { node { model promptTokens completionTokens streamed status metadata apiKey { id } } } } }',
    );
    const found = r.data!.usage.edges.map((e) => e.node).filter((n) => (n.metadata as { response_id?: string } | null)?.response_id === responseId);
    if (found.length) return found;
    await new Promise((res) => setTimeout(res, 20));
  }
  return [];
}

describe.each([OPENAI_UPSTREAM, ANTHROPIC_UPSTREAM])('through an $name upstream', (up) => {
  it('responses.create: a function call, then its output through previous_response_id', async () => {
    up.replyToolCall('call_paris', { city: 'Paris' }, { input: 40, output: 9 });
    const first = await client.responses.create({ model: up.model, instructions: 'Be terse.', input: 'Weather in Paris?', tools: [weatherTool] });
    expect(first.object).toBe('response');
    expect(first.id).toMatch(/^resp_[0-9a-f]{48}$/);
    expect(first.status).toBe('completed');
    expect(first.model).toBe(up.model);
    expect(first.instructions).toBe('Be terse.');
    expect(first.output).toEqual([
      { id: expect.stringMatching(/^fc_/), type: 'function_call', status: 'completed', call_id: 'call_paris', name: 'get_weather', arguments: '{"city":"Paris"}' },
    ]);
    expect(first.output_text).toBe('');
    expect(first.usage).toEqual({ input_tokens: 40, input_tokens_details: { cached_tokens: 0 }, output_tokens: 9, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 49 });
    const sent1 = up.lastSent();
    expect(sent1).toEqual({ system: 'Be terse.', turns: [{ role: 'user', content: 'Weather in Paris?' }], tools: ['get_weather'], stream: false });

    up.replyText('It is sunny in Paris.', { input: 60, output: 6 });
    const second = await client.responses.create({
      model: up.model,
      previous_response_id: first.id,
      input: [{ type: 'function_call_output', call_id: 'call_paris', output: '{"sky":"sunny"}' }],
      tools: [weatherTool],
    });
    expect(second.previous_response_id).toBe(first.id);
    expect(second.output_text).toBe('It is sunny in Paris.');
    expect(second.output).toEqual([
      { id: expect.stringMatching(/^msg_/), type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'It is sunny in Paris.', annotations: [] }] },
    ]);
    // the stored turns went upstream; the first request's instructions did not (OpenAI does not carry them over)
    expect(up.lastSent()).toEqual({
      system: null,
      turns: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', calls: [{ id: 'call_paris', name: 'get_weather', args: { city: 'Paris' } }] },
        { role: 'tool', id: 'call_paris', content: '{"sky":"sunny"}' },
      ],
      tools: ['get_weather'],
      stream: false,
    });

    // both calls recorded on the key, named by their response ids
    const [u1] = await usageOf(first.id);
    expect(u1).toMatchObject({ model: up.model, promptTokens: 40, completionTokens: 9, streamed: false, status: 'OK', apiKey: { id: key.id } });
    const [u2] = await usageOf(second.id);
    expect(u2).toMatchObject({ model: up.model, promptTokens: 60, completionTokens: 6 });

    // read back as it was returned
    expect(await client.responses.retrieve(first.id)).toEqual(first);
    expect(await client.responses.retrieve(second.id)).toEqual(second);
  });

  it('responses.stream: events in order with sequence numbers, a function call, then the output turn', async () => {
    up.replyToolCall('call_oslo', { city: 'Oslo' }, { input: 30, output: 8 });
    const stream = client.responses.stream({ model: up.model, input: [{ role: 'user', content: 'Weather in Oslo?' }], tools: [weatherTool], tool_choice: 'required' });
    const events: ResponseStreamEvent[] = [];
    for await (const e of stream) events.push(e);
    const first = await stream.finalResponse();

    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    const types = events.map((e) => e.type);
    const argDeltas = types.filter((t) => t === 'response.function_call_arguments.delta').length;
    expect(argDeltas).toBeGreaterThan(0);
    expect(types).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      ...Array(argDeltas).fill('response.function_call_arguments.delta'),
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
    const created = events[0] as Extract<ResponseStreamEvent, { type: 'response.created' }>;
    expect(created.response).toMatchObject({ id: first.id, status: 'in_progress', output: [], model: up.model });
    const added = events[2] as Extract<ResponseStreamEvent, { type: 'response.output_item.added' }>;
    expect(added).toMatchObject({ output_index: 0, item: { type: 'function_call', status: 'in_progress', call_id: 'call_oslo', name: 'get_weather', arguments: '' } });
    const argsDone = events.at(-3) as Extract<ResponseStreamEvent, { type: 'response.function_call_arguments.done' }>;
    expect(argsDone).toMatchObject({ item_id: added.item.id, output_index: 0, arguments: '{"city":"Oslo"}' });
    expect(first.status).toBe('completed');
    expect(first.output).toEqual([
      { id: added.item.id, type: 'function_call', status: 'completed', call_id: 'call_oslo', name: 'get_weather', arguments: '{"city":"Oslo"}', parsed_arguments: null },
    ]);
    expect(first.usage).toMatchObject({ input_tokens: 30, output_tokens: 8, total_tokens: 38 });
    expect(up.lastSent().stream).toBe(true);

    up.replyText('Cold and clear in Oslo.', { input: 50, output: 5 });
    const next = client.responses.stream({
      model: up.model,
      previous_response_id: first.id,
      input: [{ type: 'function_call_output', call_id: 'call_oslo', output: '{"sky":"clear","c":-3}' }],
      tools: [weatherTool],
    });
    const textEvents: ResponseStreamEvent[] = [];
    let deltas = '';
    next.on('response.output_text.delta', (e) => (deltas += e.delta));
    for await (const e of next) textEvents.push(e);
    const second = await next.finalResponse();
    const t2 = textEvents.map((e) => e.type);
    const n = t2.filter((t) => t === 'response.output_text.delta').length;
    expect(n).toBeGreaterThan(1);
    expect(t2).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      ...Array(n).fill('response.output_text.delta'),
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(textEvents.map((e) => e.sequence_number)).toEqual(textEvents.map((_, i) => i));
    expect(deltas).toBe('Cold and clear in Oslo.');
    expect(second.output_text).toBe('Cold and clear in Oslo.');
    expect(second.usage).toMatchObject({ input_tokens: 50, output_tokens: 5, total_tokens: 55 });
    expect(up.lastSent().turns).toEqual([
      { role: 'user', content: 'Weather in Oslo?' },
      { role: 'assistant', calls: [{ id: 'call_oslo', name: 'get_weather', args: { city: 'Oslo' } }] },
      { role: 'tool', id: 'call_oslo', content: '{"sky":"clear","c":-3}' },
    ]);

    // the streamed response is stored as it completed
    const got = await client.responses.retrieve(second.id);
    expect(got.output).toEqual([
      { id: expect.stringMatching(/^msg_/), type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'Cold and clear in Oslo.', annotations: [] }] },
    ]);
    const [u] = await usageOf(second.id);
    expect(u).toMatchObject({ model: up.model, promptTokens: 50, completionTokens: 5, streamed: true, status: 'OK' });
  });
});

describe('stored responses belong to their key', () => {
  it('another key gets 404 for GET and previous_response_id; an ADMIN key reads it', async () => {
    const r = await client.responses.create({ model: 'echo', input: 'hello there' });
    expect(r.output_text).toBe('echo: hello there');
    const other = sdk((await gw.createKey({ scopes: ['INVOKE'] })).secret);
    const get = await other.responses.retrieve(r.id).catch((e: unknown) => e);
    expect(get).toBeInstanceOf(OpenAI.NotFoundError);
    expect((get as InstanceType<typeof OpenAI.NotFoundError>).error).toMatchObject({ type: 'not_found_error', code: 'NOT_FOUND' });
    const cont = await other.responses.create({ model: 'echo', previous_response_id: r.id, input: 'again' }).catch((e: unknown) => e);
    expect(cont).toBeInstanceOf(OpenAI.NotFoundError);
    expect((cont as InstanceType<typeof OpenAI.NotFoundError>).param).toBe('previous_response_id');
    expect((await sdk(gw.adminKey).responses.retrieve(r.id)).id).toBe(r.id);
    // an unknown id is the same 404
    await expect(client.responses.retrieve('resp_nope')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('store: false keeps nothing; DELETE removes a stored one', async () => {
    const r = await client.responses.create({ model: 'echo', input: 'not kept', store: false });
    expect((r as unknown as { store: boolean }).store).toBe(false);
    await expect(client.responses.retrieve(r.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    const kept = await client.responses.create({ model: 'echo', input: 'kept' });
    await client.responses.delete(kept.id);
    await expect(client.responses.retrieve(kept.id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('continues on the stored model when the turn names none', async () => {
    const r = await client.responses.create({ model: 'echo', input: 'one' });
    const next = await fetch(`${gw.url}/v1/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key.secret}` },
      body: JSON.stringify({ previous_response_id: r.id, input: 'two' }),
    });
    expect(next.status).toBe(200);
    const body = (await next.json()) as { model: string; output: Array<{ content: Array<{ text: string }> }> };
    expect(body.model).toBe('echo');
    expect(body.output[0].content[0].text).toBe('echo: two');
  });
});

describe('bad input is a 400 naming the field', () => {
  const bad = async (body: Record<string, unknown>) => {
    const err = await client.responses.create({ model: 'echo', input: 'hi', ...body } as never).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    const e = err as InstanceType<typeof OpenAI.BadRequestError>;
    expect(e.type).toBe('invalid_request_error');
    return e.param;
  };

  it('names request fields, item fields and the fields the core checks', async () => {
    expect(await bad({ temperature: 5 })).toBe('temperature');
    expect(await bad({ input: [{ type: 'function_call_output', output: 'x' }] })).toBe('input[0].call_id');
    expect(await bad({ input: [{ role: 'user', content: 'a' }, { type: 'function_call', call_id: 'c', name: 'bad name!', arguments: '{}' }] })).toBe('input[1].name');
    expect(await bad({ tools: [{ type: 'web_search' }] })).toBe('tools[0].type');
    expect(await bad({ text: { format: { type: 'json_schema', name: 'x', schema: {} } } })).toBe('text.format.type');
    expect(await bad({ tools: [weatherTool], tool_choice: { type: 'function', name: 'other' } })).toBe('tool_choice');
    expect(await bad({ input: [{ role: 'system', content: [{ type: 'input_image', image_url: 'https://example.com/a.png' }] }] })).toBe('input[0].content[0]');
    expect(await bad({ input: [] })).toBe('input');
    expect(await bad({ background: true })).toBe('background');
    expect(await bad({ input: [{ type: 'item_reference', id: 'msg_1' }] })).toBe('input[0].type');
    expect(await bad({ previous_response_id: '' })).toBe('previous_response_id');
  });

  it('a missing model without previous_response_id', async () => {
    const res = await fetch(`${gw.url}/v1/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key.secret}` },
      body: JSON.stringify({ input: 'hi' }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { param: string } }).error.param).toBe('model');
  });
});
