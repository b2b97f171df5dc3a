/* chat and chatStream on echo over every transport: HTTP, SSE (raw and the graphql-sse client) and graphql-ws. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GraphQLFormattedError } from 'graphql';
import { createClient as createSseClient } from 'graphql-sse';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { sseCollect } from '../kit/sse.js';
import { createWsClient, wsCollect, type WsClient } from '../kit/ws.js';
import { CHAT, CHAT_STREAM, chatInput, expectCode, ok, type ChatOut } from './helpers.js';

let gw: TestGateway;
let key: string;
let usageOnlyKey: string;
let ws: WsClient;

beforeAll(async () => {
  gw = await startGateway();
  key = (await gw.createKey({ name: 'invoker', scopes: ['INVOKE'] })).secret;
  usageOnlyKey = (await gw.createKey({ name: 'reader', scopes: ['READ_USAGE'] })).secret;
  ws = createWsClient(gw.url, key);
});

afterAll(async () => {
  await ws?.dispose();
  await gw?.stop();
});

const MESSAGES = [
  { role: 'SYSTEM', content: 'You are terse.' },
  { role: 'USER', content: 'first question' },
  { role: 'ASSISTANT', content: 'first answer' },
  { role: 'USER', content: 'hello big world' },
];
// echo counts one token per word and at least one per message: 3 + 2 + 2 + 3 prompt, "echo: hello big world" = 4
const EXPECTED_USAGE = { promptTokens: 10, completionTokens: 4, totalTokens: 14, costUsd: 0 };

type Chunk = { id: string; model: string; delta: string; finishReason: string | null; usage: typeof EXPECTED_USAGE | null };

/** The streamed shape every transport must produce for MESSAGES. */
function expectEchoStream(chunks: Chunk[]) {
  expect(chunks.length).toBe(5);
  const words = chunks.slice(0, -1);
  expect(words.map((c) => c.delta)).toEqual(['echo:', ' hello', ' big', ' world']);
  for (const c of words) {
    expect(c.finishReason).toBeNull();
    expect(c.usage).toBeNull();
  }
  const last = chunks.at(-1)!;
  expect(last.delta).toBe('');
  expect(last.finishReason).toBe('STOP');
  expect(last.usage).toEqual(EXPECTED_USAGE);
  // each event its own identity (a normalising client cache keeps them all)
  expect(new Set(chunks.map((c) => c.id)).size).toBe(chunks.length);
  expect(chunks.every((c) => c.model === 'echo')).toBe(true);
  expect(chunks.map((c) => c.delta).join('')).toBe('echo: hello big world');
}

describe('chat over HTTP', () => {
  it('answers "echo: <last user message>" with deterministic tokens', async () => {
    const d = ok(await gw.gql<{ chat: ChatOut }>(CHAT, { input: { model: 'echo', messages: MESSAGES } }, key));
    expect(d.chat).toMatchObject({
      model: 'echo',
      provider: 'echo',
      upstreamModel: 'echo',
      finishReason: 'STOP',
      attempts: 1,
      message: { role: 'ASSISTANT', content: 'echo: hello big world', toolCalls: [] },
      usage: EXPECTED_USAGE,
    });
    expect(d.chat.id).toBeTruthy();
    expect(d.chat.latencyMs).toBeGreaterThanOrEqual(0);

    const again = ok(await gw.gql<{ chat: ChatOut }>(CHAT, { input: { model: 'echo', messages: MESSAGES } }, key));
    expect(again.chat.usage).toEqual(d.chat.usage);
    expect(again.chat.id).not.toBe(d.chat.id);
  });

  it('ids are UUID version 7 carrying the time of the call, so usage rows are written in primary-key order', async () => {
    const before = Date.now();
    const first = ok(await gw.gql<{ chat: { id: string } }>(CHAT, { input: { model: 'echo', messages: MESSAGES } }, key)).chat.id;
    await new Promise((r) => setTimeout(r, 5));
    const second = ok(await gw.gql<{ chat: { id: string } }>(CHAT, { input: { model: 'echo', messages: MESSAGES } }, key)).chat.id;
    const after = Date.now();
    const v7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    const msOf = (id: string) => parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
    for (const id of [first, second]) {
      expect(id).toMatch(v7);
      expect(msOf(id)).toBeGreaterThanOrEqual(before);
      expect(msOf(id)).toBeLessThanOrEqual(after);
    }
    expect(msOf(second)).toBeGreaterThan(msOf(first));
    expect(second > first).toBe(true);
  });

  it('maxTokens cuts the answer and reports LENGTH', async () => {
    const d = ok(await gw.gql<{ chat: ChatOut }>(CHAT, { input: chatInput('one two three four', { maxTokens: 2 }) }, key));
    expect(d.chat.message.content).toBe('echo: one');
    expect(d.chat.finishReason).toBe('LENGTH');
    expect(d.chat.usage.completionTokens).toBe(2);
  });

  it('an unknown model is MODEL_NOT_FOUND naming it', async () => {
    const res = await gw.gql(CHAT, { input: chatInput('x', { model: 'no-such-model' }) }, key);
    expectCode(res, 'MODEL_NOT_FOUND');
    expect(res.errors![0].extensions?.model).toBe('no-such-model');
  });
});

