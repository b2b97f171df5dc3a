/*
 * extensions.requestId names the request of every GraphQL result, as x-request-id does: over HTTP (the fast path and
 * Yoga's own pipeline, answers and errors), on the first event of an SSE subscription, and on each graphql-ws
 * operation's first result, a distinct id per operation. The call log keeps it, so invocation(id:) finds the call.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { sseCollect, type ExecResult } from '../kit/sse.js';
import { createWsClient, wsCollect } from '../kit/ws.js';
import type { AnyJson } from '../kit/json.js';
import { CHAT, chatInput, ok, type ChatOut } from './helpers.js';

const CHAT_STREAM = 'subscription($input: ChatInput!) { chatStream(input: $input) { id invocationId delta } }';

let gw: TestGateway;
let key: { id: string; secret: string };
const MODEL = 'rid-full';

beforeAll(async () => {
  gw = await startGateway();
  ok(await gw.gql(`mutation { createModel(input: { name: "${MODEL}", logBodies: FULL, targets: [{ provider: "echo", upstreamModel: "echo" }] }) { id } }`));
  key = await gw.createKey({ name: 'rid key', scopes: ['INVOKE'] });
});

afterAll(async () => {
  await gw?.stop();
});

type Body = { data?: Record<string, AnyJson> | null; errors?: Array<{ extensions?: Record<string, AnyJson> }>; extensions?: Record<string, AnyJson> };

async function post(body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; requestId: string | null; body: Body }> {
  const res = await fetch(`${gw.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', authorization: `Bearer ${key.secret}`, ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, requestId: res.headers.get('x-request-id'), body: (await res.json()) as Body };
}

/** The invocation id of the call log entry a request id names, as the caller who made it reads it. */
async function loggedUnder(requestId: string): Promise<string | undefined> {
  await gw.flushUsage();
  const res = ok(await gw.gql<{ invocation: { id: string; requestId: string } | null }>('query($id: ID!) { invocation(id: $id) { id requestId } }', { id: requestId }, key.secret));
  if (res.invocation) expect(res.invocation.requestId).toBe(requestId);
  return res.invocation?.id;
}

// an Origin header keeps a request off the fast path (Yoga answers it, with CORS); so does a GET
const VIA_YOGA = { origin: 'http://console.example' };

