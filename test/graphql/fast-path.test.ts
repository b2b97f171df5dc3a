/*
 * The GraphQL fast path (plain JSON POSTs run without the Fetch-API layer) may never change an answer. It runs only
 * for the gateway's own plugins, can be switched off (GRAPHQL_FAST_PATH=false), and the same corpus of operations
 * is answered byte for byte the same with it on and off: successes, field errors, auth failures, warnings, masked
 * errors, partial data, variable and validation errors. A plugin it does not know of turns it off, so a
 * result-processing plugin changes the answer on every request.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { Plugin } from 'graphql-yoga';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../../src/config.js';
import type { Services } from '../../src/context.js';
import { createGatewayYoga } from '../../src/http/yoga.js';
import { createEchoAdapter } from '../../src/providers/echo/index.js';
import type { ProviderAdapter } from '../../src/providers/types.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';

const services = { log: pino({ level: 'silent' }) } as unknown as Services;
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

const TRUSTED_QUERY = 'query Trusted { viewer { name scopes } }';
const manifestDir = mkdtempSync(join(tmpdir(), 'gw-fast-path-'));
const manifest = join(manifestDir, 'persisted-documents.json');
/** With trusted documents an administrator's operations must be listed too: this one makes the test's INVOKE key. */
const CREATE_KEY = 'mutation CreateKey($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret } }';
writeFileSync(manifest, JSON.stringify({ [sha256(TRUSTED_QUERY)]: TRUSTED_QUERY, [sha256(CREATE_KEY)]: CREATE_KEY }));
afterAll(() => rmSync(manifestDir, { recursive: true, force: true }));

describe('GraphQL fast path: when it runs', () => {
  it('is on for the gateway as built', () => {
    expect(createGatewayYoga(testConfig(), services).fastPath).toBeDefined();
  });
  it('is off with GRAPHQL_FAST_PATH=false, and with any plugin beyond the gateway own', () => {
    expect(createGatewayYoga(testConfig({ GRAPHQL_FAST_PATH: 'false' }), services).fastPath).toBeUndefined();
    expect(createGatewayYoga(testConfig(), services, { plugins: [{ onResultProcess() {} }] }).fastPath).toBeUndefined();
    expect(createGatewayYoga(testConfig(), services, { plugins: [{ onRequest() {} }] }).fastPath).toBeUndefined();
  });
  it('is off with trusted documents: every request names a document by id or is refused, both in Yoga', () => {
    expect(createGatewayYoga(testConfig({ GRAPHQL_TRUSTED_DOCUMENTS: manifest }), services).fastPath).toBeUndefined();
  });
});

/** The echo model, except that a message "explode" makes it throw a plain Error (an unexpected failure, masked). */
function explodingEcho(): ProviderAdapter {
  const echo = createEchoAdapter();
  return {
    ...echo,
    chat: (req, opts) => (req.messages.some((m) => m.content === 'explode') ? Promise.reject(new Error('internal detail: /var/secret')) : echo.chat(req, opts)),
    // a first chunk, then a failure: the stream's last event carries the (masked) error
    stream: (req, opts) =>
      req.messages.some((m) => m.content === 'explode')
        ? (async function* () {
            yield { delta: 'partial ' };
            throw new Error('internal detail: /var/secret');
          })()
        : echo.stream(req, opts),
  };
}

const CHAT = `mutation($m: String!, $c: String!) { chat(input: { model: $m, messages: [{ role: USER, content: $c }] }) {
  message { content } finishReason model provider usage { promptTokens completionTokens totalTokens costUsd } } }`;

const STREAM = `subscription($m: String!, $c: String!) { chatStream(input: { model: $m, messages: [{ role: USER, content: $c }] }) {
  delta finishReason usage { promptTokens completionTokens totalTokens } } }`;
const SSE = 'text/event-stream';

const persisted = (hash: string) => ({ persistedQuery: { version: 1, sha256Hash: hash } });
const APQ_QUERY = 'query Persisted { viewer { name scopes } }';
const DEFERRED = '{ viewer { name } ... @defer { models { name status } } }';

/**
 * [name, body, key, accept?] — key 'admin', 'invoke', 'none' or 'bad'; accept defaults to application/graphql-response+json.
 * Only fields that do not change between two runs are selected. Runs in order: the APQ entries register a hash.
 */
