/*
 * usage as the normalising clients page it, against a live gateway: Apollo Client's relayStylePagination type
 * policy with fetchMore, and urql's Graphcache with relayPagination, forwards (first/after) and backwards
 * (last/before). Each merged list in the client's cache must be the whole list, newest first, each record once.
 */
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';
import { relayStylePagination } from '@apollo/client/utilities';
import { createClient, fetchExchange, type Client } from '@urql/core';
import { cacheExchange } from '@urql/exchange-graphcache';
import { relayPagination } from '@urql/exchange-graphcache/extras';
import { firstValueFrom, filter } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { CHAT, chatInput, ok } from './helpers.js';

const PAGE = `query Usage($first: Int, $after: String, $last: Int, $before: String) {
  usage(first: $first, after: $after, last: $last, before: $before) {
    edges { cursor node { id invocationId model createdAt } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}`;
const NODE = `query Node($id: ID!) { node(id: $id) { id ... on UsageRecord { invocationId model status } } }`;

interface Edge {
  cursor: string;
  node: { id: string; invocationId: string; model: string; createdAt: string };
}
interface Connection {
  edges: Edge[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

/** Records of the paging key; a page size that does not divide it, so the last page is a short one. */
const N = 23;
const SIZE = 5;

let gw: TestGateway;
let key: { id: string; secret: string };
/** The paging key's records as one page answers them: the reference every merged list must equal. */
let expected: string[];

beforeAll(async () => {
  gw = await startGateway();
  key = await gw.createKey({ name: 'pager', scopes: ['INVOKE', 'READ_USAGE'] });
  const other = await gw.createKey({ name: 'someone else', scopes: ['INVOKE'] });
  for (let i = 0; i < N; i++) {
    ok(await gw.gql(CHAT, { input: chatInput(`record ${i}`) }, key.secret));
    // records of another key interleave: the paging key never sees them
    if (i % 4 === 0) ok(await gw.gql(CHAT, { input: chatInput('not yours') }, other.secret));
  }
  await gw.flushUsage();
  const all = ok(await gw.gql<{ usage: Connection }>(PAGE, { first: 500 }, key.secret)).usage;
  expected = all.edges.map((e) => e.node.id);
  expect(expected).toHaveLength(N);
  const times = all.edges.map((e) => Date.parse(e.node.createdAt));
  expect(times).toEqual([...times].sort((a, b) => b - a));
});
afterAll(async () => {
  await gw?.stop();
});

/** The merged list is the whole list: newest first, each record once. */
function expectWhole(edges: Edge[], label: string): void {
  const ids = edges.map((e) => e.node.id);
  expect(new Set(ids).size, `${label}: duplicates`).toBe(ids.length);
  expect(ids, label).toEqual(expected);
}

describe('Apollo Client, relayStylePagination', () => {
  const apollo = () =>
    new ApolloClient({
      link: new HttpLink({ uri: `${gw.url}/graphql`, headers: { authorization: `Bearer ${key.secret}` } }),
      cache: new InMemoryCache({ typePolicies: { Query: { fields: { usage: relayStylePagination() } } } }),
    });

  /** Watches PAGE with `variables` and resolves with its first complete result. */
  async function watch(client: ReturnType<typeof apollo>, variables: Record<string, unknown>) {
    const query = client.watchQuery<{ usage: Connection }>({ query: gql(PAGE), variables });
    const first = await firstValueFrom(query.pipe(filter((r) => !r.loading)));
    expect(first.error).toBeUndefined();
    return query;
  }

  /** What the watched query reads from the cache now: every page fetched so far, merged by the type policy. */
  function cached(query: Awaited<ReturnType<typeof watch>>): Connection {
    const { data, dataState } = query.getCurrentResult();
    expect(dataState).toBe('complete');
    return data!.usage as Connection;
  }

  it('pages forwards with fetchMore({ after }): the cached list grows to the whole list', async () => {
    const client = apollo();
    const query = await watch(client, { first: SIZE });
    let pages = 1;
    for (let usage = cached(query); usage.pageInfo.hasNextPage; usage = cached(query)) {
      expect(usage.edges).toHaveLength(pages * SIZE);
      await query.fetchMore({ variables: { after: usage.pageInfo.endCursor } });
      expect(++pages).toBeLessThanOrEqual(Math.ceil(N / SIZE));
    }
    expect(pages).toBe(Math.ceil(N / SIZE));
    const merged = cached(query);
    expectWhole(merged.edges, 'forwards');
    expect(merged.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: false });
    client.stop();
  });

  it('pages backwards with fetchMore({ before }) from the last page: the same whole list', async () => {
    const client = apollo();
    const query = await watch(client, { last: SIZE });
    const firstPage = cached(query);
    expect(firstPage.edges.map((e) => e.node.id)).toEqual(expected.slice(N - SIZE));
    expect(firstPage.pageInfo).toMatchObject({ hasPreviousPage: true, hasNextPage: false });
    let pages = 1;
    for (let usage = firstPage; usage.pageInfo.hasPreviousPage; usage = cached(query)) {
      await query.fetchMore({ variables: { last: SIZE, before: usage.pageInfo.startCursor } });
      expect(++pages).toBeLessThanOrEqual(Math.ceil(N / SIZE));
    }
    expect(pages).toBe(Math.ceil(N / SIZE));
    const merged = cached(query);
    expectWhole(merged.edges, 'backwards');
    expect(merged.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: false });
    client.stop();
  });

  it('node(id:) refetches a paged record into the same normalised cache entry', async () => {
    const client = apollo();
    const query = await watch(client, { first: SIZE });
    const record = cached(query).edges[2].node;
    const cacheId = client.cache.identify({ __typename: 'UsageRecord', id: record.id });
    expect(cacheId).toBe(`UsageRecord:${record.id}`);
    const { data } = await client.query<{ node: { id: string; invocationId: string; model: string; status: string } }>({ query: gql(NODE), variables: { id: record.id }, fetchPolicy: 'network-only' });
    expect(data?.node).toMatchObject({ __typename: 'UsageRecord', id: record.id, invocationId: record.invocationId, model: 'echo', status: 'OK' });
    // one entity: createdAt came with the page, status only with the node query
    const entity = client.cache.readFragment<{ createdAt: string; status: string }>({ id: cacheId, fragment: gql('fragment Seen on UsageRecord { createdAt status }') });
    expect(entity).toEqual({ __typename: 'UsageRecord', createdAt: record.createdAt, status: 'OK' });
    client.stop();
  });
});

