/* The official `openai` SDK, pointed at the gateway's /v1 routes, works unchanged: chat (streamed or not, with tools), embeddings, models, errors. */
import OpenAI from 'openai';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { rateLimited } from '../../src/errors.js';
import { utcDay, utcMonth, type Limiter } from '../../src/gateway/limits.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { mockEmbedding, mockError, startOpenAIMock, type OpenAIMock } from '../mocks/openai.js';
import { addMockProvider, createModel } from './kit.js';

let gw: TestGateway;
let mock: OpenAIMock;
let client: OpenAI;
let key: { id: string; secret: string };

/** Refuses keys named "limited", as a rate limiter would: the REST mapping is what is tested here. */
const limiter: Limiter = {
  async admit({ principal }) {
    if (principal.key.name === 'limited') throw rateLimited('Requests per minute exceeded', 1500);
    return { settle() {} };
  },
  // counts nothing: every key reads as a fresh one
  peek: async (keys) => ({ day: utcDay(Date.now()), month: utcMonth(Date.now()), counters: keys.map(() => ({ requestsThisMinute: 0, tokensThisMinute: 0 })) }),
  close: async () => {},
};

const sdk = (apiKey: string) => new OpenAI({ baseURL: `${gw.url}/v1`, apiKey, maxRetries: 0, timeout: 10_000 });

beforeAll(async () => {
  [gw, mock] = await Promise.all([startGateway({}, { limiter }), startOpenAIMock()]);
  await addMockProvider(gw, mock, [{ name: 'gpt-mock' }, { name: 'embed-mock', upstreamModel: 'text-embedding-3-small' }]);
  await createModel(gw, { name: 'old-echo', status: 'RETIRED', targets: [{ provider: 'echo', upstreamModel: 'echo' }] });
  key = await gw.createKey({ scopes: ['INVOKE'] });
  client = sdk(key.secret);
});
beforeEach(() => mock.reset());
afterAll(async () => {
  await Promise.all([gw?.stop(), mock?.close()]);
});

async function collect(stream: AsyncIterable<ChatCompletionChunk>): Promise<ChatCompletionChunk[]> {
  const out: ChatCompletionChunk[] = [];
  for await (const c of stream) out.push(c);
  return out;
}

