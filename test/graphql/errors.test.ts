/* Bad input over HTTP gets the right extensions.code (never a 500, never a hang); unexpected errors are masked. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GraphQLFormattedError } from 'graphql';
import type { AnyJson } from '../kit/json.js';
import type { ProviderAdapter } from '../../src/providers/types.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { createWsClient, wsCollect } from '../kit/ws.js';
import { CHAT, chatInput, expectCode, ok, usageOf } from './helpers.js';

const INTERNAL_DETAIL = 'select * from api_keys where secret_hash = $1 -- internal-detail-91c7';

/** An adapter that fails the way a bug would: a plain Error, not an UpstreamError. */
const brokenAdapter: ProviderAdapter = {
  async chat() {
    throw new Error(INTERNAL_DETAIL);
  },
  // eslint-disable-next-line require-yield
  async *stream() {
    throw new Error(INTERNAL_DETAIL);
  },
};

let gw: TestGateway;
let key: { id: string; secret: string };

beforeAll(async () => {
  gw = await startGateway({}, { adapters: { OPENAI_COMPATIBLE: brokenAdapter } });
  key = await gw.createKey({ name: 'errors', scopes: ['INVOKE', 'READ_USAGE'] });
  ok(await gw.gql('mutation { createProvider(input: { name: "broken", kind: OPENAI_COMPATIBLE, baseUrl: "http://127.0.0.1:9" }) { id } }'));
  ok(await gw.gql('mutation { createModel(input: { name: "broken-model", targets: [{ provider: "broken", upstreamModel: "x" }] }) { id } }'));
});

afterAll(async () => {
  await gw?.stop();
});

interface Raw {
  status: number;
  contentType: string;
  body: AnyJson;
  text: string;
}

/** A raw request that must answer within 5 s. */
async function raw(init: { method?: string; body?: string; headers?: Record<string, string>; path?: string }): Promise<Raw> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/graphql-response+json',
    authorization: `Bearer ${key.secret}`,
    ...init.headers,
  };
  const res = await fetch(`${gw.url}${init.path ?? '/graphql'}`, {
    method: init.method ?? 'POST',
    headers,
    body: init.body,
    signal: AbortSignal.timeout(5000),
  });
  const text = await res.text();
  let body: AnyJson = null;
  try {
    body = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', body, text };
}

function expectRawCode(r: Raw, code: string, status?: number) {
  expect(r.status).toBeLessThan(500);
  if (status) expect(r.status).toBe(status);
  expect(r.body?.errors?.map((e: GraphQLFormattedError) => e.extensions?.code), r.text).toEqual([code]);
}

const q = (query: string, variables?: Record<string, unknown>) => JSON.stringify({ query, variables });

describe('request errors over HTTP', () => {
  it('malformed JSON is BAD_USER_INPUT with 400', async () => {
    expectRawCode(await raw({ body: '{"query": ' }), 'BAD_USER_INPUT', 400);
    expectRawCode(await raw({ body: '{"query": "{ viewer { id } }"' }), 'BAD_USER_INPUT', 400);
    expectRawCode(await raw({ body: '' }), 'BAD_USER_INPUT', 400);
    expectRawCode(await raw({ body: 'not json at all', headers: { accept: 'application/json' } }), 'BAD_USER_INPUT', 400);
  });

  it('a JSON body that is not a GraphQL request is BAD_USER_INPUT', async () => {
    for (const body of ['null', '42', '"query"', '{}', '{"query": 5}', '{"query": "{ viewer { id } }", "variables": "x"}']) {
      const r = await raw({ body });
      expect(r.status, body).toBeGreaterThanOrEqual(400);
      expect(r.status, body).toBeLessThan(500);
      expect(r.body?.errors?.[0]?.extensions?.code, `${body} → ${r.text}`).toBe('BAD_USER_INPUT');
    }
  });

  it('a GraphQL syntax error is BAD_USER_INPUT', async () => {
    expectRawCode(await raw({ body: q('{ viewer { ') }), 'BAD_USER_INPUT', 400);
  });

  it('an unknown field is BAD_USER_INPUT (400 for graphql-response+json, 200 for application/json)', async () => {
    const r = await raw({ body: q('{ viewer { id nope } }') });
    expectRawCode(r, 'BAD_USER_INPUT', 400);
    expect(r.body.errors[0].message).toContain('nope');
    expectRawCode(await raw({ body: q('{ nope }'), headers: { accept: 'application/json' } }), 'BAD_USER_INPUT', 200);
    expectRawCode(
      await raw({ body: q('mutation($i: ChatInput!) { chat(input: $i) { id } }', { i: { ...chatInput('x'), unknownField: 1 } }) }),
      'BAD_USER_INPUT',
      400,
    );
  });

  it('a wrong variable type is BAD_USER_INPUT', async () => {
    const r = await raw({ body: q('mutation($i: ChatInput!) { chat(input: $i) { id } }', { i: { model: 'echo', messages: [{ role: 'USER', content: 'x' }], maxTokens: 'many' } }) });
    expectRawCode(r, 'BAD_USER_INPUT', 400);
    expect(r.body.errors[0].message).toContain('maxTokens');
    expectRawCode(await raw({ body: q('query($n: String!) { model(name: $n) { id } }', { n: 5 }) }), 'BAD_USER_INPUT', 400);
    expectRawCode(await raw({ body: q('mutation { chat(input: { model: "echo", messages: [{ role: WIZARD, content: "x" }] }) { id } }') }), 'BAD_USER_INPUT', 400);
  });

  it('a missing required argument or variable is BAD_USER_INPUT', async () => {
    expectRawCode(await raw({ body: q('{ model { id } }') }), 'BAD_USER_INPUT', 400);
    expectRawCode(await raw({ body: q('query($n: String!) { model(name: $n) { id } }') }), 'BAD_USER_INPUT', 400);
    expectRawCode(await raw({ body: q('mutation { chat(input: { model: "echo" }) { id } }') }), 'BAD_USER_INPUT', 400);
  });

  it('a mutation over GET is refused with 405, and an unsupported media type with 415', async () => {
    const get = await raw({
      method: 'GET',
      path: `/graphql?query=${encodeURIComponent('mutation { deleteModel(name: "echo") }')}`,
      headers: { accept: 'application/json' },
    });
    expectRawCode(get, 'BAD_USER_INPUT', 405);
    expect(ok(await gw.gql<{ model: { name: string } }>('{ model(name: "echo") { name } }')).model.name).toBe('echo');

    const plain = await raw({ body: '{ viewer { id } }', headers: { 'content-type': 'text/plain' } });
    expect(plain.status).toBe(415);
  });

  it('a body over the size limit is refused with 413 BAD_USER_INPUT before it is read', async () => {
    const r = await raw({ body: q('{ viewer { id } }', { pad: 'x'.repeat(3 * 1024 * 1024) }) });
    expectRawCode(r, 'BAD_USER_INPUT', 413);
  });
});

