/*
 * The OpenAPI document validates, and every documented route answers as the document says (success and error bodies,
 * statuses, headers). The /v1/messages routes answer errors in Anthropic's shape, the others in OpenAI's.
 */
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { rateLimited } from '../../src/errors.js';
import { ChatCompletionRequest, EmbeddingsRequest, PromptRunRequest } from '../../src/http/rest/schemas.js';
import { CreateResponseRequest } from '../../src/http/rest/responses/schemas.js';
import { MessagesRequest } from '../../src/http/rest/messages/schema.js';
import { CountTokensRequest } from '../../src/http/rest/messages/count-tokens.js';
import { utcDay, utcMonth, type Limiter } from '../../src/gateway/limits.js';
import type { AnyJson } from '../kit/json.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { mockError, startOpenAIMock, type OpenAIMock } from '../mocks/openai.js';
import { addMockProvider, createModel, documentChecker, get, post, sseData } from './kit.js';

let gw: TestGateway;
let mock: OpenAIMock;
let key: string;
let doc: AnyJson;
let check: ReturnType<typeof documentChecker>;

const limiter: Limiter = {
  async admit({ principal }) {
    if (principal.key.name === 'limited') throw rateLimited('Tokens per minute exceeded', 30_000);
    return { settle() {} };
  },
  // counts nothing: every key reads as a fresh one
  peek: async (keys) => ({ day: utcDay(Date.now()), month: utcMonth(Date.now()), counters: keys.map(() => ({ requestsThisMinute: 0, tokensThisMinute: 0 })) }),
  close: async () => {},
};

beforeAll(async () => {
  [gw, mock] = await Promise.all([startGateway({}, { limiter, policy: { maxAttemptsPerModel: 1, backoffBaseMs: 1 } }), startOpenAIMock()]);
  await addMockProvider(gw, mock, [{ name: 'gpt-mock' }]);
  await createModel(gw, { name: 'slow-mock', timeoutMs: 150, targets: [{ provider: 'mock-openai', upstreamModel: 'gpt-4o-mini' }] });
  await createModel(gw, { name: 'gone', status: 'RETIRED', targets: [{ provider: 'echo', upstreamModel: 'echo' }] });
  const p = await gw.gql('mutation { createPrompt(input: { name: "greet", model: "echo", messages: [{ role: USER, content: "Hello {{who}}" }] }) { version } }');
  expect(p.errors).toBeUndefined();
  key = (await gw.createKey({ scopes: ['INVOKE'] })).secret;
  // a stored response for the retrieve and delete examples (retrieve runs first)
  const created = await post(gw, '/v1/responses', { model: 'echo', input: 'keep me' }, key);
  expect(created.status).toBe(200);
  const { id } = (await created.json()) as { id: string };
  examples.retrieveResponse.url = examples.deleteResponse.url = `/v1/responses/${id}`;
  const res = await fetch(`${gw.url}/openapi.json`);
  expect(res.status).toBe(200);
  doc = await res.json();
  check = documentChecker(doc);
});
beforeEach(() => mock.reset());
afterAll(async () => {
  await Promise.all([gw?.stop(), mock?.close()]);
});

const hi = { model: 'echo', messages: [{ role: 'user', content: 'hi there' }] };
const hiMessage = { model: 'echo', max_tokens: 64, messages: [{ role: 'user', content: 'hi there' }] };

/** Anthropic's routes: errors `{type: 'error', error: {type, message}}`, keys in x-api-key or Bearer. */
const isAnthropic = (path: string) => path.startsWith('/v1/messages');

/** What an error body of `path` holds: Anthropic's type alone, or OpenAI's type and the gateway code. */
function errorOf(path: string, type: string, code: string): Record<string, unknown> {
  return isAnthropic(path) ? { type: 'error', error: { type } } : { error: { type, code } };
}