const weatherTool = {
  type: 'function' as const,
  function: { name: 'get_weather', description: 'Weather for a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
};

describe('chat, not streamed', () => {
  it('answers on echo with content, finish_reason and usage', async () => {
    const r = await client.chat.completions.create({ model: 'echo', messages: [{ role: 'user', content: 'Hello there' }] });
    expect(r.object).toBe('chat.completion');
    expect(r.id).toMatch(/^chatcmpl-/);
    expect(r.model).toBe('echo');
    expect(r.choices).toHaveLength(1);
    expect(r.choices[0].message).toMatchObject({ role: 'assistant', content: 'echo: Hello there' });
    expect(r.choices[0].message.tool_calls).toBeUndefined();
    expect(r.choices[0].finish_reason).toBe('stop');
    // echo counts words: prompt "Hello there", completion "echo: Hello there"
    expect(r.usage).toEqual({ prompt_tokens: 2, completion_tokens: 3, total_tokens: 5, prompt_tokens_details: { cached_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0 } });
  });

  it('maps max_tokens and the length finish reason', async () => {
    const r = await client.chat.completions.create({ model: 'echo', max_tokens: 2, messages: [{ role: 'user', content: 'one two three four' }] });
    expect(r.choices[0].message.content).toBe('echo: one');
    expect(r.choices[0].finish_reason).toBe('length');
  });

  it('sends text and image parts, system/developer messages and parameters upstream in OpenAI form', async () => {
    mock.reply({ text: 'A cat.' });
    const r = await client.chat.completions.create({
      model: 'gpt-mock',
      messages: [
        { role: 'developer', content: 'Be terse.' },
        { role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }] },
      ],
      temperature: 0.5,
      top_p: 0.9,
      max_completion_tokens: 50,
      stop: 'END',
      seed: 7,
      response_format: { type: 'json_object' },
      user: 'ann',
    });
    expect(r.choices[0].message.content).toBe('A cat.');
    const sent = mock.chatRequests()[0].body;
    expect(sent.model).toBe('gpt-4o-mini');
    expect(sent.messages).toEqual([
      { role: 'system', content: 'Be terse.' },
      { role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }] },
    ]);
    expect(sent).toMatchObject({ temperature: 0.5, top_p: 0.9, max_completion_tokens: 50, stop: ['END'], seed: 7, response_format: { type: 'json_object' } });
  });

  it('makes tool calls through an OpenAI provider, with the upstream usage', async () => {
    mock.reply({ toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' }], usage: { prompt_tokens: 21, completion_tokens: 9, cached_tokens: 8, reasoning_tokens: 4 } });
    const r = await client.chat.completions.create({
      model: 'gpt-mock',
      messages: [{ role: 'user', content: 'Weather in Paris?' }],
      tools: [weatherTool],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
    });
    expect(r.model).toBe('gpt-mock');
    expect(r.choices[0].finish_reason).toBe('tool_calls');
    expect(r.choices[0].message.content).toBeNull();
    expect(r.choices[0].message.tool_calls).toEqual([{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }]);
    // the parts the provider reported come through in OpenAI's own detail fields
    expect(r.usage).toEqual({ prompt_tokens: 21, completion_tokens: 9, total_tokens: 30, prompt_tokens_details: { cached_tokens: 8 }, completion_tokens_details: { reasoning_tokens: 4 } });
    const sent = mock.chatRequests()[0].body;
    expect(sent.tools).toEqual([weatherTool]);
    expect(sent.tool_choice).toEqual({ type: 'function', function: { name: 'get_weather' } });
  });

  it('carries a tool round trip (assistant tool_calls, tool result) upstream', async () => {
    mock.reply({ text: 'It is sunny in Paris.' });
    const r = await client.chat.completions.create({
      model: 'gpt-mock',
      tool_choice: 'auto',
      tools: [weatherTool],
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: '{"sky":"sunny"}' },
      ],
    });
    expect(r.choices[0].message.content).toBe('It is sunny in Paris.');
    const sent = mock.chatRequests()[0].body;
    expect(sent.tool_choice).toBe('auto');
    expect(sent.messages.slice(1)).toEqual([
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: '{"sky":"sunny"}' },
    ]);
  });
});

