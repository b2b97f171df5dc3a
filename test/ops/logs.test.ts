/* Logs and request ids: JSON lines, one per request, x-request-id on every response and extensions.requestId on every
 * error (HTTP, SSE, websockets); and no secret in any log line or in any API response after the one that created it. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEchoAdapter } from '../../src/providers/echo/index.js';
import { UpstreamError, type ProviderAdapter } from '../../src/providers/types.js';
import type { AnyJson } from '../kit/json.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { readSse, type SseEvent } from '../kit/sse.js';
import { createWsClient, wsCollect, wsHandshake } from '../kit/ws.js';
import { CHAT, CHAT_STREAM, chatInput, waitFor } from './kit.js';

const PROVIDER_SECRET = 'sk-provider-secret-xyz';
const CUT_PROVIDER_SECRET = 'sk-cut-provider-secret-abc';
const BOGUS_KEY = 'gw_bogus_0123456789abcdefghijklmnopqrstuv';

/** Streams two words, then fails as if the upstream connection were cut. */
const cutAdapter: ProviderAdapter = {
  async chat() {
    throw new UpstreamError({ provider: 'cut', message: 'connection reset', retryable: false });
  },
  async *stream() {
    yield { delta: 'partial' };
    yield { delta: ' answer' };
    throw new UpstreamError({ provider: 'cut', message: 'connection reset by peer', retryable: false });
  },
};

interface Recorded {
  what: string;
  status: number;
  requestId: string | null;
  body: string;
}

