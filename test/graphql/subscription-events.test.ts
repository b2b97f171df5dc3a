/*
 * useCompiledSubscriptionEvents maps each subscription event on graphql-jit code instead of @graphql-tools'
 * per-event execution. What a client receives must not change: the same server is run with and without the
 * plugin, over GraphQL SSE, and the streams compared, for data, field errors and an error thrown by the stream.
 */
import { createPubSub, createSchema, createYoga, filter, pipe, type Plugin } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import { useCompiledSubscriptionEvents } from '../../src/http/plugins/use-compiled-subscription-events.js';

type Tick = { n: number; label: string | null; boom?: boolean };

function serverWith(plugins: Plugin[], returned: { count: number }) {
  const pubsub = createPubSub<{ tick: [Tick] }>();
  const schema = createSchema({
    typeDefs: /* GraphQL */ `
      type Query { ok: Boolean }
      type Tick { n: Int!, label: String, double(times: Int!): Int!, strict: String!, fails: String, later: String! }
      type Subscription { ticks(to: Int!, breakAt: Int, pad: [String!]): Tick, published(min: Int!): Tick }
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
        // resolved on a later tick, as a dataloader would
        later: async (t: Tick) => {
          await new Promise((r) => setImmediate(r));
          return `later ${t.n}`;
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
        // as the usage feed: a Promise of a pub/sub stream piped through a filter, and a resolve step
        published: {
          subscribe: async (_: unknown, { min }: { min: number }) => {
            await Promise.resolve();
            const stream = pipe(pubsub.subscribe('tick'), filter((t: Tick) => t.n >= min));
            setTimeout(() => {
              for (let n = 1; n <= 4; n++) pubsub.publish('tick', { n, label: `p${n}` });
              setTimeout(() => pubsub.publish('tick', { n: 99, label: 'last' }), 10);
            }, 20);
            return stream;
          },
          resolve: (t: Tick) => t,
        },
      },
    },
  });
  // unmasked: the comparison is about what the executor produces, not about masking
  return createYoga({ schema, plugins, maskedErrors: false, logging: false });
}

/** The plugin with every fallback and re-execution counted: a test can tell that the compiled path was taken. */
function counted() {
  const seen = { reexecuted: 0, fallbacks: [] as string[] };
  const plugin = useCompiledSubscriptionEvents({ onReexecuted: () => seen.reexecuted++, onFallback: (r) => seen.fallbacks.push(r) });
  return { plugin, seen };
}

async function events(yoga: ReturnType<typeof serverWith>, query: string, variables: Record<string, unknown>, take = Infinity): Promise<unknown[]> {
  const res = await yoga.fetch('http://yoga/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify({ query, variables }),
  });
  expect(res.status).toBe(200);
  // every event's data; the `complete` event's data is empty
  const out: unknown[] = [];
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  while (out.length < take) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    let end;
    while ((end = text.indexOf('\n\n')) >= 0 && out.length < take) {
      const data = text.slice(0, end).split('\n').find((l) => l.startsWith('data:'))?.slice(5).trim();
      text = text.slice(end + 2);
      if (data) out.push(JSON.parse(data));
    }
  }
  await reader.cancel().catch(() => {});
  return out;
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
    const { plugin, seen } = counted();
    const compiled = serverWith([plugin], { count: 0 });
    const variables = { to: 5, times: 3, withLabel: true };
    const expected = await events(plain, QUERY, variables);
    const got = await events(compiled, QUERY, variables);
    expect(got).toEqual(expected);
    // the comparison covers what it should: five events, one with a field error at its path
    expect(got.filter((e) => (e as { data?: unknown }).data)).toHaveLength(5);
    expect(JSON.stringify(got)).toContain('field failed at 2');
    expect(JSON.stringify(got)).toContain('"twice":15');
    // compiled code answered the four clean events; only the one with a field error went to @graphql-tools
    expect(seen).toEqual({ reexecuted: 1, fallbacks: [] });
  });

  it('reports a null in a non-null field like @graphql-tools does', async () => {
    const strictQuery = 'subscription($to: Int!) { ticks(to: $to) { n strict } }';
    const expected = await events(serverWith([], { count: 0 }), strictQuery, { to: 3 });
    const { plugin, seen } = counted();
    const got = await events(serverWith([plugin], { count: 0 }), strictQuery, { to: 3 });
    expect(got).toEqual(expected);
    // the two clean events were answered by compiled code; the null went to @graphql-tools
    expect(seen).toEqual({ reexecuted: 1, fallbacks: [] });
    expect(JSON.stringify(got)).toMatch(/Cannot return null for non-nullable field Tick\.strict/);
  });

  it('ends with the same error when the stream itself throws, and closes the stream', async () => {
    const plainReturned = { count: 0 };
    const compiledReturned = { count: 0 };
    const variables = { to: 5, times: 2, breakAt: 3, withLabel: false };
    const expected = await events(serverWith([], plainReturned), QUERY, variables);
    const { plugin, seen } = counted();
    const got = await events(serverWith([plugin], compiledReturned), QUERY, variables);
    expect(got).toEqual(expected);
    expect(JSON.stringify(got)).toContain('stream broke at 3');
    expect(seen.fallbacks).toEqual([]);
    expect(compiledReturned.count).toBe(1);
    expect(plainReturned.count).toBe(1);
  });

  it('answers errors before the first event as @graphql-tools does', async () => {
    const body = JSON.stringify({ query: QUERY, variables: { to: 'five', times: 2, withLabel: true } });
    const ask = (yoga: ReturnType<typeof serverWith>) =>
      yoga.fetch('http://yoga/graphql', { method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/event-stream' }, body });
    const plain = await ask(serverWith([], { count: 0 }));
    const compiled = await ask(serverWith([useCompiledSubscriptionEvents()], { count: 0 }));
    const plainText = await plain.text();
    expect(compiled.status).toBe(plain.status);
    expect(await compiled.text()).toBe(plainText);
    expect(plainText).toMatch(/Int cannot represent non-integer value/);
    expect(plainText).toContain('BAD_USER_INPUT');
  });

  it('maps a Promise of a filtered pub/sub stream, with a resolve step and async fields, on compiled code', async () => {
    const query = 'subscription($min: Int!) { tick: published(min: $min) { n label later } }';
    const expected = await events(serverWith([], { count: 0 }), query, { min: 3 }, 3);
    const { plugin, seen } = counted();
    const got = await events(serverWith([plugin], { count: 0 }), query, { min: 3 }, 3);
    expect(got).toEqual(expected);
    expect(got).toEqual([3, 4, 99].map((n) => ({ data: { tick: { n, label: n === 99 ? 'last' : `p${n}`, later: `later ${n}` } } })));
    expect(seen).toEqual({ reexecuted: 0, fallbacks: [] });
  });

  it('leaves subscriptions with large variables to @graphql-tools, whose coercion runs once', async () => {
    const query = 'subscription($to: Int!, $pad: [String!]) { ticks(to: $to, pad: $pad) { n } }';
    const { plugin, seen } = counted();
    const got = await events(serverWith([plugin], { count: 0 }), query, { to: 2, pad: Array.from({ length: 500 }, () => 'x') });
    expect(got).toEqual([{ data: { ticks: { n: 1 } } }, { data: { ticks: { n: 2 } } }]);
    expect(seen.fallbacks).toEqual(['large variables']);
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
