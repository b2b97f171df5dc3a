/*
 * POST /v1/responses on the wire: named SSE events, a message and function calls in one stream (each item closed before
 * the next opens), a failure after the stream started (`response.failed`), a failure before it (its HTTP status), and the
 * request fields carried upstream (images, developer messages, sampling, reasoning effort, JSON mode, user, metadata).
 * @see https://platform.openai.com/docs/api-reference/responses-streaming
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createEchoAdapter } from '../../src/providers/echo/index.js';
import type { ProviderAdapter, StreamChunk, Usage } from '../../src/providers/types.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { mockError, startOpenAIMock, type OpenAIMock } from '../mocks/openai.js';
import { addMockProvider, post } from './kit.js';

let gw: TestGateway;
let mock: OpenAIMock;
let key: string;
let client: OpenAI;

/** Echo, reporting cached and reasoning parts of its tokens (as OpenAI's cached_tokens and reasoning_tokens would be read). */
function tokenPartsEcho(): ProviderAdapter {
  const echo = createEchoAdapter();
  const parts = (u: Usage): Usage => ({ ...u, cachedReadTokens: 1, reasoningTokens: 2 });
  return {
    ...echo,
    async chat(req, opts) {
      const r = await echo.chat(req, opts);
      return { ...r, usage: parts(r.usage) };
    },
    async *stream(req, opts): AsyncGenerator<StreamChunk> {
      for await (const c of echo.stream(req, opts)) yield c.usage ? { ...c, usage: parts(c.usage) } : c;
    },
  };
}

beforeAll(async () => {
  [gw, mock] = await Promise.all([startGateway({}, { adapters: { ECHO: tokenPartsEcho() } }), startOpenAIMock()]);
  await addMockProvider(gw, mock, [{ name: 'gpt-mock' }]);
  key = (await gw.createKey({ scopes: ['INVOKE'] })).secret;
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: key, maxRetries: 0, timeout: 10_000 });
});
beforeEach(() => mock.reset());
afterAll(async () => {
  await Promise.all([gw?.stop(), mock?.close()]);
});

/** Each SSE block as {event, data}. */
async function sseEvents(res: Response): Promise<Array<{ event: string | null; data: Record<string, unknown> }>> {
  const text = await res.text();
  return text
    .split(/\n\n/)
    .filter((b) => b.trim())
    .map((block) => {
      const lines = block.split('\n');
      const event = lines.find((l) => l.startsWith('event:'))?.slice(6).trim() ?? null;
      const data = lines.filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
      return { event, data: JSON.parse(data) as Record<string, unknown> };
    });
}