describe('logs, request ids and secrets over a full session', () => {
  let gw: TestGateway;
  const responses: Recorded[] = [];
  /** secret → index of the response that created it (-1: must never appear in any response) */
  const secrets = new Map<string, number>();

  async function call(what: string, path: string, init: RequestInit & { key?: string | null; authorization?: string } = {}): Promise<{ status: number; requestId: string | null; json: AnyJson; text: string }> {
    const headers: Record<string, string> = { ...(init.headers as Record<string, string>) };
    if (init.authorization !== undefined) headers.authorization = init.authorization;
    else if (init.key) headers.authorization = `Bearer ${init.key}`;
    const res = await fetch(`${gw.url}${path}`, { ...init, headers });
    const text = await res.text();
    const requestId = res.headers.get('x-request-id');
    responses.push({ what, status: res.status, requestId, body: text });
    let json: AnyJson;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, requestId, json, text };
  }
  const gql = (what: string, query: string, variables?: Record<string, unknown>, key: string | null = gw.adminKey, authorization?: string) =>
    call(what, '/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
      body: JSON.stringify({ query, variables }),
      key,
      authorization,
    });

  /** An operation over SSE, to the end; the response's request id and every event. */
  async function sse(what: string, query: string, variables: Record<string, unknown>, key: string) {
    const res = await fetch(`${gw.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query, variables }),
    });
    const events: SseEvent[] = [];
    for await (const e of readSse(res.body!)) events.push(e);
    const requestId = res.headers.get('x-request-id');
    responses.push({ what, status: res.status, requestId, body: JSON.stringify(events) });
    return { requestId, events, results: events.filter((e) => e.event === 'next').map((e) => JSON.parse(e.data)) };
  }

  beforeAll(async () => {
    gw = await startGateway({}, {
      adapters: { ECHO: createEchoAdapter(), GEMINI: cutAdapter },
      policy: { maxAttemptsPerModel: 2, backoffBaseMs: 1, backoffMaxMs: 2 },
    });
    secrets.set(gw.adminKey, -1);
    secrets.set(PROVIDER_SECRET, -1);
    secrets.set(CUT_PROVIDER_SECRET, -1);
    secrets.set(BOGUS_KEY, -1);
  });
  afterAll(() => gw?.stop());

  it('runs a mixed session; every response has x-request-id, every error extensions.requestId, every request one log line', async () => {
    // catalogue: a provider with a credential on a closed port, one that cuts streams
    for (const [name, kind, apiKey, baseUrl] of [
      ['dead', 'OPENAI_COMPATIBLE', PROVIDER_SECRET, 'http://127.0.0.1:1/v1'],
      ['cut', 'GEMINI', CUT_PROVIDER_SECRET, 'http://127.0.0.1:1'],
    ] as const) {
      const p = await gql(`createProvider ${name}`, 'mutation($input: CreateProviderInput!) { createProvider(input: $input) { id name hasCredential } }', {
        input: { name, kind, apiKey, baseUrl },
      });
      expect(p.json.data.createProvider.hasCredential).toBe(true);
      const m = await gql(`createModel ${name}`, 'mutation($input: CreateModelInput!) { createModel(input: $input) { id } }', {
        input: { name: `${name}-model`, targets: [{ provider: name, upstreamModel: 'm' }] },
      });
      expect(m.json.errors).toBeUndefined();
    }

    // keys: create two, rotate one (its old secret must stop working), revoke the other
    const created: Array<{ id: string; secret: string }> = [];
    for (const name of ['app one', 'app two']) {
      const r = await gql(`createApiKey ${name}`, 'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret apiKey { id prefix } } }', {
        input: { name, scopes: ['INVOKE', 'READ_USAGE'] },
      });
      const c = { id: r.json.data.createApiKey.apiKey.id, secret: r.json.data.createApiKey.secret };
      expect(c.secret).toMatch(/^gw_/);
      secrets.set(c.secret, responses.length - 1);
      created.push(c);
    }
    const rotated = await gql('rotateApiKey', 'mutation($id: ID!) { rotateApiKey(id: $id) { secret apiKey { id } } }', { id: created[0].id });
    const key = rotated.json.data.rotateApiKey.secret as string;
    secrets.set(key, responses.length - 1);
    const oldSecret = created[0].secret;
    await gql('revokeApiKey', 'mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }', { id: created[1].id });
    await gql('apiKeys', '{ apiKeys { id name prefix scopes revokedAt } }');
    await gql('providers', '{ providers { id name kind baseUrl hasCredential } }');

    // invocations: ok, upstream failure (2 attempts against the closed port), unknown model, bad input
    expect((await gql('chat ok', CHAT, { input: chatInput('hello there') }, key)).json.data.chat.message.content).toBe('echo: hello there');
    const dead = await gql('chat dead', CHAT, { input: chatInput('x', 'dead-model') }, key);
    expect(dead.json.errors[0].extensions).toMatchObject({ code: 'UPSTREAM_ERROR', requestId: dead.requestId });
    const unknown = await gql('chat unknown', CHAT, { input: chatInput('x', 'nope') }, key);
    expect(unknown.json.errors[0].extensions).toMatchObject({ code: 'MODEL_NOT_FOUND', requestId: unknown.requestId });
    const badInput = await gql('chat bad input', CHAT, { input: { model: 'echo', messages: [] } }, key);
    expect(badInput.json.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', requestId: badInput.requestId });

    // bad keys in Authorization: unknown, malformed, rotated-away, revoked
    for (const [what, authorization] of [
      ['bogus key', `Bearer ${BOGUS_KEY}`],
      ['malformed', 'Basic dXNlcjpwYXNzd29yZA=='],
      ['rotated-away key', `Bearer ${oldSecret}`],
      ['revoked key', `Bearer ${created[1].secret}`],
    ] as const) {
      const r = await gql(what, CHAT, { input: chatInput('x') }, null, authorization);
      expect(r.json.errors[0].extensions, what).toMatchObject({ code: 'UNAUTHENTICATED', requestId: r.requestId });
    }

    // a caller's own x-request-id is kept (when it is sane), and a hostile one replaced
    const own = await call('own request id', '/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'client-req-42' },
      body: JSON.stringify({ query: '{ nope }' }),
      key,
    });
    expect(own.requestId).toBe('client-req-42');
    expect(own.json.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', requestId: 'client-req-42' });
    const hostile = await call('hostile request id', '/graphql?query=%7B__typename%7D', { headers: { 'x-request-id': 'a b\tc', accept: 'application/json' } });
    expect(hostile.json).toEqual({ data: { __typename: 'Query' }, extensions: { requestId: hostile.requestId } });
    expect(hostile.requestId).toMatch(/^[0-9a-f-]{36}$/);

    // REST: ok, bad key
    const rest = await call('rest chat', '/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'echo', messages: [{ role: 'user', content: 'hi' }] }),
      key,
    });
    expect(rest.status).toBe(200);
    const restBad = await call('rest bad key', '/v1/models', { authorization: `Bearer ${BOGUS_KEY}` });
    expect(restBad.status).toBe(401);

    // SSE: a stream that is cut mid-way ends with its error (code + request id) as the last payload, not a broken connection
    const cut = await sse('sse cut', CHAT_STREAM, { input: chatInput('x', 'cut-model') }, key);
    const cutResults = cut.results;
    expect(cutResults.map((r) => r.data?.chatStream?.delta ?? null)).toEqual(['partial', ' answer', '', null]);
    expect(cutResults.at(-2).data.chatStream.finishReason).toBe('ERROR');
    expect(cutResults.at(-1).errors).toHaveLength(1);
    expect(cutResults.at(-1).errors[0].extensions).toMatchObject({ code: 'UPSTREAM_ERROR', requestId: cut.requestId });
    expect(cut.events.at(-1)?.event).toBe('complete');
    // an SSE stream that works; one that cannot start
    const good = await sse('sse ok', CHAT_STREAM, { input: chatInput('stream me') }, key);
    expect(good.results.at(-1).data.chatStream.finishReason).toBe('STOP');
    const nope = await sse('sse unknown model', CHAT_STREAM, { input: chatInput('x', 'nope') }, key);
    expect(nope.results[0].errors[0].extensions).toMatchObject({ code: 'MODEL_NOT_FOUND', requestId: nope.requestId });

    // websockets: a stream, an unknown model, a validation error and a cut stream all carry request ids on errors
    const ws = createWsClient(gw.url, key);
    try {
      const ok = await wsCollect(ws, CHAT_STREAM, { input: chatInput('over the socket') });
      responses.push({ what: 'ws ok', status: 0, requestId: null, body: JSON.stringify(ok) });
      expect(ok.at(-1)?.data?.chatStream.finishReason).toBe('STOP');
      const nf = await wsCollect(ws, CHAT_STREAM, { input: chatInput('x', 'nope') });
      responses.push({ what: 'ws unknown model', status: 0, requestId: null, body: JSON.stringify(nf) });
      expect(nf[0].errors?.[0].extensions).toMatchObject({ code: 'MODEL_NOT_FOUND' });
      expect(nf[0].errors?.[0].extensions?.requestId).toMatch(/^[0-9a-f-]{36}$/);
      const invalid = await wsCollect(ws, '{ nope }').then(
        () => expect.unreachable('a validation error must end the operation with an error'),
        (e) => e as Array<{ extensions?: Record<string, unknown> }>,
      );
      responses.push({ what: 'ws invalid', status: 0, requestId: null, body: JSON.stringify(invalid) });
      expect(invalid[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
      expect(invalid[0].extensions?.requestId).toMatch(/^[0-9a-f-]{36}$/);
      const wsCut = await wsCollect(ws, CHAT_STREAM, { input: chatInput('x', 'cut-model') }).then(
        () => expect.unreachable('a cut stream must end with an error'),
        (e) => e as Array<{ extensions?: Record<string, unknown> }>,
      );
      responses.push({ what: 'ws cut', status: 0, requestId: null, body: JSON.stringify(wsCut) });
      expect(wsCut[0].extensions).toMatchObject({ code: 'UPSTREAM_ERROR' });
      expect(wsCut[0].extensions?.requestId).toMatch(/^[0-9a-f-]{36}$/);
    } finally {
      await ws.dispose();
    }
    // websocket handshakes with bad keys are refused (4403)
    for (const authorization of [`Bearer ${BOGUS_KEY}`, `Bearer ${oldSecret}`]) {
      expect(await wsHandshake(gw.url, { authorization })).toMatchObject({ acked: false, code: 4403 });
    }
    await gw.flushUsage();
    const usage = await gql('usage', '{ usage(first: 50) { edges { node { id model status errorCode metadata apiKey { id name prefix } } } } }');
    expect(usage.json.data.usage.edges.length).toBeGreaterThan(5);

    // every HTTP response carries an id, and exactly one 'request completed' line with method, path, status, duration
    const http = responses.filter((r) => r.status > 0);
    for (const r of http) expect(r.requestId, r.what).toBeTruthy();
    const lines = () => gw.logs.flatMap((chunk) => chunk.split('\n')).filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    await waitFor(() => lines().filter((l) => l.msg === 'request completed').length >= http.filter((r) => r.requestId).length, 'request log lines').catch((e) => {
      const seen = new Set(lines().map((l) => l.requestId));
      throw new Error(`${e.message}: missing ${JSON.stringify(http.filter((r) => !seen.has(r.requestId)).map((r) => r.what))}`);
    });
    await waitFor(() => lines().filter((l) => l.msg === 'websocket closed').length >= 3, 'websocket log lines');
    const completed = lines().filter((l) => l.msg === 'request completed');
    for (const r of http) {
      if (!r.requestId) continue;
      const mine = completed.filter((l) => l.requestId === r.requestId);
      expect(mine, `${r.what}: one log line`).toHaveLength(1);
      expect(mine[0]).toMatchObject({ level: 30, status: r.status, method: expect.stringMatching(/^(GET|POST)$/), path: expect.stringMatching(/^\//) });
      expect(typeof mine[0].durationMs).toBe('number');
      expect(Object.keys(mine[0]).sort()).toEqual(['durationMs', 'level', 'method', 'msg', 'path', 'requestId', 'service', 'status', 'time']);
    }
  });

  it('no secret appears in any log line, nor in any API response after the one that created it', () => {
    expect(gw.logs.length).toBeGreaterThan(20);
    // every line is one JSON object
    for (const l of gw.logs.flatMap((c) => c.split('\n')).filter(Boolean)) expect(() => JSON.parse(l)).not.toThrow();
    const all = gw.logs.join('');
    expect(secrets.size).toBe(7);
    for (const [secret, createdAt] of secrets) {
      expect(all.includes(secret), `secret ${secret.slice(0, 8)}… in the logs`).toBe(false);
      // nor any long piece of it (a prefix is fine: keys are listed by prefix)
      expect(all.includes(secret.slice(-16)), `tail of ${secret.slice(0, 8)}… in the logs`).toBe(false);
      responses.forEach((r, i) => {
        if (i === createdAt) expect(r.body).toContain(secret);
        else expect(r.body.includes(secret), `${secret.slice(0, 8)}… in the response to ${r.what}`).toBe(false);
      });
    }
    expect(all).not.toMatch(/authorization/i);
    expect(all).not.toContain('Bearer');
    expect(all).not.toContain('dXNlcjpwYXNzd29yZA');
  });
});