describe('urql, Graphcache relayPagination', () => {
  const urql = (): Client =>
    createClient({
      url: `${gw.url}/graphql`,
      fetchOptions: { headers: { authorization: `Bearer ${key.secret}` } },
      exchanges: [
        cacheExchange({
          // edges, connections and page info have no identity of their own: stored inside their parent
          keys: { UsageRecordConnection: () => null, UsageRecordEdge: () => null, PageInfo: () => null },
          resolvers: { Query: { usage: relayPagination() } },
        }),
        fetchExchange,
      ],
    });

  async function page(client: Client, variables: Record<string, unknown>): Promise<Connection> {
    const res = await client.query<{ usage: Connection }>(PAGE, variables).toPromise();
    expect(res.error).toBeUndefined();
    return res.data!.usage;
  }

  it('pages forwards: each result is the pages so far, merged, ending with the whole list', async () => {
    const client = urql();
    let usage = await page(client, { first: SIZE });
    let pages = 1;
    while (usage.pageInfo.hasNextPage) {
      usage = await page(client, { first: SIZE, after: usage.pageInfo.endCursor });
      pages++;
      expect(usage.edges).toHaveLength(Math.min(pages * SIZE, N));
      expect(pages).toBeLessThanOrEqual(Math.ceil(N / SIZE));
    }
    expect(pages).toBe(Math.ceil(N / SIZE));
    expectWhole(usage.edges, 'urql forwards');
  });

  it('pages backwards from the end to the same whole list', async () => {
    const client = urql();
    let usage = await page(client, { last: SIZE });
    expect(usage.edges.map((e) => e.node.id)).toEqual(expected.slice(N - SIZE));
    let pages = 1;
    while (usage.pageInfo.hasPreviousPage) {
      usage = await page(client, { last: SIZE, before: usage.pageInfo.startCursor });
      pages++;
      expect(usage.edges).toHaveLength(Math.min(pages * SIZE, N));
      expect(pages).toBeLessThanOrEqual(Math.ceil(N / SIZE));
    }
    expect(pages).toBe(Math.ceil(N / SIZE));
    expectWhole(usage.edges, 'urql backwards');
  });
});