const CORPUS: Array<[string, unknown, string, string?]> = [
  ['chat succeeds', { query: CHAT, variables: { m: 'echo', c: 'hello' } }, 'invoke'],
  ['a query succeeds', { query: '{ models { name status strategy } }' }, 'admin'],
  ['unknown model: a field error', { query: CHAT, variables: { m: 'nope', c: 'hi' } }, 'invoke'],
  ['deprecated model: a warning in extensions', { query: CHAT, variables: { m: 'legacy', c: 'hi' } }, 'invoke'],
  ['an unexpected failure is masked', { query: CHAT, variables: { m: 'echo', c: 'explode' } }, 'invoke'],
  ['partial data: one field fails, the other answers', { query: '{ viewer { name scopes } m: model(name: "nope") { name } p: prompt(name: "missing") { name } }' }, 'invoke'],
  ['no key', { query: '{ viewer { name } }' }, 'none'],
  ['an unknown key', { query: '{ viewer { name } }' }, 'bad'],
  ['missing scope', { query: '{ apiKeys { name } }' }, 'invoke'],
  ['a variable that does not coerce', { query: CHAT, variables: { m: 1, c: null } }, 'invoke'],
  ['a document that does not validate', { query: '{ viewer { nope } }' }, 'admin'],
  ['a document that does not parse', { query: '{ viewer { ' }, 'admin'],
  ['an operation name that is not in the document', { query: 'query A { viewer { name } }', operationName: 'B' }, 'admin'],
  ['the same chat again (the compiled path)', { query: CHAT, variables: { m: 'echo', c: 'hello' } }, 'invoke'],
  ['APQ: an unknown hash alone', { extensions: persisted(sha256(APQ_QUERY)) }, 'admin'],
  ['APQ: a hash that is not the text', { query: APQ_QUERY, extensions: persisted(sha256('{ models { name } }')) }, 'admin'],
  ['APQ: the hash with its text', { query: APQ_QUERY, extensions: persisted(sha256(APQ_QUERY)) }, 'admin'],
  ['APQ: the hash alone, now known', { extensions: persisted(sha256(APQ_QUERY)) }, 'invoke'],
  ['APQ: the hash and the text again (the text has run on the fast path)', { query: '{ viewer { name } }', extensions: persisted(sha256('{ viewer { name } }')) }, 'admin'],
  ['a documentId without trusted documents', { query: '{ viewer { name } }', documentId: 'abc' }, 'admin'],
  ['a parameter Yoga does not know', { query: '{ viewer { name } }', operation: 'x' }, 'admin'],
  ['extensions that are not an object', { query: '{ viewer { name } }', extensions: 'x' }, 'admin'],
  ['other extensions are ignored', { query: '{ viewer { name } }', extensions: { tracing: true } }, 'admin'],
  ['@defer with a JSON-only Accept (406)', { query: DEFERRED }, 'admin'],
  ['@defer with JSON first, multipart/mixed accepted too', { query: DEFERRED }, 'admin', 'application/json, multipart/mixed'],
  ['@defer(if: false) answers whole', { query: DEFERRED.replace('@defer', '@defer(if: false)') }, 'admin'],
  ['@stream', { query: '{ models @stream(initialCount: 0) { name } }' }, 'admin', 'application/json, multipart/mixed'],
  ['SSE: chatStream', { query: STREAM, variables: { m: 'echo', c: 'one two three' } }, 'invoke', SSE],
  ['SSE: chatStream again (a validated document)', { query: STREAM, variables: { m: 'echo', c: 'four five' } }, 'invoke', SSE],
  ['SSE: chatStream with text/event-stream listed first of several', { query: STREAM, variables: { m: 'echo', c: 'six' } }, 'invoke', `${SSE}, application/json`],
  ['SSE: a stream that fails midway (masked)', { query: STREAM, variables: { m: 'echo', c: 'explode' } }, 'invoke', SSE],
  ['SSE: unknown model', { query: STREAM, variables: { m: 'nope', c: 'hi' } }, 'invoke', SSE],
  ['SSE: deprecated model', { query: STREAM, variables: { m: 'legacy', c: 'hi' } }, 'invoke', SSE],
  ['SSE: no key', { query: STREAM, variables: { m: 'echo', c: 'hi' } }, 'none', SSE],
  ['SSE: an unknown key', { query: STREAM, variables: { m: 'echo', c: 'hi' } }, 'bad', SSE],
  ['SSE: missing scope', { query: STREAM, variables: { m: 'echo', c: 'hi' } }, 'admin', SSE],
  ['SSE: a variable that does not coerce', { query: STREAM, variables: { m: 1, c: null } }, 'invoke', SSE],
  ['SSE: a subscription that does not validate', { query: 'subscription { chatStream(input: { model: "echo", messages: [] }) { nope } }' }, 'invoke', SSE],
  ['SSE: a document that does not parse', { query: 'subscription { chatStream(' }, 'invoke', SSE],
  ['SSE: a query asked for as an event stream', { query: '{ viewer { name } }' }, 'admin', SSE],
  ['SSE: a subscription asked for as JSON (406)', { query: STREAM, variables: { m: 'echo', c: 'hi' } }, 'invoke', 'application/json'],
];

