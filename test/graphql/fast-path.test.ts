/*
 * The GraphQL fast path (plain JSON POSTs run without the Fetch-API layer) may never change an answer. It runs only
 * for the gateway's own plugins, can be switched off (GRAPHQL_FAST_PATH=false), and the same corpus of operations
 * is answered byte for byte the same with it on and off: successes, field errors, auth failures, warnings, masked
 * errors, partial data, variable and validation errors. A plugin it does not know of turns it off, so a
 * result-processing plugin changes the answer on every request.
 */
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

describe('GraphQL fast path: when it runs', () => {
  it('is on for the gateway as built', () => {
    expect(createGatewayYoga(testConfig(), services).fastPath).toBeDefined();
  });
  it('is off with GRAPHQL_FAST_PATH=false, and with any plugin beyond the gateway own', () => {
    expect(createGatewayYoga(testConfig({ GRAPHQL_FAST_PATH: 'false' }), services).fastPath).toBeUndefined();
    expect(createGatewayYoga(testConfig(), services, { plugins: [{ onResultProcess() {} }] }).fastPath).toBeUndefined();
    expect(createGatewayYoga(testConfig(), services, { plugins: [{ onRequest() {} }] }).fastPath).toBeUndefined();
  });
});

/** The echo model, except that a message "explode" makes it throw a plain Error (an unexpected failure, masked). */
function explodingEcho(): ProviderAdapter {
  const echo = createEchoAdapter();
  return {
    ...echo,
    chat: (req, opts) => (req.messages.some((m) => m.content === 'explode') ? Promise.reject(new Error('internal detail: /var/secret')) : echo.chat(req, opts)),
  };
}

const CHAT = `mutation($m: String!, $c: String!) { chat(input: { model: $m, messages: [{ role: USER, content: $c }] }) {
  message { content } finishReason model provider usage { promptTokens completionTokens totalTokens costUsd } } }`;

/** [name, body, key] — key 'admin', 'invoke', 'none' or 'bad'. Only fields that do not change between two runs are selected. */
const CORPUS: Array<[string, unknown, string]> = [
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

async function answer({ gw, invoke }: Gw, body: unknown, key: string, requestId: string): Promise<{ status: number; type: string | null; body: string }> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/graphql-response+json', 'x-request-id': requestId };
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

  it.each(CORPUS)('%s: the same status, content type and bytes', async (name, body, key) => {
    const id = `parity-${name.replace(/\W+/g, '-')}`;
    const a = await answer(fast, body, key, id);
    const b = await answer(yoga, body, key, id);
    expect(a).toEqual(b);
    expect(a.body.length).toBeGreaterThan(10);
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