/** One successful request per documented operation. */
const examples: Record<string, { method: 'get' | 'post' | 'delete'; path: string; url: string; body?: unknown }> = {
  createChatCompletion: { method: 'post', path: '/v1/chat/completions', url: '/v1/chat/completions', body: hi },
  createResponse: { method: 'post', path: '/v1/responses', url: '/v1/responses', body: { model: 'echo', input: 'hi there' } },
  retrieveResponse: { method: 'get', path: '/v1/responses/{id}', url: '' },
  deleteResponse: { method: 'delete', path: '/v1/responses/{id}', url: '' },
  createEmbedding: { method: 'post', path: '/v1/embeddings', url: '/v1/embeddings', body: { model: 'gpt-mock', input: 'some text', encoding_format: 'float' } },
  listModels: { method: 'get', path: '/v1/models', url: '/v1/models' },
  retrieveModel: { method: 'get', path: '/v1/models/{model}', url: '/v1/models/echo' },
  runPrompt: { method: 'post', path: '/v1/prompts/{name}/run', url: '/v1/prompts/greet/run', body: { variables: { who: 'world' } } },
  createMessage: { method: 'post', path: '/v1/messages', url: '/v1/messages', body: hiMessage },
  countMessageTokens: { method: 'post', path: '/v1/messages/count_tokens', url: '/v1/messages/count_tokens', body: { model: 'echo', messages: hiMessage.messages } },
  getOpenApiDocument: { method: 'get', path: '/openapi.json', url: '/openapi.json' },
};

/** Sends an example's request with `key` (or none). */
function send(ex: { method: 'get' | 'post' | 'delete'; url: string; body?: unknown }, key: string | null): Promise<Response> {
  if (ex.method === 'post') return post(gw, ex.url, ex.body, key);
  if (ex.method === 'get') return get(gw, ex.url, key);
  return fetch(`${gw.url}${ex.url}`, { method: 'DELETE', headers: key ? { authorization: `Bearer ${key}` } : {} });
}

function operations(): Array<{ path: string; method: string; op: AnyJson }> {
  return Object.entries(doc.paths as Record<string, Record<string, AnyJson>>).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ path, method, op })));
}

describe('GET /openapi.json', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    expect(doc.openapi).toBe('3.1.0');
    const validator = new Validator();
    const result = await validator.validate(doc);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('documents every route, bearer auth and the error responses', () => {
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/openapi.json',
      '/v1/chat/completions',
      '/v1/embeddings',
      '/v1/messages',
      '/v1/messages/count_tokens',
      '/v1/models',
      '/v1/models/{model}',
      '/v1/prompts/{name}/run',
      '/v1/responses',
      '/v1/responses/{id}',
    ]);
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.components.securitySchemes.apiKeyAuth).toEqual(expect.objectContaining({ type: 'apiKey', in: 'header', name: 'x-api-key' }));
    expect(doc.security).toEqual([{ bearerAuth: [] }]);
    for (const { path, method, op } of operations()) {
      if (path === '/openapi.json') {
        expect(op.security).toEqual([]);
        continue;
      }
      // Anthropic's routes take the key either way; the others the document-wide Bearer
      expect(op.security, `${method} ${path} security`).toEqual(isAnthropic(path) ? [{ apiKeyAuth: [] }, { bearerAuth: [] }] : undefined);
      for (const status of ['400', '401', '500']) expect(op.responses[status], `${method} ${path} ${status}`).toBeDefined();
      // only invocations need a scope; a model listing shows what the key may invoke
      expect(op.responses['403'] !== undefined, `${method} ${path} 403`).toBe(method === 'post');
      const errorSchema = isAnthropic(path) ? 'AnthropicErrorResponse' : 'ErrorResponse';
      for (const [status, r] of Object.entries(op.responses as Record<string, AnyJson>)) {
        if (status !== '200') expect(r.content['application/json'].schema, `${method} ${path} ${status}`).toEqual({ $ref: `#/components/schemas/${errorSchema}` });
      }
    }
    for (const path of ['/v1/chat/completions', '/v1/embeddings', '/v1/prompts/{name}/run']) {
      const r = doc.paths[path].post.responses;
      for (const status of ['404', '410', '413', '429', '502', '504']) expect(r[status], `${path} ${status}`).toBeDefined();
      expect(r['429'].headers['retry-after']).toBeDefined();
      expect(r['200'].headers.deprecation).toBeDefined();
    }
    const messages = doc.paths['/v1/messages'].post.responses;
    for (const status of ['404', '410', '413', '429', '502', '504', '529']) expect(messages[status], `/v1/messages ${status}`).toBeDefined();
    expect(messages['429'].headers['retry-after']).toBeDefined();
    expect(messages['200'].headers.deprecation).toBeDefined();
    for (const path of ['/v1/chat/completions', '/v1/messages']) {
      expect(Object.keys(doc.paths[path].post.responses['200'].content).sort(), path).toEqual(['application/json', 'text/event-stream']);
    }
    expect(doc.components.schemas.ChatCompletionChunk).toBeDefined();
    expect(doc.components.schemas.MessageStreamEvent).toBeDefined();
  });

  it('is generated from the zod schemas that validate the requests', () => {
    const props = (name: string) => Object.keys(doc.components.schemas[name].properties).sort();
    expect(props('CreateChatCompletionRequest')).toEqual(Object.keys(ChatCompletionRequest.shape).sort());
    expect(props('CreateEmbeddingRequest')).toEqual(Object.keys(EmbeddingsRequest.shape).sort());
    expect(props('RunPromptRequest')).toEqual(Object.keys(PromptRunRequest.shape).sort());
    expect(props('CreateResponseRequest')).toEqual(Object.keys(CreateResponseRequest.shape).sort());
    expect(props('CreateMessageRequest')).toEqual(Object.keys(MessagesRequest.shape).sort());
    expect(props('CountMessageTokensRequest')).toEqual(Object.keys(CountTokensRequest.shape).sort());
    expect(doc.components.schemas.CreateChatCompletionRequest.required.sort()).toEqual(['messages', 'model']);
    expect(doc.components.schemas.CreateMessageRequest.required.sort()).toEqual(['max_tokens', 'messages', 'model']);
    expect(doc.components.schemas.CountMessageTokensRequest.required.sort()).toEqual(['messages', 'model']);
  });
});