describe('streamed on the wire', () => {
  it('names every event (`event:` = data.type); a message, then two function calls, each item closed before the next', async () => {
    mock.reply({
      text: 'Checking both.',
      toolCalls: [
        { id: 'call_a', name: 'get_weather', arguments: '{"city":"Rome"}' },
        { id: 'call_b', name: 'get_weather', arguments: '{"city":"Oslo"}' },
      ],
      usage: { prompt_tokens: 20, completion_tokens: 12 },
    });
    const res = await post(gw, '/v1/responses', { model: 'gpt-mock', input: 'Rome and Oslo?', stream: true, tools: [{ type: 'function', name: 'get_weather', parameters: { type: 'object' } }] }, key);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = await sseEvents(res);
    for (const [i, e] of events.entries()) {
      expect(e.event).toBe(e.data.type);
      expect(e.data.sequence_number).toBe(i);
    }
    const shape = events.map((e) => {
      const d = e.data as { type: string; output_index?: number };
      return d.output_index === undefined ? d.type : `${d.type}@${d.output_index}`;
    });
    const collapse = (xs: string[]) => xs.filter((x, i) => x !== xs[i - 1]);
    expect(collapse(shape)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added@0',
      'response.content_part.added@0',
      'response.output_text.delta@0',
      'response.output_text.done@0',
      'response.content_part.done@0',
      'response.output_item.done@0',
      'response.output_item.added@1',
      'response.function_call_arguments.delta@1',
      'response.function_call_arguments.done@1',
      'response.output_item.done@1',
      'response.output_item.added@2',
      'response.function_call_arguments.delta@2',
      'response.function_call_arguments.done@2',
      'response.output_item.done@2',
      'response.completed',
    ]);
    const completed = events.at(-1)!.data.response as { status: string; output: Array<Record<string, unknown>>; usage: Record<string, unknown> };
    expect(completed.status).toBe('completed');
    expect(completed.output.map((o) => o.type)).toEqual(['message', 'function_call', 'function_call']);
    expect(completed.output[0]).toMatchObject({ status: 'completed', content: [{ type: 'output_text', text: 'Checking both.', annotations: [] }] });
    expect(completed.output.slice(1).map((o) => [o.call_id, o.arguments])).toEqual([
      ['call_a', '{"city":"Rome"}'],
      ['call_b', '{"city":"Oslo"}'],
    ]);
    expect(completed.usage).toEqual({ input_tokens: 20, input_tokens_details: { cached_tokens: 0 }, output_tokens: 12, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 32 });

    // the stored conversation has one assistant turn with the text and both calls
    mock.reply({ text: 'Done.' });
    const id = (events[0].data.response as { id: string }).id;
    const next = await client.responses.create({
      model: 'gpt-mock',
      previous_response_id: id,
      input: [
        { type: 'function_call_output', call_id: 'call_a', output: 'warm' },
        { type: 'function_call_output', call_id: 'call_b', output: 'cold' },
      ],
    });
    expect(next.output_text).toBe('Done.');
    expect(mock.chatRequests().at(-1)!.body.messages).toEqual([
      { role: 'user', content: 'Rome and Oslo?' },
      {
        role: 'assistant',
        content: 'Checking both.',
        tool_calls: [
          { id: 'call_a', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Rome"}' } },
          { id: 'call_b', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'call_a', content: 'warm' },
      { role: 'tool', tool_call_id: 'call_b', content: 'cold' },
    ]);
  });

  it('max_output_tokens reached: response.incomplete with the reason, the message item incomplete', async () => {
    mock.reply({ text: 'one two three', finishReason: 'length' });
    const res = await post(gw, '/v1/responses', { model: 'gpt-mock', input: 'count', stream: true, max_output_tokens: 3 }, key);
    const events = await sseEvents(res);
    const last = events.at(-1)!.data as { type: string; response: { status: string; incomplete_details: unknown; output: Array<{ status: string }> } };
    expect(last.type).toBe('response.incomplete');
    expect(last.response.status).toBe('incomplete');
    expect(last.response.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    expect(last.response.output[0].status).toBe('incomplete');
    expect(mock.chatRequests()[0].body.max_completion_tokens ?? mock.chatRequests()[0].body.max_tokens).toBe(3);
  });

  it('a failure after the stream started ends it with response.failed', async () => {
    mock.reply({ text: 'one two three four', streamErrorAfter: 3 });
    const res = await post(gw, '/v1/responses', { model: 'gpt-mock', input: 'hi', stream: true }, key);
    expect(res.status).toBe(200);
    const events = await sseEvents(res);
    const last = events.at(-1)!.data as { type: string; sequence_number: number; response: { status: string; error: { code: string; message: string } } };
    expect(last.type).toBe('response.failed');
    expect(last.sequence_number).toBe(events.length - 1);
    expect(last.response.status).toBe('failed');
    expect(last.response.error.code).toBe('server_error');
    expect(last.response.error.message).toBeTruthy();
    expect(events.some((e) => e.data.type === 'response.output_text.delta')).toBe(true);
  });

  it('a client leaving mid-stream aborts the upstream request; nothing is stored', async () => {
    mock.reply({ text: Array.from({ length: 40 }, (_, i) => `w${i}`).join(' '), gapMs: 50 });
    const stream = client.responses.stream({ model: 'gpt-mock', input: 'long answer' });
    let id = '';
    for await (const e of stream) {
      if (e.type === 'response.created') id = e.response.id;
      if (e.type === 'response.output_text.delta' && e.delta.includes('w1')) break; // leaving the loop aborts the request
    }
    const closed = await Promise.race([mock.chatRequests()[0].closedEarly.then(() => true), new Promise((r) => setTimeout(() => r(false), 2000))]);
    expect(closed).toBe(true);
    expect(id).toMatch(/^resp_/);
    await expect(client.responses.retrieve(id)).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it('a failure before the first event keeps its HTTP status', async () => {
    mock.reply(mockError(400, { message: 'upstream says no' }));
    const err = await client.responses.create({ model: 'gpt-mock', input: 'hi', stream: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe('UPSTREAM_ERROR');
    const unknown = await client.responses.create({ model: 'no-such-model', input: 'hi', stream: true }).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(OpenAI.NotFoundError);
  });
});

describe('usage in the Responses shape', () => {
  it('cached input and reasoning tokens in input_tokens_details and output_tokens_details, unary and streamed', async () => {
    const r = await client.responses.create({ model: 'echo', input: 'one two three' });
    // echo counts words: input "one two three", output "echo: one two three"
    expect(r.usage).toEqual({ input_tokens: 3, input_tokens_details: { cached_tokens: 1 }, output_tokens: 4, output_tokens_details: { reasoning_tokens: 2 }, total_tokens: 7 });
    const s = client.responses.stream({ model: 'echo', input: 'one two three' });
    const final = await s.finalResponse();
    expect(final.usage).toEqual(r.usage);
  });
});

describe('request fields carried upstream', () => {
  it('developer and user messages with images, sampling, reasoning effort, JSON mode, user and metadata', async () => {
    mock.reply({ text: '{"animal":"cat"}' });
    const r = await client.responses.create({
      model: 'gpt-mock',
      instructions: 'Answer in JSON.',
      input: [
        { role: 'developer', content: 'Be terse.' },
        {
          role: 'user',
          content: [
            { type: 'input_text', text: 'What is this?' },
            { type: 'input_image', image_url: 'https://example.com/cat.png', detail: 'auto' },
          ],
        },
      ],
      temperature: 0.4,
      top_p: 0.8,
      max_output_tokens: 64,
      reasoning: { effort: 'low' },
      text: { format: { type: 'json_object' } },
      user: 'ann',
      metadata: { ticket: 'T-1' },
    });
    expect(r.status).toBe('completed');
    expect(r).toMatchObject({ temperature: 0.4, top_p: 0.8, max_output_tokens: 64, metadata: { ticket: 'T-1' }, text: { format: { type: 'json_object' } } });
    const sent = mock.chatRequests()[0].body;
    expect(sent.messages).toEqual([
      { role: 'system', content: 'Answer in JSON.' },
      { role: 'system', content: 'Be terse.' },
      { role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }] },
    ]);
    expect(sent).toMatchObject({ temperature: 0.4, top_p: 0.8, response_format: { type: 'json_object' } });
    expect(sent.max_completion_tokens ?? sent.max_tokens).toBe(64);

    await gw.flushUsage();
    const u = await gw.gql<{ usage: { edges: Array<{ node: { user: string; metadata: Record<string, unknown> } }> } }>(
      '{ usage(filter: { model: "gpt-mock" }, first: 50) { edges { node { user metadata } } } }',
    );
    const rec = u.data!.usage.edges.map((e) => e.node).find((n) => n.metadata?.response_id === r.id);
    expect(rec).toMatchObject({ user: 'ann', metadata: { ticket: 'T-1', response_id: r.id } });
  });
});