describe('extensions.requestId over HTTP', () => {
  it.each([
    ['the fast path', {}],
    ["Yoga's pipeline", VIA_YOGA],
  ])('%s: answers and errors carry the x-request-id, the client\'s own when it sent one', async (_, headers) => {
    const plain = await post({ query: '{ viewer { name } }' }, headers);
    expect(plain.body.data).toEqual({ viewer: { name: 'rid key' } });
    expect(plain.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(plain.body.extensions?.requestId).toBe(plain.requestId);

    const own = await post({ query: '{ viewer { name } }' }, { ...headers, 'x-request-id': 'client-chosen-1' });
    expect(own.body.extensions?.requestId).toBe('client-chosen-1');

    const invalid = await post({ query: '{ nope }' }, headers);
    expect(invalid.body.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect(invalid.body.extensions?.requestId).toBe(invalid.requestId);
    expect(invalid.body.errors?.[0].extensions?.requestId).toBe(invalid.requestId);

    const unparsable = await post({ query: '{ viewer { ' }, headers);
    expect(unparsable.body.extensions?.requestId).toBe(unparsable.requestId);

    const failed = await post({ query: CHAT, variables: { input: chatInput('x', { model: 'no-such-model' }) } }, headers);
    expect(failed.body.errors?.[0].extensions?.code).toBe('MODEL_NOT_FOUND');
    expect(failed.body.extensions?.requestId).toBe(failed.requestId);
  });

  it('a GET and a body refused before GraphQL (413) name their request too', async () => {
    const get = await fetch(`${gw.url}/graphql?query=${encodeURIComponent('{ viewer { name } }')}`, { headers: { authorization: `Bearer ${key.secret}`, accept: 'application/json' } });
    const getBody = (await get.json()) as Body;
    expect(getBody.extensions?.requestId).toBe(get.headers.get('x-request-id'));

    const tooLarge = await post({ query: `{ viewer { name } } # ${'x'.repeat(3 * 1024 * 1024)}` });
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.body.extensions?.requestId).toBe(tooLarge.requestId);
  });

  it.each([
    ['the fast path', {}],
    ["Yoga's pipeline", VIA_YOGA],
  ])('%s: a chat is logged under the request id its answer named', async (_, headers) => {
    const res = await post({ query: CHAT, variables: { input: chatInput('find me by my request', { model: MODEL }) } }, headers);
    const chat = (res.body.data as { chat: ChatOut }).chat;
    const requestId = res.body.extensions?.requestId as string;
    expect(requestId).toBe(res.requestId);
    expect(await loggedUnder(requestId)).toBe(chat.id);
  });

  it('SSE: the first event of a subscription names the request; the stream is logged under it', async () => {
    const events = (await sseCollect(gw.url, CHAT_STREAM, { input: chatInput('streamed and logged', { model: MODEL }) }, key.secret)) as ExecResult<{
      chatStream: { id: string; invocationId: string };
    }>[];
    expect(events.length).toBeGreaterThan(1);
    const requestId = events[0].extensions?.requestId as string;
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(events.slice(1).every((e) => e.extensions?.requestId === undefined)).toBe(true);
    const id = await waitLogged(requestId);
    expect(id).toBe(events[0].data?.chatStream.invocationId);
    // a chunk's id names its invocation too
    expect(ok(await gw.gql<{ invocation: { id: string } }>('query($id: ID!) { invocation(id: $id) { id } }', { id: events[0].data?.chatStream.id }, key.secret)).invocation.id).toBe(id);
  });
});

/** A stream's log is written when it ends: poll until it is there. */
async function waitLogged(requestId: string): Promise<string | undefined> {
  for (let i = 0; i < 100; i++) {
    const id = await loggedUnder(requestId);
    if (id) return id;
    await new Promise((r) => setTimeout(r, 30));
  }
  return undefined;
}

describe('extensions.requestId over graphql-ws', () => {
  it('each operation of one socket has its own request id, on its first result, and its call is logged under it', async () => {
    const client = createWsClient(gw.url, key.secret);
    try {
      const ops = await Promise.all([
        wsCollect<{ chat: ChatOut }>(client, CHAT, { input: chatInput('ws chat one', { model: MODEL }) }),
        wsCollect<{ chat: ChatOut }>(client, CHAT, { input: chatInput('ws chat two', { model: MODEL }) }),
        wsCollect<{ viewer: { name: string } }>(client, '{ viewer { name } }'),
        wsCollect<{ viewer: { name: string } }>(client, '{ viewer { name } }'),
      ]);
      const stream = await wsCollect<{ chatStream: { id: string; invocationId: string } }>(client, CHAT_STREAM, { input: chatInput('ws stream three', { model: MODEL }) });
      expect(stream.length).toBeGreaterThan(1);
      expect(stream.slice(1).every((r) => r.extensions?.requestId === undefined)).toBe(true);
      const ids = [...ops, stream].map((results) => results[0].extensions?.requestId as string);
      for (const id of ids) expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(new Set(ids).size).toBe(ids.length);

      expect(await waitLogged(ids[0])).toBe(ops[0][0].data?.chat.id);
      expect(await waitLogged(ids[1])).toBe(ops[1][0].data?.chat.id);
      expect(await waitLogged(ids[4])).toBe(stream[0].data?.chatStream.invocationId);
    } finally {
      await client.dispose();
    }
  });

  it('an operation that fails names its request in its errors', async () => {
    const client = createWsClient(gw.url, key.secret);
    try {
      const results = await wsCollect(client, CHAT, { input: chatInput('x', { model: 'no-such-model' }) });
      expect(results[0].errors?.[0].extensions?.code).toBe('MODEL_NOT_FOUND');
      const rid = results[0].extensions?.requestId;
      expect(rid).toMatch(/^[0-9a-f-]{36}$/);
      expect(results[0].errors?.[0].extensions?.requestId).toBe(rid);
      const refused = await wsCollect(client, '{ nope }').catch((e: unknown) => e);
      const errors = refused as Array<{ extensions?: Record<string, unknown> }>;
      expect(errors[0].extensions?.code).toBe('BAD_USER_INPUT');
      expect(errors[0].extensions?.requestId).toMatch(/^[0-9a-f-]{36}$/);
      expect(errors[0].extensions?.requestId).not.toBe(rid);
    } finally {
      await client.dispose();
    }
  });

  it('a client cannot choose a ws operation\'s request id: a fresh one per subscribe message', async () => {
    const client = createWsClient(gw.url, key.secret);
    try {
      const chosen = `mine-${randomUUID()}`;
      const results = await new Promise<Array<{ extensions?: Record<string, unknown> }>>((resolve, reject) => {
        const out: Array<{ extensions?: Record<string, unknown> }> = [];
        client.subscribe(
          { query: '{ viewer { name } }', extensions: { requestId: chosen } },
          { next: (r) => void out.push(r as { extensions?: Record<string, unknown> }), error: reject, complete: () => resolve(out) },
        );
      });
      expect(results[0].extensions?.requestId).toMatch(/^[0-9a-f-]{36}$/);
      expect(results[0].extensions?.requestId).not.toBe(chosen);
    } finally {
      await client.dispose();
    }
  });
});
