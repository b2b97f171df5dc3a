/* Query hardening: graphql-armor limits on every transport, body size (announced and chunked), introspection switch,
 * no field suggestions, CORS; refusals are fast, clear and counted, and other clients are served meanwhile. */
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../../src/config.js';
import { createGatewayYoga } from '../../src/http/yoga.js';
import type { AnyJson } from '../kit/json.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { sseCollect } from '../kit/sse.js';
import { createWsClient, wsCollect } from '../kit/ws.js';
import { metric, scrape } from './kit.js';

// every one of these is otherwise a valid operation: only the limit refuses it
const DEEP = `{ __type(name: "Query") { fields { type { ${'ofType { '.repeat(10)} name ${'} '.repeat(10)} } } } }`; // depth 14 > 10
const ALIASES = `{ ${Array.from({ length: 16 }, (_, i) => `a${i}: viewer { name }`).join(' ')} }`; // 16 > 15 (armor never counts __typename aliases)
const DIRECTIVES = `{ ${'__typename @include(if: true) '.repeat(21)}}`; // 21 > 20
const TOKENS = `{ ${'__typename '.repeat(2500)}}`; // 2502 > 2000
const COST = '{ usage(first: 5000) { edges { node { id model } } } }'; // 81,250 > 50,000
/** Just under the 2 MiB body limit: parsing would be the expensive part, the token limit cuts it off early. */
const OVERSIZED = `{ viewer { ${'name '.repeat(400_000)}} }`;

const LIMITS: Array<[string, string, RegExp]> = [
  ['maxDepth', DEEP, /depth limit of 10 exceeded, found 14/],
  ['maxAliases', ALIASES, /Aliases limit of 15 exceeded, found 16/],
  ['maxDirectives', DIRECTIVES, /Directives limit of 20 exceeded, found 21/],
  ['maxTokens', TOKENS, /Token limit of 2000 exceeded/],
  ['costLimit', COST, /Cost limit of 50000 exceeded, found 81250/],
];