describe('invalid arguments name the field', () => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['maxTokens 0', { maxTokens: 0 }, 'input.maxTokens'],
    ['maxTokens negative', { maxTokens: -5 }, 'input.maxTokens'],
    ['temperature above 2', { temperature: 2.5 }, 'input.temperature'],
    ['temperature negative', { temperature: -0.1 }, 'input.temperature'],
    ['topP 0', { topP: 0 }, 'input.topP'],
    ['empty model', { model: '  ' }, 'input.model'],
    ['no messages', { messages: [] }, 'input.messages'],
    ['message without content', { messages: [{ role: 'USER' }] }, 'input.messages[0].content'],
    ['TOOL message without toolCallId', { messages: [{ role: 'TOOL', content: 'x' }] }, 'input.messages[0].toolCallId'],
    ['bad tool name', { tools: [{ name: 'has space' }] }, 'input.tools[0].name'],
    ['toolChoice naming no tool', { toolChoice: 'lookup' }, 'input.toolChoice'],
    ['metadata not an object', { metadata: [1, 2] }, 'input.metadata'],
    ['empty stop sequence', { stop: [''] }, 'input.stop'],
  ];

  it.each(cases)('%s %j → BAD_USER_INPUT on %s', async (_what, patch, field) => {
    const res = await gw.gql(CHAT, { input: { ...chatInput('hello'), ...patch } }, key.secret);
    expectCode(res, 'BAD_USER_INPUT', field);
    expect(res.data ?? null).toBeNull();
  });
});