describe('each documented route answers as documented', () => {
  it('has an example for every documented operation', () => {
    expect(operations().map((o) => o.op.operationId).sort()).toEqual(Object.keys(examples).sort());
  });

  for (const [operationId, ex] of Object.entries(examples)) {
    it(`${operationId}: ${ex.method.toUpperCase()} ${ex.url} → 200 as documented`, async () => {
      const res = await send(ex, key);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      check.response(ex.path, ex.method, 200, await res.json());
    });

    if (ex.path !== '/openapi.json') {
      it(`${operationId}: 401 without a key, as documented`, async () => {
        const res = await send(ex, null);
        expect(res.status).toBe(401);
        const body = await res.json();
        check.response(ex.path, ex.method, 401, body);
        expect(body).toMatchObject(errorOf(ex.path, 'authentication_error', 'UNAUTHENTICATED'));
      });
    }
  }

  it('streams chat.completion.chunk events as documented, ending with [DONE]', async () => {
    const res = await post(gw, '/v1/chat/completions', { ...hi, stream: true, stream_options: { include_usage: true } }, key);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('x-request-id')).toBeTruthy();
    const events = await sseData(res);
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    for (const c of chunks) check.component('ChatCompletionChunk', c);
    expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('echo: hi there');
    expect(chunks.at(-2).choices[0].finish_reason).toBe('stop');
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 } });
  });

  it("the /v1/messages routes take the key as x-api-key too, as Anthropic's clients send it", async () => {
    for (const operationId of ['createMessage', 'countMessageTokens']) {
      const ex = examples[operationId]!;
      const res = await fetch(`${gw.url}${ex.url}`, { method: 'POST', headers: { 'x-api-key': key, 'content-type': 'application/json' }, body: JSON.stringify(ex.body) });
      expect(res.status, operationId).toBe(200);
      check.response(ex.path, ex.method, 200, await res.json());
      const bad = await fetch(`${gw.url}${ex.url}`, { method: 'POST', headers: { 'x-api-key': 'gw_nope', 'content-type': 'application/json' }, body: JSON.stringify(ex.body) });
      expect(bad.status, operationId).toBe(401);
      check.response(ex.path, ex.method, 401, await bad.json());
    }
  });

  it("streams a message as Anthropic's named events, as documented", async () => {
    const res = await post(gw, '/v1/messages', { ...hiMessage, stream: true }, key);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = (await sseData(res)).map((e) => JSON.parse(e));
    for (const e of events) check.response('/v1/messages', 'post', 200, e, 'text/event-stream');
    expect(events[0].type).toBe('message_start');
    check.component('AnthropicMessage', events[0].message);
    expect(events.at(-1).type).toBe('message_stop');
    expect(events.at(-2)).toMatchObject({ type: 'message_delta', delta: { stop_reason: 'end_turn' } });
    check.component('AnthropicUsage', events.at(-2).usage);
    const text = events.filter((e) => e.delta?.type === 'text_delta').map((e) => e.delta.text);
    expect(text.join('')).toBe('echo: hi there');
  });

  it('streams a prompt run the same way', async () => {
    const res = await post(gw, '/v1/prompts/greet/run', { variables: { who: 'you' }, stream: true }, key);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = await sseData(res);
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    for (const c of chunks) check.component('ChatCompletionChunk', c);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('echo: Hello you');
  });
});

