/*
 * @defer and @stream against a live gateway: multipart/mixed read with fetch, SSE, graphql-ws and Apollo Client.
 * The first payload lacks what was deferred, the later ones bring it, the last says hasNext: false; errors in a
 * deferred part carry their code and request id (masked when unexpected), warnings still reach the client, and a
 * subscription refuses the directives.
 */
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { Defer20220824Handler } from '@apollo/client/incremental';
import { meros } from 'meros/browser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnyJson } from '../kit/json.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { sseCollect } from '../kit/sse.js';
import { createWsClient, wsCollect } from '../kit/ws.js';
import { CHAT_STREAM, chatInput, ok } from './helpers.js';

type Payload = {
  data?: AnyJson;
  errors?: Array<{ message: string; path?: Array<string | number>; extensions?: Record<string, AnyJson> }>;
  extensions?: Record<string, AnyJson>;
  hasNext?: boolean;
  incremental?: Array<{ data?: AnyJson; items?: unknown[]; path: Array<string | number>; label?: string; errors?: Payload['errors'] }>;
};

/** What DASHBOARD selects; usageSummary arrives in a later part. */
type Dashboard = { viewer: { name: string }; usageSummary?: Array<{ key: string; requests: number }> };

/** POSTs with the given Accept and reads a multipart/mixed answer part by part. */
async function multipart(gw: TestGateway, query: string, key: string, requestId?: string): Promise<{ status: number; type: string | null; parts: Payload[] }> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'multipart/mixed', authorization: `Bearer ${key}` };
  if (requestId) headers['x-request-id'] = requestId;
  const res = await fetch(`${gw.url}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query }) });
  const read = await meros<Payload>(res);
  if (read instanceof Response) throw new Error(`not a multipart answer: ${res.status} ${await read.text()}`);
  const parts: Payload[] = [];
  for await (const part of read) {
    expect(part.json).toBe(true);
    parts.push(part.body as Payload);
  }
  return { status: res.status, type: res.headers.get('content-type'), parts };
}

const DASHBOARD = `query Dashboard {
  viewer { name }
  ... @defer(label: "summary") { usageSummary(groupBy: MODEL) { key requests } }
}`;

describe('@defer and @stream', () => {
  let gw: TestGateway;
  let invoke: string;
  /** The next routing decision throws an unexpected error (a bug, for masking). */
  let explode = false;
  beforeAll(async () => {
    gw = await startGateway({}, {
      router: {
        now: () => {
          if (explode) throw new Error('internal detail: /var/secret');
          return Date.now();
        },
      },
    });
    invoke = (await gw.createKey({ name: 'dashboard', scopes: ['INVOKE', 'READ_USAGE'] })).secret;
    for (const name of ['second', 'third']) {
      ok(await gw.gql(`mutation { createModel(input: { name: "${name}", targets: [{ provider: "echo", upstreamModel: "echo" }] }) { name } }`));
    }
    ok(await gw.gql(`mutation { createModel(input: { name: "legacy", status: DEPRECATED, targets: [{ provider: "echo", upstreamModel: "echo" }] }) { name } }`));
    ok(await gw.gql('mutation($input: ChatInput!) { chat(input: $input) { id } }', { input: chatInput('one call to count') }, invoke));
    await gw.flushUsage();
  });
  afterAll(() => gw?.stop());

  /** The dashboard's summary as a plain query answers it (later tests add usage). */
  async function summary(): Promise<Array<{ key: string; requests: number }>> {
    const rows = ok(await gw.gql<{ usageSummary: Array<{ key: string; requests: number }> }>('{ usageSummary(groupBy: MODEL) { key requests } }', undefined, invoke)).usageSummary;
    expect(rows.length).toBeGreaterThan(0);
    return rows;
  }

  it('multipart/mixed: the first part without the deferred usageSummary, then the incremental part with it, hasNext false', async () => {
    const expected = await summary();
    const { status, type, parts } = await multipart(gw, DASHBOARD, invoke);
    expect(status).toBe(200);
    expect(type).toMatch(/^multipart\/mixed/);
    expect(parts.length).toBeGreaterThanOrEqual(2);
    const [first, ...rest] = parts;
    expect(first).toEqual({ data: { viewer: { name: 'dashboard' } }, hasNext: true, extensions: { requestId: expect.any(String) } });
    const incremental = rest.flatMap((p) => p.incremental ?? []);
    expect(incremental).toEqual([{ data: { usageSummary: expected }, path: [], label: 'summary' }]);
    expect(parts.at(-1)!.hasNext).toBe(false);
    expect(rest.slice(0, -1).every((p) => p.hasNext === true)).toBe(true);
  });

  it('SSE: the same payloads as next events, then complete', async () => {
    const expected = await summary();
    const events = await sseCollect(gw.url, DASHBOARD, undefined, invoke);
    expect(events[0]).toEqual({ data: { viewer: { name: 'dashboard' } }, hasNext: true, extensions: { requestId: expect.any(String) } });
    expect(events.slice(1).flatMap((e) => (e as Payload).incremental ?? [])).toEqual([{ data: { usageSummary: expected }, path: [], label: 'summary' }]);
    expect((events.at(-1) as Payload).hasNext).toBe(false);
  });

  it('@stream on a list: the first initialCount items, the rest as items of later parts', async () => {
    const { parts } = await multipart(gw, '{ models @stream(initialCount: 1) { name } }', gw.adminKey);
    const [first, ...rest] = parts;
    expect(first.data.models).toHaveLength(1);
    expect(first.hasNext).toBe(true);
    const streamed = rest.flatMap((p) => p.incremental ?? []);
    expect(streamed.every((i) => i.path[0] === 'models' && Array.isArray(i.items))).toBe(true);
    const names = [...first.data.models, ...streamed.flatMap((i) => i.items!)].map((m) => (m as { name: string }).name);
    const all = ok(await gw.gql<{ models: Array<{ name: string }> }>('{ models { name } }')).models.map((m) => m.name);
    expect(names).toEqual(all);
    expect(names.length).toBeGreaterThanOrEqual(4);
    expect(parts.at(-1)!.hasNext).toBe(false);
  });

  it('@stream on usage edges', async () => {
    const query = '{ usage(first: 10) { edges @stream(initialCount: 0) { node { id model status } } } }';
    const plain = ok(await gw.gql<{ usage: { edges: unknown[] } }>(query.replace('@stream(initialCount: 0)', ''), undefined, invoke)).usage.edges;
    expect(plain.length).toBeGreaterThan(0);
    const { parts } = await multipart(gw, query, invoke);
    expect(parts[0].data.usage.edges).toEqual([]);
    const items = parts.slice(1).flatMap((p) => p.incremental ?? []).flatMap((i) => i.items ?? []);
    expect(items).toEqual(plain);
  });

  it('an error in a deferred part carries its code and the request id', async () => {
    const { parts } = await multipart(gw, '{ viewer { name } ... @defer { apiKeys { name } } }', invoke, 'deferred-forbidden');
    expect(parts[0].data).toEqual({ viewer: { name: 'dashboard' } });
    const [part] = parts.slice(1).flatMap((p) => p.incremental ?? []);
    expect(part.errors?.map((e) => e.extensions)).toEqual([{ code: 'FORBIDDEN', requestId: 'deferred-forbidden' }]);
  });

  it('an unexpected error in a deferred part is masked like any other: no detail, INTERNAL_SERVER_ERROR, logged', async () => {
    explode = true;
    let parts: Payload[];
    try {
      ({ parts } = await multipart(gw, '{ viewer { name } ... @defer { models { name targets { healthy } } } }', gw.adminKey, 'deferred-masked'));
    } finally {
      explode = false;
    }
    const text = JSON.stringify(parts);
    expect(text).not.toContain('/var/secret');
    const errors = parts.slice(1).flatMap((p) => p.incremental ?? []).flatMap((i) => i.errors ?? []);
    expect(errors.length).toBeGreaterThan(0);
    for (const e of errors) {
      expect(e.message).toBe('Unexpected error.');
      // Yoga's server-side hints (`unexpected`, `http`) do not leave the server
      expect(e.extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR', requestId: 'deferred-masked' });
    }
    expect(gw.logs.some((l) => l.includes('/var/secret'))).toBe(true);
  });

  it('a deprecated model in a mutation with a deferred part: the warning reaches the client', async () => {
    const { parts } = await multipart(
      gw,
      'mutation { chat(input: { model: "legacy", messages: [{ role: USER, content: "hi" }] }) { message { content } ... @defer { usage { totalTokens } } } }',
      invoke,
    );
    expect(parts[0].data.chat.message.content).toContain('hi');
    expect(parts[0].data.chat.usage).toBeUndefined();
    expect(parts[0].extensions?.warnings?.join(' ')).toMatch(/legacy/);
    const [deferred] = parts.slice(1).flatMap((p) => p.incremental ?? []);
    expect(deferred).toMatchObject({ data: { usage: { totalTokens: expect.any(Number) } }, path: ['chat'] });
    // its usage record is written before the next test reads the summary
    await gw.flushUsage();
  });

  it('a plain JSON request for a deferred document is refused with 406 (it cannot carry several payloads); @defer(if: false) answers whole', async () => {
    const post = (query: string) =>
      fetch(`${gw.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${invoke}` },
        body: JSON.stringify({ query }),
      });
    expect((await post(DASHBOARD)).status).toBe(406);
    const expected = await summary();
    const whole = await post(DASHBOARD.replace('@defer(label: "summary")', '@defer(if: false)'));
    expect(whole.status).toBe(200);
    expect(await whole.json()).toEqual({ data: { viewer: { name: 'dashboard' }, usageSummary: expected }, extensions: { requestId: whole.headers.get('x-request-id') } });
  });

  it('graphql-ws: one next message a payload', async () => {
    const client = createWsClient(gw.url, invoke);
    try {
      const expected = await summary();
      const results = (await wsCollect(client, DASHBOARD)) as Payload[];
      expect(results[0]).toEqual({ data: { viewer: { name: 'dashboard' } }, hasNext: true, extensions: { requestId: expect.any(String) } });
      expect(results.slice(1).flatMap((r) => r.incremental ?? [])).toEqual([{ data: { usageSummary: expected }, path: [], label: 'summary' }]);
    } finally {
      await client.dispose();
    }
  });

  it('a subscription refuses @defer and @stream (each event is sent whole), over SSE and websockets', async () => {
    const deferred = CHAT_STREAM.replace('delta finishReason', 'delta ... @defer { finishReason }');
    const [sse] = await sseCollect(gw.url, deferred, { input: chatInput('hi') }, invoke);
    expect(sse.errors?.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    expect(sse.errors?.[0].message).toContain('@defer is not supported in a subscription');
    const client = createWsClient(gw.url, invoke);
    try {
      await expect(wsCollect(client, deferred, { input: chatInput('hi') })).rejects.toSatisfy((errors: unknown) =>
        JSON.stringify(errors).includes('@defer is not supported in a subscription'),
      );
    } finally {
      await client.dispose();
    }
  });

  it("Apollo Client's @defer support over node's fetch: the merged result holds the deferred field", async () => {
    const accepts: string[] = [];
    const client = new ApolloClient({
      cache: new InMemoryCache(),
      incrementalHandler: new Defer20220824Handler(),
      link: new HttpLink({
        uri: `${gw.url}/graphql`,
        headers: { authorization: `Bearer ${invoke}` },
        fetch: (input, init) => {
          accepts.push(String(new Headers(init?.headers).get('accept')));
          return fetch(input, init);
        },
      }),
    });
    const expected = await summary();
    const seen: unknown[] = [];
    const final = await new Promise<unknown>((resolve, reject) => {
      const sub = client.watchQuery<Dashboard>({ query: gql(DASHBOARD), fetchPolicy: 'network-only' }).subscribe({
        next: (r) => {
          seen.push(r.data);
          if (r.data && 'usageSummary' in r.data) {
            sub.unsubscribe();
            resolve(r.data);
          }
        },
        error: reject,
      });
    });
    expect(accepts[0]).toContain('multipart/mixed');
    expect(final).toMatchObject({ viewer: { name: 'dashboard' }, usageSummary: expected });
    // before the deferred part, the client already showed the viewer alone
    expect(seen).toContainEqual({ __typename: 'Query', viewer: { __typename: 'ApiKey', name: 'dashboard' } });
  });
});
