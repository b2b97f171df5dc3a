/*
 * Persisted operations against a live gateway. Automatic persisted queries (on by default): Apollo Client's
 * persisted-query link sends the hash alone, hears PersistedQueryNotFound, sends the text once, and from then on
 * every client gets by with the hash, over POST and GET. Trusted documents (GRAPHQL_TRUSTED_DOCUMENTS): only the
 * manifest's documents run, by id; a text is refused; a bad manifest stops the start naming the variable and file.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { PersistedQueryLink } from '@apollo/client/link/persisted-queries';
import { addTypenameToDocument } from '@apollo/client/utilities';
import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { APQ_STORE_LIMITS } from '../../src/http/plugins/use-automatic-persisted-queries.js';
import type { AnyJson } from '../kit/json.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { createWsClient, wsCollect } from '../kit/ws.js';
import { chatInput } from './helpers.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

interface Sent {
  method: string;
  url: URL;
  body?: { query?: string; extensions?: { persistedQuery?: { version: number; sha256Hash: string } }; documentId?: string };
}

/** Apollo Client with the persisted-query link, over a fetch that records every request it sends. */
function apolloClient(gw: TestGateway, key: string, options: { useGETForHashedQueries?: boolean } = {}) {
  const sent: Sent[] = [];
  const recording: typeof fetch = (input, init) => {
    const url = new URL(String(input));
    sent.push({ method: init?.method ?? 'GET', url, body: typeof init?.body === 'string' ? JSON.parse(init.body) : undefined });
    return fetch(input, init);
  };
  const link = new PersistedQueryLink({ sha256, ...options }).concat(
    new HttpLink({ uri: `${gw.url}/graphql`, fetch: recording, headers: { authorization: `Bearer ${key}` } }),
  );
  return { client: new ApolloClient({ link, cache: new InMemoryCache() }), sent };
}

type Body = { data?: AnyJson; errors?: Array<{ message: string; extensions?: Record<string, AnyJson> }> };
type Viewer = { viewer: { name: string; scopes: string[] } };