describe('chat, streamed', () => {
  it('streams echo as chat.completion.chunk events with usage last (stream_options.include_usage)', async () => {
    const chunks = await collect(
      await client.chat.completions.create({ model: 'echo', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'stream these words' }] }),
    );
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.model === 'echo')).toBe(true);
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe('echo: stream these words');
    expect(chunks.filter((c) => c.choices[0]?.delta.content).length).toBe(4);
    const finishes = chunks.filter((c) => c.choices[0]?.finish_reason);
    expect(finishes.map((c) => c.choices[0].finish_reason)).toEqual(['stop']);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual({ prompt_tokens: 3, completion_tokens: 4, total_tokens: 7, prompt_tokens_details: { cached_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0 } });
    // usage is null on every other chunk
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
  });

  it('sends no usage chunk without include_usage', async () => {
    const chunks = await collect(await client.chat.completions.create({ model: 'echo', stream: true, messages: [{ role: 'user', content: 'hi' }] }));
    expect(chunks.at(-1)!.choices[0].finish_reason).toBe('stop');
    expect(chunks.some((c) => c.usage)).toBe(false);
  });

  it('streams tool call deltas through an OpenAI provider', async () => {
    mock.reply({ toolCalls: [{ id: 'call_9', name: 'get_weather', arguments: '{"city":"Oslo"}' }], usage: { prompt_tokens: 11, completion_tokens: 6 } });
    const chunks = await collect(
      await client.chat.completions.create({
        model: 'gpt-mock',
        stream: true,
        stream_options: { include_usage: true },
        tools: [weatherTool],
        tool_choice: 'required',
        messages: [{ role: 'user', content: 'Weather in Oslo?' }],
      }),
    );
    const deltas = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(deltas[0]).toMatchObject({ index: 0, id: 'call_9', type: 'function', function: { name: 'get_weather' } });
    expect(deltas.every((d) => d.index === 0)).toBe(true);
    expect(deltas.map((d) => d.function?.arguments ?? '').join('')).toBe('{"city":"Oslo"}');
    expect(chunks.filter((c) => c.choices[0]?.finish_reason).map((c) => c.choices[0].finish_reason)).toEqual(['tool_calls']);
    expect(chunks.at(-1)!.usage).toEqual({ prompt_tokens: 11, completion_tokens: 6, total_tokens: 17, prompt_tokens_details: { cached_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0 } });
    expect(mock.chatRequests()[0].body).toMatchObject({ stream: true, tool_choice: 'required' });
  });

  it('aborts the upstream request when the client disconnects mid-stream', async () => {
    const words = Array.from({ length: 40 }, (_, i) => `w${i}`).join(' ');
    mock.reply({ text: words, gapMs: 50 });
    const stream = await client.chat.completions.create({ model: 'gpt-mock', stream: true, messages: [{ role: 'user', content: 'long answer' }] });
    let seen = '';
    for await (const c of stream) {
      seen += c.choices[0]?.delta.content ?? '';
      if (seen.includes('w1')) break; // leaving the loop aborts the SDK's request
    }
    const upstream = mock.chatRequests()[0];
    const closed = await Promise.race([upstream.closedEarly.then(() => true), new Promise((r) => setTimeout(() => r(false), 1000))]);
    expect(closed).toBe(true);
    // and the invocation is recorded as cancelled
    let records: unknown[] = [];
    for (let i = 0; i < 50 && !records.length; i++) {
      await gw.flushUsage();
      const u = await gw.gql('{ usage(filter: { model: "gpt-mock", status: CANCELLED }) { edges { node { streamed status } } } }');
      records = u.data.usage.edges.map((e: { node: unknown }) => e.node);
      if (!records.length) await new Promise((r) => setTimeout(r, 20));
    }
    expect(records).toEqual([{ streamed: true, status: 'CANCELLED' }]);
  });

  it('raises a failure after the stream started as an APIError from the SDK iterator', async () => {
    mock.reply({ text: 'one two three four', streamErrorAfter: 3 });
    const stream = await client.chat.completions.create({ model: 'gpt-mock', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    let text = '';
    const err = await (async () => {
      try {
        for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
      } catch (e) {
        return e;
      }
    })();
    expect(text.length).toBeGreaterThan(0);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect((err as InstanceType<typeof OpenAI.APIError>).code).toBe('UPSTREAM_ERROR');
  });

  it('answers a failure before the first token with its HTTP status', async () => {
    mock.reply(mockError(400, { message: 'upstream says no' }));
    const err = await client.chat.completions.create({ model: 'gpt-mock', stream: true, messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect(err.status).toBe(502);
    expect(err.code).toBe('UPSTREAM_ERROR');
  });
});

describe('embeddings and models', () => {
  it('embeds through an OpenAI provider (the SDK asks for base64 and decodes it)', async () => {
    const r = await client.embeddings.create({ model: 'embed-mock', input: ['alpha beta', 'gamma'] });
    expect(r.object).toBe('list');
    expect(r.model).toBe('embed-mock');
    expect(r.data.map((d) => d.index)).toEqual([0, 1]);
    const expected = mockEmbedding('alpha beta');
    expect(r.data[0].embedding).toHaveLength(expected.length);
    r.data[0].embedding.forEach((x, i) => expect(x).toBeCloseTo(expected[i], 5));
    expect(r.usage).toEqual({ prompt_tokens: 3, total_tokens: 3 });
    expect(mock.embeddingRequests()[0].body).toEqual({ model: 'text-embedding-3-small', input: ['alpha beta', 'gamma'] });
  });

  it('embeds one string as floats with encoding_format=float', async () => {
    const r = await client.embeddings.create({ model: 'embed-mock', input: 'gamma', encoding_format: 'float' });
    expect(r.data).toHaveLength(1);
    expect(r.data[0].embedding).toEqual(mockEmbedding('gamma'));
  });

  it('lists the models the key may invoke, retired ones left out', async () => {
    const page = await client.models.list();
    const ids = page.data.map((m) => m.id);
    expect(ids).toEqual(expect.arrayContaining(['echo', 'gpt-mock', 'embed-mock']));
    expect(ids).not.toContain('old-echo');
    expect(page.data[0]).toMatchObject({ object: 'model', owned_by: 'gateway' });
    expect(page.data[0].created).toBeGreaterThan(1_600_000_000);

    const limited = await gw.createKey({ scopes: ['INVOKE'], allowedModels: ['echo'] });
    expect((await sdk(limited.secret).models.list()).data.map((m) => m.id)).toEqual(['echo']);
  });

  it('retrieves one model', async () => {
    expect(await client.models.retrieve('echo')).toMatchObject({ id: 'echo', object: 'model' });
    await expect(client.models.retrieve('nope')).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });
});

describe('errors map to the SDK error classes', () => {
  it('401 AuthenticationError for an unknown key', async () => {
    const err = await sdk('gw_not_a_real_key').chat.completions.create({ model: 'echo', messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(err.status).toBe(401);
    expect(err.error).toMatchObject({ type: 'authentication_error', code: 'UNAUTHENTICATED' });
  });

  it('403 PermissionDeniedError without the INVOKE scope, or for a model outside the allow-list', async () => {
    const reader = await gw.createKey({ scopes: ['READ_USAGE'] });
    const err = await sdk(reader.secret).chat.completions.create({ model: 'echo', messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect(err.code).toBe('FORBIDDEN');
    const only = await gw.createKey({ scopes: ['INVOKE'], allowedModels: ['gpt-mock'] });
    await expect(sdk(only.secret).chat.completions.create({ model: 'echo', messages: [{ role: 'user', content: 'hi' }] })).rejects.toBeInstanceOf(OpenAI.PermissionDeniedError);
  });

  it('404 NotFoundError for an unknown model', async () => {
    const err = await client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect(err.code).toBe('MODEL_NOT_FOUND');
  });

  it('400 BadRequestError naming the field', async () => {
    const err = await client.chat.completions.create({ model: 'echo', temperature: 5, messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.param).toBe('temperature');
    expect(err.type).toBe('invalid_request_error');
    const unknownTool = await client.chat.completions
      .create({ model: 'echo', tools: [weatherTool], tool_choice: { type: 'function', function: { name: 'other' } }, messages: [{ role: 'user', content: 'hi' }] })
      .catch((e) => e);
    expect(unknownTool).toBeInstanceOf(OpenAI.BadRequestError);
    expect(unknownTool.param).toBe('tool_choice');
  });

  it('410 for a retired model', async () => {
    const err = await client.chat.completions.create({ model: 'old-echo', messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.status).toBe(410);
    expect(err.code).toBe('MODEL_RETIRED');
  });

  it('429 RateLimitError with retry-after', async () => {
    const limited = await gw.createKey({ name: 'limited', scopes: ['INVOKE'] });
    const err = await sdk(limited.secret).chat.completions.create({ model: 'echo', messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.code).toBe('RATE_LIMITED');
    expect(err.headers.get('retry-after')).toBe('2');
    // streamed requests are refused the same way, before any event
    await expect(sdk(limited.secret).chat.completions.create({ model: 'echo', stream: true, messages: [{ role: 'user', content: 'hi' }] })).rejects.toBeInstanceOf(
      OpenAI.RateLimitError,
    );
  });
});
