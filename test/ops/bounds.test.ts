/* Resource bounds: messages and input size per invocation, open subscriptions per key (websockets and SSE together),
 * and websockets that never send connection_init. */
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_INPUT_BOUNDS } from '../../src/gateway/chat-input.js';
import { createEchoAdapter } from '../../src/providers/echo/index.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { sseCollect, sseSubscribe } from '../kit/sse.js';
import { createWsClient, wsCollect, wsUrl } from '../kit/ws.js';
import { CHAT, CHAT_STREAM, USAGE_RECORDED, chatInput, metric, scrape, sleep, waitFor } from './kit.js';

const LONG = Array.from({ length: 200 }, (_, i) => `w${i}`).join(' '); // 200 words at 50 ms: a 10 s stream

describe('resource bounds', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({ MAX_SUBSCRIPTIONS_PER_KEY: '2' }, { adapters: { ECHO: createEchoAdapter({ wordDelayMs: 50 }) }, wsInitTimeoutMs: 300 });
  });
  afterAll(() => gw?.stop());

  describe('input per invocation', () => {
    const messages = (n: number) => Array.from({ length: n }, (_, i) => ({ role: 'USER', content: `m${i}` }));

    it(`allows ${DEFAULT_INPUT_BOUNDS.maxMessages} messages, refuses one more with BAD_USER_INPUT naming input.messages`, async () => {
      const ok = await gw.gql(CHAT, { input: { model: 'echo', messages: messages(1000) } });
      expect(ok.errors).toBeUndefined();
      expect(ok.data.chat.message.content).toBe('echo: m999');
      const res = await gw.gql(CHAT, { input: { model: 'echo', messages: messages(1001) } });
      expect(res.data).toBeNull();
      expect(res.errors).toHaveLength(1);
      expect(res.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.messages' });
      expect(res.errors![0].message).toBe('input.messages: at most 1000 messages are allowed');
    });

    it(`allows ${DEFAULT_INPUT_BOUNDS.maxInputChars} characters in all, refuses one more (chat, chatStream over SSE and websockets)`, async () => {
      const input = (total: number) => ({ model: 'echo', messages: [{ role: 'SYSTEM', content: 'x'.repeat(total - 2) }, { role: 'USER', content: 'hi' }] });
      const ok = await gw.gql(CHAT, { input: input(2_000_000) });
      expect(ok.errors).toBeUndefined();
      expect(ok.data.chat.message.content).toBe('echo: hi');

      const over = input(2_000_001);
      const expectRefused = (errors: Array<{ message: string; extensions?: Record<string, unknown> }> | undefined) => {
        expect(errors).toHaveLength(1);
        expect(errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.messages' });
        expect(errors![0].message).toBe('input.messages: total input must be at most 2000000 characters');
      };
      expectRefused((await gw.gql(CHAT, { input: over })).errors);
      expectRefused((await sseCollect(gw.url, CHAT_STREAM, { input: over }, gw.adminKey))[0].errors);
      const ws = createWsClient(gw.url, gw.adminKey);
      try {
        expectRefused((await wsCollect(ws, CHAT_STREAM, { input: over }))[0].errors as never);
      } finally {
        await ws.dispose();
      }
    });
  });

  describe('open subscriptions per key (MAX_SUBSCRIPTIONS_PER_KEY=2)', () => {
    it('counts websockets and SSE together, refuses the third with RATE_LIMITED, and frees a slot when one ends', async () => {
      const a = await gw.createKey({ name: 'subscriber a', scopes: ['INVOKE', 'READ_USAGE'] });
      const b = await gw.createKey({ name: 'subscriber b', scopes: ['INVOKE', 'READ_USAGE'] });
      const open = (id: string) => gw.app.yoga.subscriptions.open(id);

      // a failed subscription (unknown model, no scope problem) never keeps a slot
      for (let i = 0; i < 3; i++) {
        const r = await sseCollect(gw.url, CHAT_STREAM, { input: chatInput('x', 'no-such-model') }, a.secret);
        expect(r[0].errors?.[0].extensions?.code).toBe('MODEL_NOT_FOUND');
      }
      expect(open(a.uuid)).toBe(0);

      // slot 1: chatStream over websockets; slot 2: chatStream over SSE
      const ws = createWsClient(gw.url, a.secret);
      const wsChunks: unknown[] = [];
      const endWs = ws.subscribe({ query: CHAT_STREAM, variables: { input: chatInput(LONG) } }, { next: (r) => void wsChunks.push(r), error: () => {}, complete: () => {} });
      await waitFor(() => wsChunks.length > 0, 'the websocket stream to start');
      const sse = sseSubscribe(gw.url, CHAT_STREAM, { input: chatInput(LONG) }, a.secret);
      const sseIt = sse.results[Symbol.asyncIterator]();
      expect((await sseIt.next()).value.data.chatStream.delta).toBe('echo:');
      expect(open(a.uuid)).toBe(2);

      const expectRefused = (r: { errors?: ReadonlyArray<{ message: string; extensions?: Record<string, unknown> }> | null }) => {
        expect(r.errors).toHaveLength(1);
        expect(r.errors![0].extensions).toMatchObject({ code: 'RATE_LIMITED', limit: 'subscriptionsPerKey', max: 2 });
        expect(r.errors![0].message).toContain('already has 2 open subscriptions');
      };
      // the third is refused on either transport and for either field
      const third = await sseCollect(gw.url, CHAT_STREAM, { input: chatInput('three') }, a.secret);
      expect(third).toHaveLength(1);
      expectRefused(third[0]);
      const ws2 = createWsClient(gw.url, a.secret);
      try {
        const usage = await wsCollect(ws2, USAGE_RECORDED);
        expect(usage).toHaveLength(1);
        expectRefused(usage[0]);
      } finally {
        await ws2.dispose();
      }
      // another key is not affected
      const other = await sseCollect(gw.url, CHAT_STREAM, { input: chatInput('other key') }, b.secret);
      expect(other.at(-1)?.data?.chatStream.finishReason).toBe('STOP');
      expect(open(b.uuid)).toBe(0);
      // refusals are counted
      expect(metric(await scrape(gw), 'gateway_subscriptions_refused_total')).toBe(2);

      // the client ends the websocket one: its slot is free at once, and a new subscription is admitted
      endWs();
      await waitFor(() => open(a.uuid) === 1, 'the websocket slot to be freed', 2000);
      const again = await sseCollect(gw.url, CHAT_STREAM, { input: chatInput('again') }, a.secret);
      expect(again.at(-1)?.data?.chatStream.finishReason).toBe('STOP');
      // the SSE client goes away: its slot is freed too
      sse.abort();
      await waitFor(() => open(a.uuid) === 0, 'the SSE slot to be freed', 2000);
      await ws.dispose();
      expect(gw.app.yoga.subscriptions.total()).toBe(0);
      expect(metric(await scrape(gw), 'gateway_subscriptions_open')).toBe(0);
    });
  });

  describe('subscriptions asked for over HTTP without Accept: text/event-stream', () => {
    it('get 406 and leave nothing running: no slot, no stream, no invocation in flight', async () => {
      const k = await gw.createKey({ name: 'plain json client', scopes: ['INVOKE', 'READ_USAGE'] });
      for (const accept of ['application/json', 'application/graphql-response+json', 'multipart/mixed']) {
        const res = await fetch(`${gw.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept, authorization: `Bearer ${k.secret}` },
          body: JSON.stringify({ query: CHAT_STREAM, variables: { input: chatInput(LONG) } }),
        });
        expect(res.status, accept).toBe(406);
        await res.body?.cancel();
      }
      await waitFor(() => gw.app.yoga.subscriptions.open(k.uuid) === 0, 'the slots to be freed', 2000);
      await waitFor(
        async () => {
          const m = await scrape(gw);
          return metric(m, 'gateway_open_streams') === 0 && metric(m, 'gateway_invocations_in_flight') === 0;
        },
        'the streams to end',
        2000,
      );
      // each ended as a cancelled invocation, with its usage record
      await gw.flushUsage();
      type Edge = { node: { status: string; streamed: boolean; apiKey: { name: string } | null } };
      const usage = await gw.gql<{ usage: { edges: Edge[] } }>('{ usage(first: 10) { edges { node { status streamed apiKey { name } } } } }');
      const mine = usage.data!.usage.edges.filter((e) => e.node.apiKey?.name === 'plain json client');
      expect(mine.map((e) => e.node.status)).toEqual(['CANCELLED', 'CANCELLED', 'CANCELLED']);
    });
  });

  describe('websockets', () => {
    it('close the socket (1009) on a message over 2 MiB, like the HTTP body limit', async () => {
      const socket = new WebSocket(wsUrl(gw.url), 'graphql-transport-ws');
      const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
      socket.on('error', () => {});
      socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${gw.adminKey}`, pad: 'x'.repeat(2 * 1024 * 1024) } })));
      expect(await closed).toBe(1009);
    });

    it('that never send connection_init are closed with 4408 after the init timeout; one that does stays open', async () => {
      const t0 = Date.now();
      const silent = new WebSocket(wsUrl(gw.url), 'graphql-transport-ws');
      const closed = new Promise<{ code: number; reason: string }>((resolve) => silent.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
      const polite = new WebSocket(wsUrl(gw.url), 'graphql-transport-ws');
      const acked = new Promise<void>((resolve) => polite.on('message', (d) => JSON.parse(String(d)).type === 'connection_ack' && resolve()));
      polite.on('open', () => polite.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${gw.adminKey}` } })));
      let politeClosed = false;
      polite.on('close', () => (politeClosed = true));

      const { code, reason } = await closed;
      expect(code).toBe(4408);
      expect(reason).toBe('Connection initialisation timeout');
      expect(Date.now() - t0).toBeGreaterThanOrEqual(280);
      expect(Date.now() - t0).toBeLessThan(5000);
      await acked;
      await sleep(400);
      expect(politeClosed).toBe(false);
      expect(polite.readyState).toBe(WebSocket.OPEN);
      polite.close(1000);
    });
  });
});