describe('query hardening', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway();
  });
  afterAll(() => gw?.stop());

  it('accepts the operations legitimate clients send (a full usage page, the catalogue, introspection)', async () => {
    const page = `{ usage(first: 500) { edges { cursor node { id createdAt model provider upstreamModel promptTokens completionTokens costUsd latencyMs ttftMs status errorCode streamed attempts metadata apiKey { id name } } } pageInfo { hasNextPage endCursor } } }`;
    const pageRes = await gw.gql(page);
    expect(pageRes.errors, JSON.stringify(pageRes.errors)).toBeUndefined();
    const models = `{ models { id name status strategy fallbacks targets { upstreamModel weight priority healthy provider { id name kind baseUrl hasCredential } } } }`;
    expect((await gw.gql(models)).errors).toBeUndefined();
    const { getIntrospectionQuery } = await import('graphql');
    const intro = await gw.gql(getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, inputValueDeprecation: true }));
    expect(intro.errors).toBeUndefined();
    expect(intro.data.__schema.queryType.name).toBe('Query');
  });

  it.each(LIMITS)('refuses an operation over %s with one clear BAD_USER_INPUT error naming the limit', async (rule, query, message) => {
    const res = await gw.gql(query);
    expect(res.status).toBe(400);
    expect(res.data).toBeUndefined();
    expect(res.errors).toHaveLength(1);
    expect(res.errors![0].message).toMatch(message);
    expect(res.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: rule, requestId: res.headers.get('x-request-id') });
  });

  it('refuses the same way over websockets and SSE', async () => {
    const ws = createWsClient(gw.url, gw.adminKey);
    try {
      for (const [rule, query, message] of LIMITS) {
        const errors = await wsCollect(ws, query).then(
          () => expect.unreachable(`${rule} must be refused over websockets`),
          (e) => e as Array<{ message: string; extensions?: Record<string, unknown> }>,
        );
        expect(errors).toHaveLength(1);
        expect(errors[0].message).toMatch(message);
        expect(errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: rule });
      }
    } finally {
      await ws.dispose();
    }
    const deepSubscription = `subscription { usageRecorded { apiKey { ${'id '.repeat(1)} } ${'__typename '.repeat(2100)} } }`;
    const sse = await sseCollect(gw.url, deepSubscription, undefined, gw.adminKey);
    expect(sse).toHaveLength(1);
    expect(sse[0].errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'maxTokens' });
  });

  it('hides field suggestions', async () => {
    const res = await gw.gql('{ viewr { name } }');
    expect(res.errors).toHaveLength(1);
    expect(res.errors![0].extensions?.code).toBe('BAD_USER_INPUT');
    expect(res.errors![0].message).toContain('Cannot query field "viewr"');
    expect(res.errors![0].message).not.toMatch(/Did you mean|"viewer"/);
  });

  it('counts every refusal by rule in /metrics, repeated documents (served from the parse/validation caches) included', async () => {
    const before = await scrape(gw);
    for (const [, query] of LIMITS) await gw.gql(query);
    await gw.gql(DEEP);
    await gw.gql(TOKENS);
    const ws = createWsClient(gw.url, gw.adminKey);
    await wsCollect(ws, ALIASES).catch(() => {});
    await ws.dispose();
    await gw.gql('{ viewer { name } }');
    const after = await scrape(gw);
    const d = (rule?: string) => metric(after, 'gateway_operations_rejected_total', rule ? { rule } : {}) - metric(before, 'gateway_operations_rejected_total', rule ? { rule } : {});
    expect(d('maxDepth')).toBe(2);
    expect(d('maxTokens')).toBe(2);
    expect(d('maxAliases')).toBe(2);
    expect(d('maxDirectives')).toBe(1);
    expect(d('costLimit')).toBe(1);
    expect(d()).toBe(8);
  });

  it('refuses bodies over 2 MiB, announced (content-length) or chunked, with 413 and BAD_USER_INPUT', async () => {
    const big = JSON.stringify({ query: `{ viewer { ${'name '.repeat(450_000)}} }` });
    expect(big.length).toBeGreaterThan(2 * 1024 * 1024);
    const announced = await fetch(`${gw.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${gw.adminKey}` }, body: big });
    expect(announced.status).toBe(413);
    expect((await announced.json()).errors[0].extensions.code).toBe('BAD_USER_INPUT');

    const chunked = await postChunked(`${gw.url}/graphql`, big, gw.adminKey);
    expect(chunked.sentChunked).toBe(true);
    expect(chunked.status).toBe(413);
    const body = JSON.parse(chunked.body);
    expect(body.errors).toHaveLength(1);
    expect(body.errors[0].message).toBe('Request body larger than 2097152 bytes');
    expect(body.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', requestId: chunked.headers['x-request-id'] });

    // a chunked body under the limit is served as usual
    const small = await postChunked(`${gw.url}/graphql`, JSON.stringify({ query: '{ viewer { name } }' }), gw.adminKey);
    expect(small.status).toBe(200);
    expect(JSON.parse(small.body).data.viewer.name).toEqual(expect.any(String));
  });

  it('answers other clients at once while deep, wide, aliased and oversized operations are being refused', async () => {
    // the abusive client is another process, as it would be: its own JSON and socket work does not slow this one
    const attacker = spawnAttacker(gw.url, gw.adminKey, [
      ['oversized', 4, OVERSIZED.length],
      ['tooLarge', 2, 0],
      [DEEP, 10, 0],
      [ALIASES, 10, 0],
      [TOKENS, 10, 0],
      [COST, 4, 0],
    ]);
    await attacker.started;
    // meanwhile, a normal client
    const normal: number[] = [];
    for (let i = 0; i < 5; i++) {
      const s = Date.now();
      const res = await gw.gql('{ viewer { name } }');
      expect(res.data.viewer.name).toEqual(expect.any(String));
      normal.push(Date.now() - s);
    }
    const results = await attacker.results;
    expect(results).toHaveLength(40);
    for (const r of results) {
      expect([400, 413]).toContain(r.status);
      expect(r.hasData).toBe(false);
      expect(r.code).toBe('BAD_USER_INPUT');
    }
    expect(results.filter((r) => r.status === 413)).toHaveLength(2);
    // refused quickly, never by a timeout; the normal client never waited behind them. The bounds are generous for a
    // loaded CI machine, yet far below what they guard against: without the token limit, the server spends ~4 s
    // parsing and validating each of these distinct 400,000-field documents, and the normal client waits behind them.
    expect(Math.max(...results.map((r) => r.ms))).toBeLessThan(15_000);
    expect(Math.max(...normal)).toBeLessThan(3000);
  });

  it('serves introspection by default; GRAPHQL_INTROSPECTION=false refuses it (but not __typename)', async () => {
    const on = await gw.gql('{ __schema { queryType { name } } }');
    expect(on.data.__schema.queryType.name).toBe('Query');

    const off = createGatewayYoga(testConfig({ GRAPHQL_INTROSPECTION: 'false' }), gw.app.services);
    const ask = async (query: string) => {
      const res = await off.yoga.fetch('http://gw/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${gw.adminKey}` },
        body: JSON.stringify({ query }),
      });
      return (await res.json()) as { data?: AnyJson; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };
    };
    for (const q of ['{ __schema { queryType { name } } }', '{ __type(name: "Query") { name } }']) {
      const res = await ask(q);
      expect(res.data).toBeUndefined();
      expect(res.errors?.[0].message).toMatch(/introspection/i);
      expect(res.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    }
    expect((await ask('{ __typename viewer { name } }')).data).toMatchObject({ __typename: 'Query', viewer: { name: expect.any(String) } });
  });
});

