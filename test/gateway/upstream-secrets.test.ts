/**
 * Issue 20, item 10: an upstream's error text may quote the provider credential ("Incorrect API key provided:
 * sk-…") or other secrets. None of it may reach an INVOKE-only caller (GraphQL, SSE, graphql-ws, REST, streams,
 * embeddings) or the log, while the rest of the message still tells the caller what went wrong.
 */
import { randomBytes } from 'node:crypto';
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sseCollect } from '../kit/sse.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { startAnthropicMock, type AnthropicMock } from '../mocks/anthropic.js';
import { startGeminiMock, type GeminiMock } from '../mocks/gemini.js';
import { startOpenAIMock, type OpenAIMock } from '../mocks/openai.js';
import { CHAT_STREAM, chat, createModel, createProvider, streamAll, uniq, wsClient, type ProviderKind } from './helpers.js';

const b62 = (n: number) => randomBytes(n * 2).toString('base64').replace(/[^A-Za-z0-9]/g, '').slice(0, n);

/** Each kind's credential in its provider's real format, except one that no secret pattern could recognise. */
const CREDENTIALS: Record<Exclude<ProviderKind, 'ECHO'>, string> = {
  OPENAI: `sk-proj-${b62(48)}`,
  // a passphrase a local server was started with: only knowing the credential itself can catch it
  OPENAI_COMPATIBLE: 'correct-horse-battery-staple',
  ANTHROPIC: `sk-ant-api03-${b62(40)}`,
  GEMINI: `AIza${b62(35)}`,
};

/** Secrets of someone else's that an upstream might quote: each must go too. */
const FOREIGN = {
  openaiKey: `sk-${b62(40)}`,
  googleKey: `AIza${b62(35)}`,
  bearer: b62(24),
  queryKey: b62(20),
  token: b62(44),
};

/** What each upstream says: the message quotes the credential, once plainly and once in an auth header. */
const leakyMessage = (credential: string) =>
  `Incorrect API key provided: ${credential}. You sent Authorization: Bearer ${credential}; see https://platform.example/account/api-keys.`;

let gw: TestGateway;
let caller: string;
let ws: Client;
let openai: OpenAIMock;
let compat: OpenAIMock;
let anthropic: AnthropicMock;
let gemini: GeminiMock;
const models = {} as Record<Exclude<ProviderKind, 'ECHO'>, string>;

beforeAll(async () => {
  [openai, compat, anthropic, gemini] = await Promise.all([startOpenAIMock(), startOpenAIMock(), startAnthropicMock(), startGeminiMock()]);
  gw = await startGateway({}, { policy: { backoffBaseMs: 1, backoffMaxMs: 5 } });
  const baseUrls = { OPENAI: openai.baseUrl, OPENAI_COMPATIBLE: compat.baseUrl, ANTHROPIC: anthropic.url, GEMINI: gemini.url };
  for (const kind of Object.keys(CREDENTIALS) as Array<keyof typeof CREDENTIALS>) {
    const provider = uniq(kind.toLowerCase());
    await createProvider(gw, { name: provider, kind, baseUrl: baseUrls[kind], apiKey: CREDENTIALS[kind] });
    models[kind] = uniq('m');
    const upstreamModel = kind === 'GEMINI' ? 'gemini-2.0-flash' : 'some-model';
    await createModel(gw, { name: models[kind], targets: [{ provider, upstreamModel }], timeoutMs: 5000 });
  }
  caller = (await gw.createKey({ name: 'invoke only', scopes: ['INVOKE'] })).secret;
  ws = wsClient(gw, caller);
});

afterAll(async () => {
  await ws?.dispose();
  await gw?.stop();
  await Promise.all([openai?.close(), compat?.close(), anthropic?.close(), gemini?.close()]);
});

/** Every secret a test put into an upstream message. */
const SECRETS = [...Object.values(CREDENTIALS), ...Object.values(FOREIGN)];

function expectNoSecret(where: string, text: string): void {
  for (const s of SECRETS) expect(text.includes(s), `${where} contains ${s}: ${text}`).toBe(false);
}