describe('unexpected errors', () => {
  it('are masked: a generic message, INTERNAL_SERVER_ERROR, no internals, no stack; logged server-side', async () => {
    const res = await gw.gql(CHAT, { input: chatInput('boom', { model: 'broken-model', metadata: { case: 'masked' } }) }, key.secret);
    expect(res.status).toBeLessThan(600);
    expect(res.errors).toHaveLength(1);
    const err = res.errors![0];
    expect(err.message).toBe('Unexpected error.');
    expect(err.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
    const body = JSON.stringify(res);
    expect(body).not.toContain('internal-detail');
    expect(body).not.toContain('api_keys');
    expect(body).not.toMatch(/\bat .*\.(ts|js):\d+/);
    expect(body).not.toContain('stack');
    expect(gw.logs.join('')).toContain('internal-detail-91c7');
  });

  it('a NUL byte Postgres cannot store never reaches the database: BAD_USER_INPUT naming the field (database errors: test/ops/error-logs.test.ts)', async () => {
    const res = await gw.gql('mutation($n: String!) { createApiKey(input: { name: $n }) { secret } }', { n: 'nul\u0000byte' });
    expectCode(res, 'BAD_USER_INPUT', 'input.name');
    expect(JSON.stringify(res)).not.toMatch(/insert into|api_keys|0x00|invalid byte/i);
  });

  it('still leave exactly one usage record (status ERROR)', async () => {
    const records = await usageOf(gw, key.id, { model: 'broken-model' });
    expect(records.filter((r) => r.metadata?.case === 'masked')).toHaveLength(1);
    expect(records[0]).toMatchObject({ status: 'ERROR', model: 'broken-model' });
    expect(records[0].errorCode).toBeTruthy();
  });

  it('are masked over websockets as well', async () => {
    const client = createWsClient(gw.url, key.secret);
    try {
      const [chat] = await wsCollect(client, CHAT, { input: chatInput('boom', { model: 'broken-model' }) });
      expect(chat.errors?.[0].message).toBe('Unexpected error.');
      expect(JSON.stringify(chat)).not.toContain('internal-detail');
      // a failed stream ends with a graphql-ws error message (or a result with errors): either way coded, nothing internal
      const outcome = await wsCollect(client, 'subscription($i: ChatInput!) { chatStream(input: $i) { delta finishReason } }', {
        i: chatInput('boom', { model: 'broken-model' }),
      }).then(
        (results) => results.flatMap((r) => r.errors ?? []),
        (errors: unknown) => (Array.isArray(errors) ? errors : [errors]) as GraphQLFormattedError[],
      );
      expect(outcome.length).toBeGreaterThan(0);
      expect(JSON.stringify(outcome)).not.toContain('internal-detail');
      expect(outcome.map((e) => e.extensions?.code)).toEqual(['UPSTREAM_ERROR']);
    } finally {
      await client.dispose();
    }
  });
});

describe('never a hang', () => {
  it('fifty bad requests of every kind in parallel all answer below 500, quickly', async () => {
    const bodies = ['{', '', 'null', q('{ nope }'), q('{ model { id } }'), q('{ viewer { id } }'), q(CHAT, { input: chatInput('x', { maxTokens: 0 }) })];
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => raw({ body: bodies[i % bodies.length] })));
    expect(Date.now() - started).toBeLessThan(5000);
    for (const r of results) {
      expect(r.status).toBeLessThan(500);
      expect(r.body?.errors?.[0]?.extensions?.code ?? r.body?.data?.viewer?.id, r.text).toBeTruthy();
    }
    // the server is still fine afterwards
    expect(ok(await gw.gql<{ viewer: { id: string } }>('{ viewer { id } }', {}, key.secret)).viewer.id).toBe(key.id);
  });
});

describe('a stream whose adapter stalls and ignores its abort signal', () => {
  it('ends with UPSTREAM_TIMEOUT after the model timeout (never hangs) and records one ERROR usage record', async () => {
    const deaf: ProviderAdapter = {
      async chat() {
        throw new Error('not used');
      },
      async *stream() {
        yield { delta: 'first ', toolCalls: null, finishReason: null, usage: null };
        // never resolves and never looks at the signal
        await new Promise(() => {});
      },
    } as unknown as ProviderAdapter;
    const g = await startGateway({}, { adapters: { OPENAI_COMPATIBLE: deaf } });
    try {
      const k = await g.createKey({ name: 'deaf', scopes: ['INVOKE', 'READ_USAGE'] });
      ok(await g.gql('mutation { createProvider(input: { name: "deaf", kind: OPENAI_COMPATIBLE, baseUrl: "http://127.0.0.1:9" }) { id } }'));
      ok(await g.gql('mutation { createModel(input: { name: "deaf-model", timeoutMs: 300, targets: [{ provider: "deaf", upstreamModel: "x" }] }) { id } }'));
      const ws = createWsClient(g.url, k.secret);
      try {
        const t0 = Date.now();
        const deltas: string[] = [];
        const errors = await new Promise<Array<{ extensions?: { code?: string } }>>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('the stalled stream never ended')), 5000);
          ws.subscribe<{ chatStream: { delta: string } }>(
            { query: 'subscription($input: ChatInput!) { chatStream(input: $input) { delta finishReason } }', variables: { input: chatInput('hi', { model: 'deaf-model' }) } },
            {
              next: (r) => void (r.data && deltas.push(r.data.chatStream.delta)),
              error: (e) => {
                clearTimeout(timer);
                resolve(e as Array<{ extensions?: { code?: string } }>);
              },
              complete: () => {
                clearTimeout(timer);
                reject(new Error('completed without the timeout error'));
              },
            },
          );
        });
        expect(Date.now() - t0).toBeLessThan(3000);
        expect(deltas[0]).toBe('first ');
        expect(errors[0]?.extensions?.code).toBe('UPSTREAM_TIMEOUT');
      } finally {
        await ws.dispose();
      }
      await g.flushUsage();
      const records = await usageOf(g, k.id);
      expect(records).toHaveLength(1);
      expect(records[0]).toMatchObject({ status: 'ERROR', errorCode: 'UPSTREAM_TIMEOUT', streamed: true });
    } finally {
      await g.stop();
    }
  });
});