describe('CORS', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway();
  });
  afterAll(() => gw?.stop());

  const preflight = (fetchFn: typeof fetch, base: string, origin: string) =>
    fetchFn(`${base}/graphql`, {
      method: 'OPTIONS',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });

  it('CORS_ORIGIN unset: any origin, no credentials; the request id is readable by the page', async () => {
    const res = await preflight(fetch, gw.url, 'https://anywhere.example');
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://anywhere.example');
    expect(res.headers.get('access-control-allow-methods')).toContain('POST');
    expect(res.headers.get('access-control-allow-headers')).toMatch(/authorization/i);
    expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    const actual = await fetch(`${gw.url}/graphql?query=%7B__typename%7D`, { headers: { origin: 'https://anywhere.example' } });
    expect(actual.headers.get('access-control-expose-headers')).toContain('x-request-id');
  });

  it('CORS_ORIGIN=list: only those origins; "none": no CORS headers at all', async () => {
    const listed = createGatewayYoga(testConfig({ CORS_ORIGIN: 'https://app.example, https://admin.example' }), gw.app.services);
    const ok = await preflight(listed.yoga.fetch as typeof fetch, 'http://gw', 'https://admin.example');
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://admin.example');
    expect(ok.headers.get('access-control-allow-headers')).toMatch(/authorization/i);
    expect(ok.headers.get('access-control-max-age')).toBe('600');
    const evil = await preflight(listed.yoga.fetch as typeof fetch, 'http://gw', 'https://evil.example');
    expect(evil.headers.get('access-control-allow-origin')).toBe('null');

    const none = createGatewayYoga(testConfig({ CORS_ORIGIN: 'none' }), gw.app.services);
    const res = await preflight(none.yoga.fetch as typeof fetch, 'http://gw', 'https://app.example');
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });
});

/** POST with transfer-encoding: chunked (no content-length), 64 KiB at a time. */
function postChunked(url: string, body: string, key: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string; sentChunked: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, 'transfer-encoding': 'chunked' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), sentChunked: req.getHeader('transfer-encoding') === 'chunked' }));
      res.on('error', reject);
    });
    // the server may answer (413) and close before the whole body is written
    req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' || e.code === 'ECONNRESET' ? undefined : reject(e)));
    const buf = Buffer.from(body);
    let at = 0;
    const pump = () => {
      while (at < buf.length) {
        const piece = buf.subarray(at, at + 65536);
        at += piece.length;
        if (!req.write(piece)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

interface AttackResult {
  status: number;
  code: string | null;
  hasData: boolean;
  ms: number;
}

/**
 * Fires the given operations at once from a child process. `spec`: [query | 'oversized' | 'tooLarge', count, _].
 * 'oversized' is just under the body limit, 'tooLarge' just over it (both built in the child: too big for argv).
 */
function spawnAttacker(url: string, key: string, spec: Array<[string, number, number]>): { started: Promise<void>; results: Promise<AttackResult[]> } {
  const script = `
    const [url, key, spec] = JSON.parse(process.argv[1]);
    // each big document differs (a comment), so no parse cache helps the server
    const big = (n, i) => '# ' + i + ' ' + Math.random() + '\\n{ viewer { ' + 'name '.repeat(n) + '} }';
    const queries = spec.flatMap(([q, n]) => Array.from({ length: n }, (_, i) => q === 'oversized' ? big(400000, i) : q === 'tooLarge' ? big(450000, i) : q));
    const bodies = queries.map((query) => JSON.stringify({ query }));
    const t0 = Date.now();
    const all = bodies.map(async (body) => {
      const res = await fetch(url + '/graphql', { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: 'Bearer ' + key }, body });
      const json = await res.json();
      return { status: res.status, code: json.errors?.[0]?.extensions?.code ?? null, hasData: json.data != null, ms: Date.now() - t0 };
    });
    process.stdout.write('started\\n');
    Promise.all(all).then((r) => process.stdout.write(JSON.stringify(r) + '\\n'), (e) => { console.error(e); process.exit(1); });
  `;
  const child = spawn(process.execPath, ['-e', script, JSON.stringify([url, key, spec])], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  let onStarted: () => void = () => {};
  let onFailed: (e: Error) => void = () => {};
  const started = new Promise<void>((resolve, reject) => {
    onStarted = resolve;
    onFailed = reject;
  });
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString('utf8');
    if (out.startsWith('started\n')) onStarted();
  });
  const results = new Promise<AttackResult[]>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0) return resolve(JSON.parse(out.slice('started\n'.length)));
      const e = new Error(`attacker exited with ${code}`);
      onFailed(e);
      reject(e);
    });
  });
  return { started, results };
}