describe('errors, as documented', () => {
  async function expectError(res: Response, path: string, method: string, status: number, error: Record<string, unknown>) {
    expect(res.status).toBe(status);
    const body = await res.json();
    check.response(path, method, status, body);
    expect(body.error).toMatchObject(error);
    return body;
  }

  async function expectAnthropicError(res: Response, path: string, status: number, type: string) {
    expect(res.status).toBe(status);
    const body = await res.json();
    check.response(path, 'post', status, body);
    expect(body).toMatchObject({ type: 'error', error: { type } });
    return body;
  }

  it('400 for malformed JSON and an empty body', async () => {
    await expectError(await post(gw, '/v1/chat/completions', '{"model": "echo",', key), '/v1/chat/completions', 'post', 400, {
      type: 'invalid_request_error',
      param: 'body',
      code: 'BAD_USER_INPUT',
    });
    await expectError(await post(gw, '/v1/embeddings', '', key), '/v1/embeddings', 'post', 400, { param: 'body' });
  });

  it('400 naming the invalid field', async () => {
    const cases: Array<[unknown, string]> = [
      [{ model: 'echo' }, 'messages'],
      [{ model: 'echo', messages: [] }, 'messages'],
      [{ model: 'echo', messages: [{ role: 'user', content: 5 }] }, 'messages[0].content'],
      [{ model: 'echo', messages: [{ role: 'robot', content: 'x' }] }, 'messages[0].role'],
      [{ model: 'echo', messages: [{ role: 'user', content: [{ type: 'text' }] }] }, 'messages[0].content[0].text'],
      [{ model: 'echo', messages: [{ role: 'system', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png' } }] }] }, 'messages[0].content[0].type'],
      [{ model: 'echo', messages: [{ role: 'tool', content: 'x' }] }, 'messages[0].tool_call_id'],
      [{ ...hi, n: 2 }, 'n'],
      [{ ...hi, top_p: 0 }, 'top_p'],
      [{ ...hi, max_tokens: 0 }, 'max_tokens'],
      [{ ...hi, tool_choice: 'sometimes' }, 'tool_choice'],
      [{ ...hi, response_format: { type: 'json_schema' } }, 'response_format.type'],
      [{ ...hi, tools: [{ type: 'function', function: { name: 'bad name' } }] }, 'tools[0].function.name'],
      // checks of the core, renamed to the REST field
      [{ model: 'echo', messages: [{ role: 'assistant', content: null }] }, 'messages[0].content'],
      [{ ...hi, tool_choice: 'required' }, 'tool_choice'],
      [{ model: 'echo', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'ftp://x' } }] }] }, 'messages[0].content[0].image_url.url'],
    ];
    for (const [body, param] of cases) {
      const res = await post(gw, '/v1/chat/completions', body, key);
      const b = await expectError(res, '/v1/chat/completions', 'post', 400, { type: 'invalid_request_error', code: 'BAD_USER_INPUT' });
      expect(b.error.param, JSON.stringify(body)).toBe(param);
      expect(b.error.message).toContain(param);
    }
    await expectError(await post(gw, '/v1/embeddings', { model: 'gpt-mock', input: [1, 2] }, key), '/v1/embeddings', 'post', 400, { param: 'input[0]' });
    await expectError(await post(gw, '/v1/embeddings', { model: 'gpt-mock', input: [] }, key), '/v1/embeddings', 'post', 400, { param: 'input' });
  });

  it('401 for an invalid key, 403 without the INVOKE scope (the model routes list what it may invoke: nothing)', async () => {
    await expectError(await get(gw, '/v1/models', 'gw_nope'), '/v1/models', 'get', 401, { code: 'UNAUTHENTICATED' });
    await expectError(await post(gw, '/v1/chat/completions', hi, 'not-even-a-bearer token'), '/v1/chat/completions', 'post', 401, { code: 'UNAUTHENTICATED' });
    const reader = (await gw.createKey({ scopes: ['READ_USAGE'] })).secret;
    for (const ex of Object.values(examples).filter((e) => e.method === 'post')) {
      const res = await post(gw, ex.url, ex.body, reader);
      expect(res.status, ex.path).toBe(403);
      const body = await res.json();
      check.response(ex.path, ex.method, 403, body);
      expect(body).toMatchObject(errorOf(ex.path, 'permission_error', 'FORBIDDEN'));
    }
    const list = await get(gw, '/v1/models', reader);
    expect(list.status).toBe(200);
    expect(await list.json()).toEqual({ object: 'list', data: [] });
    await expectError(await get(gw, '/v1/models/echo', reader), '/v1/models/{model}', 'get', 404, { code: 'MODEL_NOT_FOUND' });
  });

  it('404 for an unknown model, 410 for a retired one', async () => {
    await expectError(await post(gw, '/v1/chat/completions', { ...hi, model: 'nope' }, key), '/v1/chat/completions', 'post', 404, { code: 'MODEL_NOT_FOUND' });
    await expectError(await post(gw, '/v1/chat/completions', { ...hi, model: 'gone' }, key), '/v1/chat/completions', 'post', 410, { code: 'MODEL_RETIRED' });
    await expectError(await post(gw, '/v1/embeddings', { model: 'gone', input: 'x' }, key), '/v1/embeddings', 'post', 410, { code: 'MODEL_RETIRED' });
    await expectError(await get(gw, '/v1/models/nope', key), '/v1/models/{model}', 'get', 404, { code: 'MODEL_NOT_FOUND' });
    await expectError(await get(gw, '/v1/models/gone', key), '/v1/models/{model}', 'get', 410, { code: 'MODEL_RETIRED' });
  });

  it('429 with retry-after in seconds', async () => {
    const limited = (await gw.createKey({ name: 'limited', scopes: ['INVOKE'] })).secret;
    const res = await post(gw, '/v1/chat/completions', hi, limited);
    expect(res.headers.get('retry-after')).toBe('30');
    await expectError(res, '/v1/chat/completions', 'post', 429, { type: 'rate_limit_error', code: 'RATE_LIMITED' });
    const msg = await post(gw, '/v1/messages', hiMessage, limited);
    expect(msg.headers.get('retry-after')).toBe('30');
    await expectAnthropicError(msg, '/v1/messages', 429, 'rate_limit_error');
  });

  it("/v1/messages: each failure in Anthropic's shape with its documented status", async () => {
    await expectAnthropicError(await post(gw, '/v1/messages', '{"model": "echo",', key), '/v1/messages', 400, 'invalid_request_error');
    const bad = await expectAnthropicError(await post(gw, '/v1/messages', { ...hiMessage, max_tokens: 0 }, key), '/v1/messages', 400, 'invalid_request_error');
    expect(bad.error.message).toContain('max_tokens');
    await expectAnthropicError(await post(gw, '/v1/messages/count_tokens', { model: 'echo' }, key), '/v1/messages/count_tokens', 400, 'invalid_request_error');
    await expectAnthropicError(await post(gw, '/v1/messages', { ...hiMessage, model: 'nope' }, key), '/v1/messages', 404, 'not_found_error');
    await expectAnthropicError(await post(gw, '/v1/messages', { ...hiMessage, model: 'gone' }, key), '/v1/messages', 410, 'not_found_error');
    mock.reply(mockError(500));
    await expectAnthropicError(await post(gw, '/v1/messages', { ...hiMessage, model: 'gpt-mock' }, key), '/v1/messages', 502, 'api_error');
    mock.reply({ hang: true });
    await expectAnthropicError(await post(gw, '/v1/messages', { ...hiMessage, model: 'slow-mock' }, key), '/v1/messages', 504, 'timeout_error');
    const big = JSON.stringify({ ...hiMessage, messages: [{ role: 'user', content: 'x'.repeat(2 * 1024 * 1024 + 10) }] });
    await expectAnthropicError(await post(gw, '/v1/messages', big, key), '/v1/messages', 413, 'request_too_large');
  });

  it('502 when the upstream fails, 504 when it times out', async () => {
    mock.reply(mockError(500));
    await expectError(await post(gw, '/v1/chat/completions', { ...hi, model: 'gpt-mock' }, key), '/v1/chat/completions', 'post', 502, { code: 'UPSTREAM_ERROR' });
    await expectError(await post(gw, '/v1/embeddings', { model: 'gpt-mock', input: 'x' }, key), '/v1/embeddings', 'post', 502, { code: 'UPSTREAM_ERROR' });
    await expectError(await post(gw, '/v1/chat/completions', { ...hi, model: 'gpt-mock', stream: true }, key), '/v1/chat/completions', 'post', 502, { code: 'UPSTREAM_ERROR' });
    mock.reply({ hang: true });
    await expectError(await post(gw, '/v1/chat/completions', { ...hi, model: 'slow-mock' }, key), '/v1/chat/completions', 'post', 504, { code: 'UPSTREAM_TIMEOUT' });
  });

  it('413 for a body over the limit, announced or chunked', async () => {
    const big = JSON.stringify({ ...hi, messages: [{ role: 'user', content: 'x'.repeat(2 * 1024 * 1024 + 10) }] });
    await expectError(await post(gw, '/v1/chat/completions', big, key), '/v1/chat/completions', 'post', 413, { type: 'invalid_request_error', code: 'BAD_USER_INPUT' });
    const bytes = new TextEncoder().encode(big);
    const chunked = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < bytes.length; i += 65_536) c.enqueue(bytes.slice(i, i + 65_536));
        c.close();
      },
    });
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: chunked,
      duplex: 'half',
    } as RequestInit);
    await expectError(res, '/v1/chat/completions', 'post', 413, { code: 'BAD_USER_INPUT' });
  });

  it('a stream that fails after it started ends with an error event and no [DONE]', async () => {
    mock.reply({ text: 'one two three four', streamErrorAfter: 3 });
    const res = await post(gw, '/v1/chat/completions', { ...hi, model: 'gpt-mock', stream: true }, key);
    expect(res.status).toBe(200);
    const events = await sseData(res);
    expect(events).not.toContain('[DONE]');
    const last = JSON.parse(events.at(-1)!);
    check.component('ErrorResponse', last);
    expect(last.error).toMatchObject({ type: 'api_error', code: 'UPSTREAM_ERROR' });
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.some((c) => c.choices[0]?.finish_reason)).toBe(false);
  });

  it('404 for an unknown path under /v1, 405 for a wrong method', async () => {
    const res = await get(gw, '/v1/completions', key);
    expect(res.status).toBe(404);
    expect((await res.json()).error).toMatchObject({ type: 'invalid_request_error', code: 'NOT_FOUND' });
    const wrong = await get(gw, '/v1/chat/completions', key);
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
    check.component('ErrorResponse', await wrong.json());
    const postDoc = await post(gw, '/openapi.json', {}, null);
    expect(postDoc.status).toBe(405);
  });
});
