/*
 * useCompiledSubscriptionEvents maps each subscription event on graphql-jit code instead of @graphql-tools'
 * per-event execution. What a client receives must not change: the same server is run with and without the
 * plugin, over GraphQL SSE, and the streams compared, for data, field errors and an error thrown by the stream.
 */
import { createSchema, createYoga, type Plugin } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import { useCompiledSubscriptionEvents } from '../../src/http/plugins/use-compiled-subscription-events.js';

type Tick = { n: number; label: string | null; boom?: boolean };

function serverWith(plugins: Plugin[], returned: { count: number }) {
  const schema = createSchema({
    typeDefs: /* GraphQL */ `
      type Query { ok: Boolean }
      type Tick { n: Int!, label: String, double(times: Int!): Int!, strict: String!, fails: String }
      type Subscription { ticks(to: Int!, breakAt: Int): Tick }
    `,
    resolvers: {
      Tick: {
        double: (t: Tick, { times }: { times: number }) => t.n * times,
        // non-null: a null label makes the whole Tick null, with an error at its path
        strict: (t: Tick) => t.label,
        fails: (t: Tick) => {
          if (t.boom) throw new Error(`field failed at ${t.n}`);
          return 'fine';
        },
      },
      Subscription: {
        ticks: {
          subscribe: (_: unknown, { to, breakAt }: { to: number; breakAt?: number }) =>
            (async function* () {
              try {
                for (let n = 1; n <= to; n++) {
                  if (n === breakAt) throw new Error(`stream broke at ${n}`);
                  yield { ticks: { n, label: n % 3 === 0 ? null : `t${n}`, boom: n === 2 } satisfies Tick };
                }
              } finally {
                returned.count++;
              }
            })(),
        },
      },
    },
  });
  // unmasked: the comparison is about what the executor produces, not about masking
  return createYoga({ schema, plugins, maskedErrors: false, logging: false });
}

async function events(yoga: ReturnType<typeof serverWith>, query: string, variables: Record<string, unknown>): Promise<unknown[]> {
  const res = await yoga.fetch('http://yoga/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify({ query, variables }),
  });
  expect(res.status).toBe(200);
  const text = await res.text();
  // every event's data; the `complete` event's data is empty
  return text
    .split('\n\n')
    .map((block) => block.split('\n').find((l) => l.startsWith('data:'))?.slice(5).trim())
    .filter((data): data is string => Boolean(data))
    .map((data) => JSON.parse(data));
}

const QUERY = /* GraphQL */ `
  subscription Ticks($to: Int!, $times: Int!, $breakAt: Int, $withLabel: Boolean!) {
    ticks(to: $to, breakAt: $breakAt) {
      __typename
      n
      twice: double(times: $times)
      label @include(if: $withLabel)
      ...More
    }
  }
  fragment More on Tick { fails }
`;

describe('subscription events on compiled code', () => {
  it('sends the same events as @graphql-tools: data, aliases, fragments, directives and field errors', async () => {
    const plain = serverWith([], { count: 0 });
    let reexecuted = 0;
    const compiled = serverWith([useCompiledSubscriptionEvents({ onReexecuted: () => reexecuted++ })], { count: 0 });
    const variables = { to: 5, times: 3, withLabel: true };
    const expected = await events(plain, QUERY, variables);
    const got = await events(compiled, QUERY, variables);
    expect(got).toEqual(expected);
    // the comparison covers what it should: five events, one with a field error at its path
    expect(got.filter((e) => (e as { data?: unknown }).data)).toHaveLength(5);
    expect(JSON.stringify(got)).toContain('field failed at 2');
    expect(JSON.stringify(got)).toContain('"twice":15');
    // compiled code answered the four clean events; only the one with a field error went to @graphql-tools
    expect(reexecuted).toBe(1);
  });

  it('reports a null in a non-null field like @graphql-tools does', async () => {
    const strictQuery = 'subscription($to: Int!) { ticks(to: $to) { n strict } }';
    const expected = await events(serverWith([], { count: 0 }), strictQuery, { to: 3 });
    const got = await events(serverWith([useCompiledSubscriptionEvents()], { count: 0 }), strictQuery, { to: 3 });
    expect(got).toEqual(expected);
    expect(JSON.stringify(got)).toMatch(/Cannot return null for non-nullable field Tick\.strict/);
  });

  it('ends with the same error when the stream itself throws, and closes the stream', async () => {
    const plainReturned = { count: 0 };
    const compiledReturned = { count: 0 };
    const variables = { to: 5, times: 2, breakAt: 3, withLabel: false };
    const expected = await events(serverWith([], plainReturned), QUERY, variables);
    const got = await events(serverWith([useCompiledSubscriptionEvents()], compiledReturned), QUERY, variables);
    expect(got).toEqual(expected);
    expect(JSON.stringify(got)).toContain('stream broke at 3');
    expect(compiledReturned.count).toBe(1);
    expect(plainReturned.count).toBe(1);
  });

  it('answers errors before the first event as @graphql-tools does', async () => {
    const bad = { to: 'five', times: 2, withLabel: true };
    const expected = await events(serverWith([], { count: 0 }), QUERY, bad).catch((e: Error) => e.message);
    const got = await events(serverWith([useCompiledSubscriptionEvents()], { count: 0 }), QUERY, bad).catch((e: Error) => e.message);
    expect(got).toEqual(expected);
  });

  it('ends the source when the client goes away mid-stream', async () => {
    const returned = { count: 0 };
    const yoga = serverWith([useCompiledSubscriptionEvents()], returned);
    const ac = new AbortController();
    const res = await yoga.fetch('http://yoga/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: 'subscription { ticks(to: 1000000) { n } }' }),
      signal: ac.signal,
    });
    const reader = res.body!.getReader();
    let seen = '';
    while (!seen.includes('"n":1')) seen += new TextDecoder().decode((await reader.read()).value);
    expect(seen).toMatch(/"n":1\b/);
    ac.abort();
    await reader.cancel().catch(() => {});
    await expect.poll(() => returned.count, { timeout: 2000 }).toBe(1);
  });
});