describe('chatStream over SSE', () => {
  it('streams word by word, then a final chunk with STOP and usage (raw text/event-stream)', async () => {
    const results = await sseCollect<{ chatStream: Chunk }>(gw.url, CHAT_STREAM, { input: { model: 'echo', messages: MESSAGES } }, key);
    expect(results.every((r) => !r.errors)).toBe(true);
    expectEchoStream(results.map((r) => r.data!.chatStream));
  });

  it('works with the graphql-sse client (distinct connections mode)', async () => {
    const client = createSseClient({ url: `${gw.url}/graphql`, headers: { authorization: `Bearer ${key}` }, retryAttempts: 0 });
    try {
      const chunks: Chunk[] = [];
      for await (const r of client.iterate<{ chatStream: Chunk }>({ query: CHAT_STREAM, variables: { input: { model: 'echo', messages: MESSAGES } } })) {
        expect(r.errors).toBeUndefined();
        chunks.push(r.data!.chatStream);
      }
      expectEchoStream(chunks);
    } finally {
      client.dispose();
    }
  });

  it('errors before the stream starts come as one GraphQL error: MODEL_NOT_FOUND, FORBIDDEN, UNAUTHENTICATED', async () => {
    const notFound = await sseCollect(gw.url, CHAT_STREAM, { input: chatInput('x', { model: 'nope' }) }, key);
    expectCode(notFound[0], 'MODEL_NOT_FOUND');
    expect(notFound).toHaveLength(1);

    const forbidden = await sseCollect(gw.url, CHAT_STREAM, { input: chatInput('x') }, usageOnlyKey);
    expectCode(forbidden[0], 'FORBIDDEN');

    const anonymous = await sseCollect(gw.url, CHAT_STREAM, { input: chatInput('x') }, null);
    expectCode(anonymous[0], 'UNAUTHENTICATED');

    const revoked = await gw.createKey({ name: 'revoked', scopes: ['INVOKE'] });
    ok(await gw.gql('mutation($id: ID!) { revokeApiKey(id: $id) { id } }', { id: revoked.id }));
    const refused = await sseCollect(gw.url, CHAT_STREAM, { input: chatInput('x') }, revoked.secret);
    expectCode(refused[0], 'UNAUTHENTICATED');
  });

  it('invalid input over SSE is BAD_USER_INPUT naming the field', async () => {
    const res = await sseCollect(gw.url, CHAT_STREAM, { input: chatInput('x', { temperature: 9 }) }, key);
    expectCode(res[0], 'BAD_USER_INPUT', 'input.temperature');
  });
});

describe('over graphql-ws', () => {
  it('chatStream streams word by word, then STOP with usage', async () => {
    const results = await wsCollect<{ chatStream: Chunk }>(ws, CHAT_STREAM, { input: { model: 'echo', messages: MESSAGES } });
    expect(results.every((r) => !r.errors)).toBe(true);
    expectEchoStream(results.map((r) => r.data!.chatStream));
  });

  it('queries and mutations run over the socket too, as the connecting key', async () => {
    const [viewer] = await wsCollect<{ viewer: { name: string; scopes: string[] } }>(ws, '{ viewer { name scopes } }');
    expect(viewer.data?.viewer).toEqual({ name: 'invoker', scopes: ['INVOKE'] });
    const [chat] = await wsCollect<{ chat: ChatOut }>(ws, CHAT, { input: chatInput('over the socket') });
    expect(chat.data?.chat.message.content).toBe('echo: over the socket');
    const [forbidden] = await wsCollect(ws, '{ apiKeys { id } }');
    expectCode(forbidden, 'FORBIDDEN');
  });

  it('errors come with codes: MODEL_NOT_FOUND, BAD_USER_INPUT (invalid input, unknown field), FORBIDDEN', async () => {
    const [notFound] = await wsCollect(ws, CHAT_STREAM, { input: chatInput('x', { model: 'nope' }) });
    expectCode(notFound, 'MODEL_NOT_FOUND');
    const [bad] = await wsCollect(ws, CHAT_STREAM, { input: chatInput('x', { maxTokens: -3 }) });
    expectCode(bad, 'BAD_USER_INPUT', 'input.maxTokens');

    // validation errors end the operation with an error message instead of a result
    const invalid = await wsCollect(ws, '{ nope }').then(
      () => null,
      (e) => e,
    );
    expect(Array.isArray(invalid)).toBe(true);
    expect((invalid as GraphQLFormattedError[]).map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);

    const reader = createWsClient(gw.url, usageOnlyKey);
    try {
      const [forbidden] = await wsCollect(reader, CHAT_STREAM, { input: chatInput('x') });
      expectCode(forbidden, 'FORBIDDEN');
    } finally {
      await reader.dispose();
    }
  });

  it('several streams on one socket stay apart', async () => {
    const [a, b] = await Promise.all([
      wsCollect<{ chatStream: Chunk }>(ws, CHAT_STREAM, { input: chatInput('alpha beta') }),
      wsCollect<{ chatStream: Chunk }>(ws, CHAT_STREAM, { input: chatInput('gamma delta epsilon') }),
    ]);
    expect(a.map((r) => r.data!.chatStream.delta).join('')).toBe('echo: alpha beta');
    expect(b.map((r) => r.data!.chatStream.delta).join('')).toBe('echo: gamma delta epsilon');
    expect(a.at(-1)!.data!.chatStream.usage).toEqual({ promptTokens: 2, completionTokens: 3, totalTokens: 5, costUsd: 0 });
    expect(b.at(-1)!.data!.chatStream.usage).toEqual({ promptTokens: 3, completionTokens: 4, totalTokens: 7, costUsd: 0 });
  });
});