async function post(gw: TestGateway, body: unknown, key = gw.adminKey): Promise<{ status: number; body: Body }> {
  const res = await fetch(`${gw.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${key}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Body };
}

async function get(gw: TestGateway, params: Record<string, string>, key = gw.adminKey): Promise<{ status: number; body: Body }> {
  const res = await fetch(`${gw.url}/graphql?${new URLSearchParams(params)}`, {
    headers: { accept: 'application/graphql-response+json', authorization: `Bearer ${key}` },
  });
  return { status: res.status, body: (await res.json()) as Body };
}

const persisted = (hash: string) => ({ persistedQuery: { version: 1, sha256Hash: hash } });

/** One graphql-ws operation with a payload of our own (an id, an empty query): every result, or the errors it was refused with. */
function wsCollectPersisted(client: ReturnType<typeof createWsClient>, payload: Record<string, unknown>): Promise<Array<{ data?: AnyJson; errors?: unknown }>> {
  return new Promise((resolve, reject) => {
    const out: Array<{ data?: AnyJson }> = [];
    client.subscribe(payload as never, { next: (r) => void out.push(r as never), error: reject, complete: () => resolve(out) });
  });
}

describe('automatic persisted queries', () => {
  let gw: TestGateway;
  let invoke: string;
  beforeAll(async () => {
    gw = await startGateway();
    invoke = (await gw.createKey({ name: 'apq', scopes: ['INVOKE'] })).secret;
  });
  afterAll(() => gw?.stop());

  it('Apollo Client: the hash alone, PersistedQueryNotFound, the text once; then a second client needs only the hash', async () => {
    const query = gql`
      query Viewer {
        viewer {
          name
          scopes
        }
      }
    `;
    const first = apolloClient(gw, invoke);
    const a = await first.client.query<Viewer>({ query, fetchPolicy: 'network-only' });
    expect(a.data).toEqual({ viewer: { __typename: 'ApiKey', name: 'apq', scopes: ['INVOKE'] } });
    expect(first.sent).toHaveLength(2);
    const [hashOnly, withText] = first.sent.map((s) => s.body!);
    expect(hashOnly.query).toBeUndefined();
    expect(hashOnly.extensions?.persistedQuery?.sha256Hash).toMatch(/^[0-9a-f]{64}$/);
    expect(withText.query).toContain('viewer');
    expect(withText.extensions?.persistedQuery?.sha256Hash).toBe(hashOnly.extensions?.persistedQuery?.sha256Hash);
    expect(sha256(withText.query!)).toBe(hashOnly.extensions?.persistedQuery?.sha256Hash);

    const second = apolloClient(gw, invoke);
    const b = await second.client.query<Viewer>({ query, fetchPolicy: 'network-only' });
    expect(b.data).toEqual(a.data);
    expect(second.sent).toHaveLength(1);
    expect(second.sent[0].body!.query).toBeUndefined();
    expect(second.sent[0].body!.extensions?.persistedQuery?.sha256Hash).toBe(hashOnly.extensions?.persistedQuery?.sha256Hash);
  });

  it('Apollo Client over GET for hashed queries: a stored hash is one GET; an unknown one falls back to POST with the text', async () => {
    const { client, sent } = apolloClient(gw, gw.adminKey, { useGETForHashedQueries: true });
    const query = gql`
      query ModelNames {
        models {
          name
        }
      }
    `;
    const a = await client.query<{ models: Array<{ name: string }> }>({ query, fetchPolicy: 'network-only' });
    expect(a.data?.models.map((m: { name: string }) => m.name)).toContain('echo');
    expect(sent.map((s) => s.method)).toEqual(['GET', 'POST']);
    expect(JSON.parse(sent[0].url.searchParams.get('extensions')!).persistedQuery.sha256Hash).toBe(sent[1].body!.extensions?.persistedQuery?.sha256Hash);
    expect(sent[0].url.searchParams.get('query')).toBeNull();

    const b = await client.query<{ models: Array<{ name: string }> }>({ query, fetchPolicy: 'network-only' });
    expect(b.data).toEqual(a.data);
    expect(sent.map((s) => s.method)).toEqual(['GET', 'POST', 'GET']);
  });

  it('answers the protocol codes: an unknown hash is PERSISTED_QUERY_NOT_FOUND (404), a hash that is not the text PERSISTED_QUERY_MISMATCH (400), not stored', async () => {
    const query = '{ viewer { name } }';
    const unknown = await post(gw, { extensions: persisted(sha256(`${query} # never sent`)) });
    expect(unknown.status).toBe(404);
    expect(unknown.body.errors?.[0]).toMatchObject({ message: 'PersistedQueryNotFound', extensions: { code: 'PERSISTED_QUERY_NOT_FOUND' } });
    expect(unknown.body.errors?.[0].extensions?.requestId).toBeTruthy();

    const wrong = sha256('{ apiKeys { name } }');
    const mismatch = await post(gw, { query, extensions: persisted(wrong) });
    expect(mismatch.status).toBe(400);
    expect(mismatch.body.errors?.[0]).toMatchObject({ message: 'PersistedQueryMismatch', extensions: { code: 'PERSISTED_QUERY_MISMATCH' } });
    expect(mismatch.body.data).toBeUndefined();
    // the wrong hash did not become a name for this text
    expect((await post(gw, { extensions: persisted(wrong) })).body.errors?.[0].extensions?.code).toBe('PERSISTED_QUERY_NOT_FOUND');
  });

  it('a stored query keeps every rule of a plain one: scopes, variables, errors with codes', async () => {
    const query = 'query Keys { apiKeys { name } }';
    const hash = sha256(query);
    expect((await post(gw, { query, extensions: persisted(hash) })).body.data?.apiKeys.length).toBeGreaterThan(0);
    const refused = await post(gw, { extensions: persisted(hash) }, invoke);
    expect(refused.body.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
    const viaGet = await get(gw, { extensions: JSON.stringify(persisted(hash)) });
    expect(viaGet.status).toBe(200);
    expect(viaGet.body.data?.apiKeys.length).toBeGreaterThan(0);
  });

  it('the store is bounded in size: three documents of 1.5 Mi characters do not fit in its 4 Mi, the oldest is asked for again', async () => {
    expect(APQ_STORE_LIMITS.characters).toBe(4 * 1024 * 1024);
    // a comment pads a document without adding tokens (the armor limit counts tokens)
    const big = (name: string) => `# ${'x'.repeat(1.5 * 1024 * 1024)}\nquery ${name} { viewer { name } }`;
    const [a, b, c] = [big('A'), big('B'), big('C')];
    for (const text of [a, b, c]) expect((await post(gw, { query: text, extensions: persisted(sha256(text)) })).status).toBe(200);
    expect((await post(gw, { extensions: persisted(sha256(c)) })).body.data?.viewer.name).toBe('GATEWAY_ADMIN_KEY');
    expect((await post(gw, { extensions: persisted(sha256(a)) })).body.errors?.[0].extensions?.code).toBe('PERSISTED_QUERY_NOT_FOUND');
  });

  it('a mutation is not run from a GET, hash or not', async () => {
    const mutation = 'mutation { revokeApiKey(id: "00000000-0000-0000-0000-000000000000") { id } }';
    const hash = sha256(mutation);
    await post(gw, { query: mutation, extensions: persisted(hash) });
    const viaGet = await fetch(`${gw.url}/graphql?${new URLSearchParams({ extensions: JSON.stringify(persisted(hash)) })}`, {
      headers: { accept: 'application/json', authorization: `Bearer ${gw.adminKey}` },
    });
    expect(viaGet.status).toBe(405);
  });

  it('graphql-ws: a stored hash with an empty query (the protocol requires one) runs; a text runs as ever', async () => {
    const query = 'query WsViewer { viewer { name } }';
    const client = createWsClient(gw.url, invoke);
    try {
      const [unknown] = await wsCollect(client, '', undefined).catch((errors) => [{ errors }]);
      expect(JSON.stringify(unknown)).toContain('Syntax Error');
      const notFound = await wsCollectPersisted(client, { query: '', extensions: persisted(sha256(query)) }).catch((errors) => errors);
      expect(JSON.stringify(notFound)).toContain('PERSISTED_QUERY_NOT_FOUND');
      expect((await wsCollect(client, query))[0].data).toEqual({ viewer: { name: 'apq' } });
      // the text has run over websockets, not registered: the hash is registered over HTTP
      await post(gw, { query, extensions: persisted(sha256(query)) });
      expect((await wsCollectPersisted(client, { query: '', extensions: persisted(sha256(query)) }))[0].data).toEqual({ viewer: { name: 'apq' } });
    } finally {
      await client.dispose();
    }
  });

  it('a documentId is refused without trusted documents (an unexpected parameter)', async () => {
    const r = await post(gw, { query: '{ viewer { name } }', documentId: 'abc' });
    expect(r.status).toBe(400);
    expect(r.body.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect(r.body.errors?.[0].message).toContain('documentId');
  });
});