/** Every upstream answers an HTTP error quoting its credential. */
function failWithCredential(status: number): void {
  openai.reply({ status, error: { message: leakyMessage(CREDENTIALS.OPENAI), code: 'invalid_api_key' } });
  compat.reply({ status, error: { message: leakyMessage(CREDENTIALS.OPENAI_COMPATIBLE), code: 'invalid_api_key' } });
  anthropic.reply({ fail: { status, message: leakyMessage(CREDENTIALS.ANTHROPIC) } });
  gemini.reply({ fail: { status, message: leakyMessage(CREDENTIALS.GEMINI) } });
}

/** Every upstream starts a stream, then sends an in-stream error quoting its credential. */
function breakStreamsWithCredential(): void {
  openai.reply({ text: 'one two three', streamErrorAfter: 2, error: { message: leakyMessage(CREDENTIALS.OPENAI) } });
  compat.reply({ text: 'one two three', streamErrorAfter: 2, error: { message: leakyMessage(CREDENTIALS.OPENAI_COMPATIBLE) } });
  anthropic.reply({ text: 'one two three', streamError: { type: 'api_error', message: leakyMessage(CREDENTIALS.ANTHROPIC) } });
  gemini.reply({ text: 'one two three', streamError: { code: 500, status: 'INTERNAL', message: leakyMessage(CREDENTIALS.GEMINI), afterEvents: 1 } });
}

const KINDS = Object.keys(CREDENTIALS) as Array<keyof typeof CREDENTIALS>;
const ask = [{ role: 'USER', content: 'hi' }];

