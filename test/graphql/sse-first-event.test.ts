/*
 * A chatStream over GraphQL SSE writes each event as soon as it exists: the upstream here sends its first chunk and
 * then nothing until the client has read that token, so an event held back (buffered, waiting for the next chunk or
 * for a timer) never arrives and the test fails. With the fast path on (GraphQL SSE written by the gateway) and off
 * (Yoga's SSE), the events, their order and the end of the stream are the same.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createEchoAdapter } from '../../src/providers/echo/index.js';
import type { ProviderAdapter, StreamChunk } from '../../src/providers/types.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { sseSubscribe } from '../kit/sse.js';

const STREAM = `subscription($c: String!) { chatStream(input: { model: "echo", messages: [{ role: USER, content: $c }] }) {
  delta finishReason usage { completionTokens } } }`;

/** An upstream that sends "first ", then waits until `release()` before the rest. */
function gatedUpstream(): { adapter: ProviderAdapter; release(): void; secondAsked: () => boolean } {
  const echo = createEchoAdapter();
  let release!: () => void;
  let gate = new Promise<void>((r) => (release = r));
  let secondAsked = false;
  return {
    release: () => release(),
    secondAsked: () => secondAsked,
    adapter: {
      ...echo,
      stream: (_req, opts) =>
        (async function* (): AsyncGenerator<StreamChunk> {
          yield { delta: 'first ' };
          secondAsked = true;
          await gate;
          gate = new Promise<void>((r) => (release = r));
          if (opts.signal?.aborted) return;
          yield { delta: 'second' };
          yield { delta: '', finishReason: 'STOP', usage: { promptTokens: 1, completionTokens: 2, totalTokens: 3, exact: true } };
        })(),
    },
  };
}

describe.each([
  ['fast path (the gateway writes GraphQL SSE)', {}],
  ["Yoga's SSE", { GRAPHQL_FAST_PATH: 'false' }],
])('GraphQL SSE, %s: the first event goes out before the upstream sends its second chunk', (_name, env) => {
  let gw: TestGateway;
  let key: string;
  const upstream = gatedUpstream();
  beforeAll(async () => {
    gw = await startGateway(env, { adapters: { ECHO: upstream.adapter } });
    key = (await gw.createKey({ name: 'sse', scopes: ['INVOKE'] })).secret;
  });
  afterAll(async () => {
    upstream.release();
    await gw?.stop();
  });

  it('the client reads the first token while the upstream waits for it; then the rest, STOP and complete', async () => {
    const handledByYoga = vi.spyOn(gw.app.yoga, 'yoga');
    const sub = sseSubscribe<{ chatStream: { delta: string; finishReason: string | null } }>(gw.url, STREAM, { c: 'hi' }, key);
    expect(await sub.status).toBe(200);
    const it = sub.results[Symbol.asyncIterator]();
    const held = Symbol('held');
    // the upstream's second chunk waits for this read: a first event held back never comes
    const first = await Promise.race([it.next(), new Promise<typeof held>((r) => setTimeout(() => r(held), 5000))]);
    expect(first, 'the first event was held back until the upstream sent more').not.toBe(held);
    expect(upstream.secondAsked()).toBe(true);
    const firstResult = (first as IteratorResult<{ data?: { chatStream: { delta: string } } }>).value;
    expect(firstResult.data?.chatStream.delta).toBe('first ');
    upstream.release();
    const rest = [];
    for (let r = await it.next(); !r.done; r = await it.next()) rest.push(r.value);
    expect(rest.map((r) => r.data?.chatStream)).toEqual([
      { delta: 'second', finishReason: null, usage: null },
      { delta: '', finishReason: 'STOP', usage: { completionTokens: 2 } },
    ]);
    expect(sub.events.at(-1)?.event).toBe('complete');
    // which transport answered: the fast path never hands a plain subscription to Yoga
    expect(handledByYoga).toHaveBeenCalledTimes('GRAPHQL_FAST_PATH' in env ? 1 : 0);
    handledByYoga.mockRestore();
  });
});