interface Gw {
  gw: TestGateway;
  invoke: string;
}

async function start(env: Record<string, string>, plugins?: Plugin[]): Promise<Gw> {
  const gw = await startGateway(env, { adapters: { ECHO: explodingEcho() }, yogaPlugins: plugins });
  const created = await gw.gql(`mutation { createModel(input: { name: "legacy", status: DEPRECATED, targets: [{ provider: "echo", upstreamModel: "echo" }] }) { name } }`);
  expect(created.errors).toBeUndefined();
  return { gw, invoke: (await gw.createKey({ name: 'invoker', scopes: ['INVOKE'] })).secret };
}

async function answer(
  { gw, invoke }: Gw,
  body: unknown,
  key: string,
  requestId: string,
  accept = 'application/graphql-response+json',
): Promise<{ status: number; type: string | null; body: string }> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept, 'x-request-id': requestId };
  const secret = key === 'admin' ? gw.adminKey : key === 'invoke' ? invoke : key === 'bad' ? 'gw_not_a_key_0000000000000000000000' : undefined;
  if (secret) headers.authorization = `Bearer ${secret}`;
  const res = await fetch(`${gw.url}/graphql`, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
}

describe('GraphQL fast path: parity', () => {
  let fast: Gw;
  let yoga: Gw;
  beforeAll(async () => {
    [fast, yoga] = await Promise.all([start({}), start({ GRAPHQL_FAST_PATH: 'false' })]);
  });
  afterAll(async () => {
    await Promise.all([fast?.gw.stop(), yoga?.gw.stop()]);
  });

  it('the fast path is really taken on one and not on the other', () => {
    expect(fast.gw.app.yoga.fastPath).toBeDefined();
    expect(yoga.gw.app.yoga.fastPath).toBeUndefined();
  });

  it.each(CORPUS)('%s: the same status, content type and bytes', async (name, body, key, accept) => {
    const id = `parity-${name.replace(/\W+/g, '-')}`;
    const a = await answer(fast, body, key, id, accept);
    const b = await answer(yoga, body, key, id, accept);
    expect(a).toEqual(b);
    // Yoga's 406 has no body; every other answer has one
    expect(a.body.length).toBeGreaterThan(a.status === 406 ? -1 : 10);
  });

  it('the persisted and incremental answers are what they should be (the corpus compared them both ways)', async () => {
    const unknown = await answer(fast, { extensions: persisted(sha256('{ never }')) }, 'admin', 'apq-unknown');
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.body).errors[0].extensions.code).toBe('PERSISTED_QUERY_NOT_FOUND');
    const known = await answer(fast, { extensions: persisted(sha256(APQ_QUERY)) }, 'admin', 'apq-known');
    expect(JSON.parse(known.body).data.viewer.name).toBe('GATEWAY_ADMIN_KEY');
    const deferred = await answer(fast, { query: DEFERRED }, 'admin', 'deferred', 'application/json, multipart/mixed');
    expect(deferred.type).toMatch(/^multipart\/mixed/);
    expect(deferred.body).toContain('"hasNext":false');
  });

  it('the masked failure hides its message and is logged on both', async () => {
    for (const g of [fast, yoga]) {
      const r = await answer(g, { query: CHAT, variables: { m: 'echo', c: 'explode' } }, 'invoke', 'masked');
      expect(r.body).toContain('Unexpected error.');
      expect(r.body).not.toContain('/var/secret');
      expect(g.gw.logs.some((l) => l.includes('/var/secret'))).toBe(true);
    }
  });
});