describe('trusted documents (GRAPHQL_TRUSTED_DOCUMENTS)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gw-trusted-'));
  /** As Apollo's manifest generator writes them: the document with __typename added, printed, hashed with SHA-256. */
  const viewer = print(addTypenameToDocument(gql`query Viewer { viewer { name scopes } }`));
  const models = 'query Models { models { name } }';
  const stream = 'subscription Stream($input: ChatInput!) { chatStream(input: $input) { delta finishReason } }';
  const apolloManifest = {
    format: 'apollo-persisted-query-manifest',
    version: 1,
    operations: [
      { id: sha256(viewer), name: 'Viewer', type: 'query', body: viewer },
      { id: sha256(models), name: 'Models', type: 'query', body: models },
      { id: sha256(stream), name: 'Stream', type: 'subscription', body: stream },
    ],
  };
  // graphql-codegen's client preset and Relay write a plain map; Relay's ids are MD5 hashes, taken as they are
  const relayId = createHash('md5').update(models).digest('hex');
  const plainMap = { [relayId]: models };
  const apolloPath = join(dir, 'apollo-manifest.json');
  const plainPath = join(dir, 'persisted-documents.json');
  writeFileSync(apolloPath, JSON.stringify(apolloManifest));
  writeFileSync(plainPath, JSON.stringify(plainMap));

  let apollo: TestGateway;
  let plain: TestGateway;
  beforeAll(async () => {
    [apollo, plain] = await Promise.all([startGateway({ GRAPHQL_TRUSTED_DOCUMENTS: apolloPath }), startGateway({ GRAPHQL_TRUSTED_DOCUMENTS: plainPath })]);
  });
  afterAll(async () => {
    await Promise.all([apollo?.stop(), plain?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it("Apollo Client's persisted-query link runs a listed document with its hash alone, at the first try", async () => {
    const { client, sent } = apolloClient(apollo, apollo.adminKey);
    const r = await client.query<Viewer>({ query: gql`query Viewer { viewer { name scopes } }`, fetchPolicy: 'network-only' });
    expect(r.data?.viewer).toMatchObject({ __typename: 'ApiKey', name: 'GATEWAY_ADMIN_KEY' });
    expect(r.data?.viewer.scopes).toContain('ADMIN');
    expect(sent).toHaveLength(1);
    expect(sent[0].body!.query).toBeUndefined();
    expect(sent[0].body!.extensions?.persistedQuery?.sha256Hash).toBe(sha256(viewer));
  });

  it('an unlisted document: PERSISTED_QUERY_NOT_IN_LIST, and the link does not send its text after it', async () => {
    const { client, sent } = apolloClient(apollo, apollo.adminKey);
    const r = await client.query<{ apiKeys: Array<{ name: string }> }>({ query: gql`query Keys { apiKeys { name } }`, fetchPolicy: 'network-only', errorPolicy: 'all' });
    expect(r.data).toBeUndefined();
    expect(sent).toHaveLength(1);
    const raw = await post(apollo, { extensions: persisted(sent[0].body!.extensions!.persistedQuery!.sha256Hash) });
    expect(raw.status).toBe(404);
    expect(raw.body.errors?.[0].extensions).toMatchObject({ code: 'PERSISTED_QUERY_NOT_IN_LIST' });
    expect(raw.body.errors?.[0].message).toContain(sent[0].body!.extensions!.persistedQuery!.sha256Hash);
  });

  it('runs a listed document by documentId (POST and GET) and by the APQ hash', async () => {
    const id = sha256(models);
    for (const r of [await post(apollo, { documentId: id }), await get(apollo, { documentId: id }), await post(apollo, { extensions: persisted(id) })]) {
      expect(r.status).toBe(200);
      expect(r.body.data?.models.map((m: { name: string }) => m.name)).toContain('echo');
    }
    const withVariables = await post(apollo, { documentId: sha256(viewer), operationName: 'Viewer', variables: {} });
    expect(withVariables.body.data?.viewer.name).toBe('GATEWAY_ADMIN_KEY');
  });

  it('reads the plain { id: document } map (ids as the manifest gives them)', async () => {
    const r = await post(plain, { documentId: relayId });
    expect(r.body.data?.models.map((m: { name: string }) => m.name)).toContain('echo');
    expect((await post(plain, { documentId: sha256(models) })).body.errors?.[0].extensions?.code).toBe('PERSISTED_QUERY_NOT_IN_LIST');
  });

  it('refuses any document text, listed or not, with PERSISTED_QUERY_ONLY (400); neither text nor id is BAD_USER_INPUT naming documentId', async () => {
    for (const body of [{ query: '{ apiKeys { name } }' }, { query: models }, { query: models, extensions: persisted(sha256(models)) }]) {
      const r = await post(apollo, body);
      expect(r.status).toBe(400);
      expect(r.body.data).toBeUndefined();
      expect(r.body.errors?.map((e) => e.extensions?.code)).toEqual(['PERSISTED_QUERY_ONLY']);
      expect(r.body.errors?.[0].message).toContain('documentId');
    }
    const none = await post(apollo, { variables: {} });
    expect(none.status).toBe(400);
    expect(none.body.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'documentId' });
  });

  it('graphql-ws: a listed subscription runs by id (empty query), a text is refused like over HTTP', async () => {
    const client = createWsClient(apollo.url, apollo.adminKey);
    try {
      for (const payload of [
        { query: '', documentId: sha256(stream), variables: { input: chatInput('one two') } },
        { query: '', extensions: persisted(sha256(stream)), variables: { input: chatInput('one two') } },
      ]) {
        const events = await wsCollectPersisted(client, payload);
        expect(events.map((e) => e.data.chatStream.delta).join('')).toContain('one two');
        expect(events.at(-1)!.data.chatStream.finishReason).toBe('STOP');
      }
      for (const text of [stream, '{ apiKeys { name } }']) {
        const refused = await wsCollect(client, text, { input: chatInput('x') }).catch((errors) => errors);
        expect(JSON.stringify(refused)).toContain('PERSISTED_QUERY_ONLY');
      }
      const unlisted = await wsCollectPersisted(client, { query: '', documentId: 'nope' }).catch((errors) => errors);
      expect(JSON.stringify(unlisted)).toContain('PERSISTED_QUERY_NOT_IN_LIST');
      expect(JSON.stringify(unlisted)).not.toContain('"http"');
    } finally {
      await client.dispose();
    }
  });

  it('the GraphiQL page still loads, but its introspection is refused like any other text; the fast path is off', async () => {
    const page = await fetch(`${apollo.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<html');
    const introspection = await post(apollo, { query: '{ __schema { queryType { name } } }' });
    expect(introspection.body.errors?.[0].extensions?.code).toBe('PERSISTED_QUERY_ONLY');
    expect(apollo.app.yoga.fastPath).toBeUndefined();
  });

  describe('a manifest that cannot be used stops the start, naming the variable and the file', () => {
    const bad = (name: string, content: string) => {
      const path = join(dir, name);
      writeFileSync(path, content);
      return path;
    };
    const refusal = (path: string) => {
      try {
        loadConfig({ DATABASE_URL: 'memory://', GRAPHQL_TRUSTED_DOCUMENTS: path });
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as Error).message;
      }
      throw new Error('the configuration was accepted');
    };

    it.each([
      ['a missing file', () => join(dir, 'missing.json'), /cannot be read \(ENOENT/],
      ['not JSON', () => bad('not-json.json', '{ "abc": '), /is not JSON/],
      ['a map with a non-string document', () => bad('number.json', '{ "abc": 1 }'), /neither an Apollo persisted query manifest .* nor a \{"<id>": "<document>"\} map \(abc: /],
      ['an Apollo manifest of another version', () => bad('v2.json', JSON.stringify({ ...apolloManifest, version: 2 })), /not an Apollo persisted query manifest \(version:/],
      ['an Apollo operation without a body', () => bad('nobody.json', JSON.stringify({ ...apolloManifest, operations: [{ id: 'a', name: 'A', type: 'query' }] })), /operations\.0\.body/],
      ['a document that does not parse', () => bad('syntax.json', JSON.stringify({ abc: '{ viewer { ' })), /id "abc" \(Syntax Error/],
      ['one id for two documents', () => bad('twice.json', JSON.stringify({ ...apolloManifest, operations: [{ id: 'a', body: models }, { id: 'a', body: viewer }] })), /gives the id "a" to two different documents/],
      ['no documents', () => bad('empty.json', '{}'), /lists no documents/],
    ])('%s', (_name, path, reason) => {
      const file = path();
      const message = refusal(file);
      expect(message).toContain(`GRAPHQL_TRUSTED_DOCUMENTS: ${file} `);
      expect(message).toMatch(reason);
    });

    it('an empty value is unset: automatic persisted queries, no manifest', () => {
      expect(loadConfig({ DATABASE_URL: 'memory://', GRAPHQL_TRUSTED_DOCUMENTS: ' ' }).graphql.trustedDocuments).toBeUndefined();
    });

    it('the process exits with the message on stderr, before listening', async () => {
      const file = bad('process.json', 'not json');
      const root = new URL('../..', import.meta.url).pathname;
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
        cwd: root,
        env: { ...process.env, DATABASE_URL: 'memory://', PORT: '0', GRAPHQL_TRUSTED_DOCUMENTS: file },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr!.on('data', (d) => (stderr += d));
      const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
      expect(code).toBe(2);
      expect(stderr).toContain(`GRAPHQL_TRUSTED_DOCUMENTS: ${file} is not JSON`);
      expect(stderr).not.toContain('GraphQL AI gateway on');
    });
  });
});
