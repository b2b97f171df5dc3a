/*
 * Issue 20 item 11: a subscription whose client leaves before the first event gives back its slot
 * (MAX_SUBSCRIPTIONS_PER_KEY), its in-flight invocation and its upstream call, however the client left.
 */
import { connect } from 'node:net';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { sseSubscribe } from '../kit/sse.js';
import { wsUrl } from '../kit/ws.js';
import { startOpenAIMock, type OpenAIMock } from '../mocks/openai.js';
import { createModel, createProvider, uniq } from '../gateway/helpers.js';
import { sleep, waitFor } from './helpers.js';

const MAX = 5;
/** The upstream answers after this long: every client below has left long before, and nothing is released by the answer. */
const UPSTREAM_DELAY_MS = 20_000;
const SLOW = { text: 'one two three', delayMs: UPSTREAM_DELAY_MS };

let gw: TestGateway;
let mock: OpenAIMock;
let model: string;

beforeAll(async () => {
  mock = await startOpenAIMock({ reply: SLOW });
  gw = await startGateway({ MAX_SUBSCRIPTIONS_PER_KEY: String(MAX) });
  const provider = uniq('slow-openai');
  model = uniq('slow');
  await createProvider(gw, { name: provider, kind: 'OPENAI', baseUrl: mock.baseUrl, apiKey: 'sk-mock' });
  await createModel(gw, { name: model, targets: [{ provider, upstreamModel: 'gpt-4o-mini' }], timeoutMs: 60_000 });
});

afterAll(async () => {
  await gw?.stop();
  await mock?.close();
});

const STREAM = 'subscription($input: ChatInput!) { chatStream(input: $input) { delta finishReason } }';
const input = () => ({ model, messages: [{ role: 'USER', content: 'hello' }] });

/** One metric's value summed over its labels, from GET /metrics. */
async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/**
 * Released at once on an idle machine; the bound leaves room for a loaded one still working through the requests.
 * Zero is looked for twice, a second apart: a client that dropped its socket may be done before a loaded server has
 * even read its request, which then opens (and releases) its subscription after a first zero.
 */
async function expectAllReleased(what: string) {
  const released = async () => (await metric('gateway_subscriptions_open')) === 0 && (await metric('gateway_invocations_in_flight')) === 0;
  await waitFor(released, `${what}: open subscriptions and invocations in flight back to 0`, 10_000);
  await sleep(1000);
  await waitFor(released, `${what}: open subscriptions and invocations in flight still 0 a second later`, 10_000);
}

/** Every one of these upstream requests was given up by the gateway before the mock answered. */
async function expectAborted(requests: ReturnType<OpenAIMock['chatRequests']>) {
  const late = sleep(3000).then(() => 'not aborted');
  const outcomes = await Promise.all(requests.map((r) => Promise.race([r.closedEarly.then(() => 'aborted'), late])));
  expect(outcomes).toEqual(requests.map(() => 'aborted'));
}

/** The key can still open MAX subscriptions, and they deliver the whole answer. */
async function expectKeyUsable(secret: string) {
  mock.reply({ text: 'one two three' });
  try {
    const subs = Array.from({ length: MAX }, () => sseSubscribe(gw.url, STREAM, { input: input() }, secret));
    for (const s of subs) {
      const deltas: string[] = [];
      for await (const r of s.results) {
        expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
        deltas.push(r.data.chatStream.delta);
      }
      expect(deltas.join('')).toBe('one two three');
    }
  } finally {
    mock.reply(SLOW);
  }
}

/** A raw HTTP/1.1 SSE request for chatStream; the client half-closes or drops the connection right after sending it. */
function rawSse(secret: string, leave: 'end' | 'destroy'): Promise<void> {
  const body = JSON.stringify({ query: STREAM, variables: { input: input() } });
  const { port } = new URL(gw.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => {
      socket.write(
        'POST /graphql HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\naccept: text/event-stream\r\n' +
          `authorization: Bearer ${secret}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      if (leave === 'end') socket.end();
      else setImmediate(() => socket.destroy());
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve());
    socket.resume();
    setTimeout(() => reject(new Error('socket never closed')), 10_000).unref();
  });
}

/** A raw graphql-transport-ws socket with one chatStream subscribed. */
function wsSubscribe(secret: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(wsUrl(gw.url), 'graphql-transport-ws');
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${secret}` } })));
    socket.on('message', (data) => {
      const msg = JSON.parse(String(data)) as { type: string };
      if (msg.type !== 'connection_ack') return reject(new Error(`unexpected ${msg.type} before the first event`));
      socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: STREAM, variables: { input: input() } } }));
      resolve(socket);
    });
    socket.on('error', reject);
  });
}

describe('a client that leaves before the first event', () => {
  for (const leave of ['end', 'destroy'] as const) {
    it(`SSE, 50 clients that ${leave === 'end' ? 'half-close' : 'drop'} the connection at once: slots, invocations and upstream calls are released`, async () => {
      const key = await gw.createKey({ name: `sse ${leave}`, scopes: ['INVOKE'] });
      const before = mock.chatRequests().length;
      await Promise.all(Array.from({ length: 50 }, () => rawSse(key.secret, leave)));
      await expectAllReleased(`SSE ${leave}`);
      // any upstream call that had started was aborted (the mock saw the connection close before answering)
      await expectAborted(mock.chatRequests().slice(before));
      await expectKeyUsable(key.secret);
    });
  }

  it('SSE, clients that leave after the response headers but before the first event: the upstream calls are aborted', async () => {
    const key = await gw.createKey({ name: 'sse after headers', scopes: ['INVOKE'] });
    const before = mock.chatRequests().length;
    const subs = Array.from({ length: MAX }, () => sseSubscribe(gw.url, STREAM, { input: input() }, key.secret));
    expect(await Promise.all(subs.map((s) => s.status))).toEqual(Array(MAX).fill(200));
    await waitFor(() => mock.chatRequests().length === before + MAX, 'every upstream call to start');
    for (const s of subs) s.abort();
    await expectAllReleased('SSE after headers');
    await expectAborted(mock.chatRequests().slice(before));
    await expectKeyUsable(key.secret);
  });

  for (const how of ['close', 'terminate'] as const) {
    it(`graphql-ws, sockets that ${how} before the first event: slots and upstream calls are released`, async () => {
      const key = await gw.createKey({ name: `ws ${how}`, scopes: ['INVOKE'] });
      const leave = (s: WebSocket) => (how === 'close' ? s.close(1000) : s.terminate());
      const before = mock.chatRequests().length;
      // right after subscribing
      for (const s of await Promise.all(Array.from({ length: MAX }, () => wsSubscribe(key.secret)))) leave(s);
      await expectAllReleased(`graphql-ws ${how} at once`);
      // and once their upstream calls are under way
      const mid = mock.chatRequests().length;
      const staying = await Promise.all(Array.from({ length: MAX }, () => wsSubscribe(key.secret)));
      await waitFor(() => mock.chatRequests().length === mid + MAX, 'the upstream calls to start');
      for (const s of staying) leave(s);
      await expectAllReleased(`graphql-ws ${how} while waiting`);
      await expectAborted(mock.chatRequests().slice(before));
      await expectKeyUsable(key.secret);
    });
  }
});