describe('GraphQL fast path: parity with trusted documents', () => {
  let on: Gw;
  let off: Gw;
  async function startTrusted(env: Record<string, string>): Promise<Gw> {
    const gw = await startGateway({ GRAPHQL_TRUSTED_DOCUMENTS: manifest, ...env }, { adapters: { ECHO: explodingEcho() } });
    const res = await fetch(`${gw.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${gw.adminKey}` },
      body: JSON.stringify({ documentId: sha256(CREATE_KEY), variables: { input: { name: 'invoker', scopes: ['INVOKE'] } } }),
    });
    const body = (await res.json()) as { data?: { createApiKey: { secret: string } } };
    expect(body.data, JSON.stringify(body)).toBeDefined();
    return { gw, invoke: body.data!.createApiKey.secret };
  }
  beforeAll(async () => {
    [on, off] = await Promise.all([startTrusted({}), startTrusted({ GRAPHQL_FAST_PATH: 'false' })]);
  });
  afterAll(async () => {
    await Promise.all([on?.gw.stop(), off?.gw.stop()]);
  });

  const TRUSTED_CORPUS: Array<[string, unknown, string]> = [
    ['a listed document by documentId', { documentId: sha256(TRUSTED_QUERY) }, 'invoke'],
    ['a listed document by the APQ hash', { extensions: persisted(sha256(TRUSTED_QUERY)) }, 'admin'],
    ['an unlisted id', { documentId: sha256('{ models { name } }') }, 'admin'],
    ['a listed text', { query: TRUSTED_QUERY }, 'admin'],
    ['an arbitrary text', { query: '{ apiKeys { name } }' }, 'admin'],
    ['neither text nor id', { variables: {} }, 'admin'],
    ['a listed id without a key', { documentId: sha256(TRUSTED_QUERY) }, 'none'],
  ];

  it.each(TRUSTED_CORPUS)('%s: the same status, content type and bytes with GRAPHQL_FAST_PATH on and off', async (name, body, key) => {
    const id = `trusted-${name.replace(/\W+/g, '-')}`;
    const a = await answer(on, body, key, id);
    const b = await answer(off, body, key, id);
    expect(a).toEqual(b);
    expect(a.body.length).toBeGreaterThan(10);
  });

  it('runs the listed document and refuses text', async () => {
    expect(JSON.parse((await answer(on, { documentId: sha256(TRUSTED_QUERY) }, 'invoke', 'run')).body).data.viewer.name).toBe('invoker');
    expect(JSON.parse((await answer(on, { query: TRUSTED_QUERY }, 'admin', 'text')).body).errors[0].extensions.code).toBe('PERSISTED_QUERY_ONLY');
  });
});

describe('GraphQL fast path: an unknown plugin', () => {
  const stamp: Plugin = {
    onResultProcess({ result, setResult }) {
      if (result && typeof result === 'object' && !Array.isArray(result) && !(Symbol.asyncIterator in result)) {
        setResult({ ...result, extensions: { ...(result as { extensions?: object }).extensions, stamped: true } });
      }
    },
  };
  let on: Gw;
  let off: Gw;
  beforeAll(async () => {
    [on, off] = await Promise.all([start({}, [stamp]), start({ GRAPHQL_FAST_PATH: 'false' }, [stamp])]);
  });
  afterAll(async () => {
    await Promise.all([on?.gw.stop(), off?.gw.stop()]);
  });

  it('changes a plain JSON POST answer, the same way with the fast path configured on or off', async () => {
    for (const [, body, key] of CORPUS.slice(0, 3)) {
      const a = await answer(on, body, key, 'plugin');
      const b = await answer(off, body, key, 'plugin');
      expect(JSON.parse(a.body).extensions?.stamped).toBe(true);
      expect(a).toEqual(b);
    }
  });
});