describe('an upstream error quoting the provider credential', () => {
  it.each(KINDS)('%s: GraphQL chat answers UPSTREAM_ERROR with the message, without the credential', async (kind) => {
    failWithCredential(401);
    const res = await chat(gw, { model: models[kind], messages: ask }, caller);
    expect(res.errors?.[0].extensions).toMatchObject({ code: 'UPSTREAM_ERROR', status: 401 });
    expect(res.errors?.[0].message).toContain('Incorrect API key provided');
    expect(res.errors?.[0].message).toContain('https://platform.example/account/api-keys');
    expectNoSecret('the GraphQL error', JSON.stringify(res));
  });

  it.each(KINDS)('%s: a chatStream that fails before and after its first chunk (SSE and graphql-ws) never shows it', async (kind) => {
    failWithCredential(401);
    const before = await sseCollect(gw.url, CHAT_STREAM, { input: { model: models[kind], messages: ask } }, caller);
    expect(JSON.stringify(before)).toContain('UPSTREAM_ERROR');
    expectNoSecret('the SSE stream', JSON.stringify(before));

    breakStreamsWithCredential();
    const after = await streamAll(ws, { model: models[kind], messages: ask });
    expect(after.chunks.some((c) => c.delta)).toBe(true);
    expect(after.errors[0]?.extensions?.code).toBe('UPSTREAM_ERROR');
    expect(after.errors[0]?.message).toContain('Incorrect API key provided');
    expectNoSecret('the graphql-ws stream', JSON.stringify(after));
  });

  it('REST /v1/chat/completions, plain and streamed, and embeddings', async () => {
    failWithCredential(401);
    const post = (path: string, body: unknown) =>
      fetch(`${gw.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${caller}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    for (const kind of KINDS) {
      const plain = await post('/v1/chat/completions', { model: models[kind], messages: [{ role: 'user', content: 'hi' }] });
      expect(plain.status).toBe(502);
      const body = await plain.text();
      expect(body).toContain('Incorrect API key provided');
      expectNoSecret(`REST ${kind}`, body);
    }

    breakStreamsWithCredential();
    const streamed = await post('/v1/chat/completions', { model: models.OPENAI_COMPATIBLE, stream: true, messages: [{ role: 'user', content: 'hi' }] });
    const events = await streamed.text();
    expect(events).toContain('Incorrect API key provided');
    expectNoSecret('the REST stream', events);

    failWithCredential(401);
    for (const kind of ['OPENAI', 'GEMINI'] as const) {
      const rest = await post('/v1/embeddings', { model: models[kind], input: ['x'] });
      expect(rest.status).toBe(502);
      expectNoSecret(`REST embeddings ${kind}`, await rest.text());
      const gql = await gw.gql('mutation($input: EmbedInput!) { embed(input: $input) { vectors } }', { input: { model: models[kind], input: ['x'] } }, caller);
      expect(gql.errors?.[0].extensions?.code).toBe('UPSTREAM_ERROR');
      expectNoSecret(`GraphQL embed ${kind}`, JSON.stringify(gql));
    }
  });
});

describe('other secrets an upstream quotes', () => {
  it('are removed, and the words around them, a model name and a request id stay', async () => {
    const requestId = '0b8f2c1e-6a4d-4f6e-9c3b-2d7a1e5f8c90';
    const message =
      `Forwarding failed for meta-llama/Llama-3.1-8B-Instruct (request ${requestId}): upstream key ${FOREIGN.openaiKey} rejected, ` +
      `retried with https://gen.example/v1?key=${FOREIGN.queryKey}&alt=sse and ${FOREIGN.googleKey}, header Authorization: Bearer ${FOREIGN.bearer}, ` +
      `session token ${FOREIGN.token}`;
    compat.reply({ status: 400, error: { message } });
    const res = await chat(gw, { model: models.OPENAI_COMPATIBLE, messages: ask }, caller);
    const text = res.errors?.[0].message ?? '';
    expectNoSecret('the GraphQL error', text);
    expect(text).toContain('Forwarding failed for meta-llama/Llama-3.1-8B-Instruct');
    expect(text).toContain(requestId);
    expect(text).toContain('https://gen.example/v1?key=');
    expect(text).toContain('session token');
  });

  it("masked echoes go whole, visible ends included (OpenAI's 'sk-abc1****wxyz' and others)", async () => {
    const masked = [`sk-proj-Zq81${'*'.repeat(36)}Wx9z`, `prod-88${'*'.repeat(10)}1f2e`];
    compat.reply({ status: 401, error: { message: `Incorrect API key provided: ${masked[0]}. Previous key ${masked[1]} expired.` } });
    const text = (await chat(gw, { model: models.OPENAI_COMPATIBLE, messages: ask }, caller)).errors?.[0].message ?? '';
    expect(text).toContain('Incorrect API key provided: [redacted]. Previous key [redacted] expired.');
    for (const end of ['Zq81', 'Wx9z', 'prod-88', '1f2e']) expect(text).not.toContain(end);
  });

  it.each([
    "This model's maximum context length is 128000 tokens. However, your messages resulted in 130412 tokens. Please reduce the length of the messages.",
    'API key not valid. Please pass a valid API key.',
    "Invalid 'messages[1].tool_calls[0].id': string too long. Expected a string with maximum length 40, but got a string with length 41 instead.",
    'The model `accounts/fireworks/models/llama-v3p1-405b-instruct` does not exist or you do not have access to it.',
    "model 'mistralai-Mixtral-8x22B-Instruct-v0-1' not found, try pulling it first",
    'Unknown key: temperature_x (request req_7f3a9c2b1e4d)',
    '* GenerateContentRequest.contents: contents is not specified',
    'Authentication failed: missing bearer token. Basic authentication is not supported for this endpoint.',
    'Prompt token count 5000 exceeds the limit of 4096 (max_tokens=4096)',
  ])('an ordinary message comes through unchanged: %s', async (message) => {
    compat.reply({ status: 400, error: { message } });
    const res = await chat(gw, { model: models.OPENAI_COMPATIBLE, messages: ask }, caller);
    expect(res.errors?.[0].message).toBe(`openai-compatible returned 400: ${message}`);
  });
});

describe('the log', () => {
  it('has the "upstream attempt failed" warnings, and none of the secrets', async () => {
    failWithCredential(401);
    for (const kind of KINDS) await chat(gw, { model: models[kind], messages: ask }, caller);
    const logs = gw.logs.join('');
    const warnings = gw.logs.filter((l) => l.includes('upstream attempt failed'));
    expect(warnings.length).toBeGreaterThanOrEqual(KINDS.length);
    expect(warnings.some((l) => l.includes('Incorrect API key provided'))).toBe(true);
    expectNoSecret('the log', logs);
  });
});
