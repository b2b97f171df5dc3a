/* Unsubscribing stops the stream: over SSE (client goes away) and graphql-ws (complete), with a slow echo upstream. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEchoAdapter } from '../../src/providers/echo/index.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { sseSubscribe } from '../kit/sse.js';
import { createWsClient } from '../kit/ws.js';
import { CHAT_STREAM, chatInput, instrument, sleep, usageOf, waitFor, type AdapterStats } from './helpers.js';

const WORD_DELAY_MS = 100;
// 20 words: the whole answer would take over 2 s
const LONG = Array.from({ length: 20 }, (_, i) => `w${i}`).join(' ');

let gw: TestGateway;
let stats: AdapterStats;

beforeAll(async () => {
  const slow = instrument(createEchoAdapter({ wordDelayMs: WORD_DELAY_MS }));
  stats = slow.stats;
  gw = await startGateway({}, { adapters: { ECHO: slow.adapter } });
});

afterAll(async () => {
  await gw?.stop();
});

type Chunk = { delta: string; finishReason: string | null };

/** After a cancel: the upstream generator ended early, aborted, and stays quiet. */
async function expectUpstreamStopped(before: AdapterStats) {
  await waitFor(() => stats.streamsEnded === before.streamsEnded + 1, 'the upstream stream to end', 2000);
  expect(stats.streamsCompleted).toBe(before.streamsCompleted);
  // the adapter was told through its CallOptions.signal (a real provider's fetch aborts on it)
  expect(stats.signalsAborted).toBe(before.signalsAborted + 1);
  const yielded = stats.chunksYielded;
  await sleep(WORD_DELAY_MS * 4);
  expect(stats.chunksYielded).toBe(yielded);
  // the first word, and at most one more that was already on its way
  expect(yielded - before.chunksYielded).toBeLessThanOrEqual(2);
}

async function cancelledRecord(keyId: string) {
  return waitFor(async () => {
    const records = await usageOf(gw, keyId);
    return records.length ? records : null;
  }, 'the usage record of the cancelled stream');
}

describe('cancelling chatStream', () => {
  it('over SSE: closing the connection after the first chunk stops the upstream and records CANCELLED', async () => {
    const key = await gw.createKey({ name: 'sse canceller', scopes: ['INVOKE'] });
    const before = { ...stats };
    const sub = sseSubscribe<{ chatStream: Chunk }>(gw.url, CHAT_STREAM, { input: chatInput(LONG) }, key.secret);
    const received: Chunk[] = [];
    for await (const r of sub.results) {
      received.push(r.data!.chatStream);
      if (received.length === 1) sub.abort();
    }
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ delta: 'echo:', finishReason: null });

    await expectUpstreamStopped(before);
    const records = await cancelledRecord(key.id);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ model: 'echo', status: 'CANCELLED', streamed: true, provider: 'echo' });
    expect(records[0].completionTokens).toBeLessThan(21);
  });

  it('over graphql-ws: completing the subscription after the first chunk stops the upstream and records CANCELLED', async () => {
    const key = await gw.createKey({ name: 'ws canceller', scopes: ['INVOKE'] });
    const client = createWsClient(gw.url, key.secret);
    try {
      const before = { ...stats };
      const received: Chunk[] = [];
      let completed = false;
      let unsubscribe: () => void = () => {};
      await new Promise<void>((resolve, reject) => {
        unsubscribe = client.subscribe<{ chatStream: Chunk }>(
          { query: CHAT_STREAM, variables: { input: chatInput(LONG) } },
          {
            next: (r) => {
              received.push(r.data!.chatStream);
              if (received.length === 1) {
                unsubscribe();
                resolve();
              }
            },
            error: reject,
            complete: () => {
              completed = true;
            },
          },
        );
      });
      await expectUpstreamStopped(before);
      // no chunk arrives after the unsubscribe
      await sleep(WORD_DELAY_MS * 3);
      expect(received).toHaveLength(1);
      expect(completed).toBe(true);

      const records = await cancelledRecord(key.id);
      expect(records).toHaveLength(1);
      expect(records[0]).toMatchObject({ status: 'CANCELLED', streamed: true, errorCode: 'CANCELLED' });
    } finally {
      await client.dispose();
    }
  });

  it('closing the whole socket mid-stream cancels too', async () => {
    const key = await gw.createKey({ name: 'ws closer', scopes: ['INVOKE'] });
    const client = createWsClient(gw.url, key.secret);
    const before = { ...stats };
    await new Promise<void>((resolve, reject) => {
      client.subscribe<{ chatStream: Chunk }>(
        { query: CHAT_STREAM, variables: { input: chatInput(LONG) } },
        { next: () => resolve(), error: reject, complete: () => {} },
      );
    });
    await client.dispose();
    await expectUpstreamStopped(before);
    const records = await cancelledRecord(key.id);
    expect(records.map((r) => r.status)).toEqual(['CANCELLED']);
  });

  it('a stream left alone runs to STOP on the same slow upstream (the cancel is what stopped the others)', async () => {
    const key = await gw.createKey({ name: 'patient', scopes: ['INVOKE'] });
    const sub = sseSubscribe<{ chatStream: Chunk }>(gw.url, CHAT_STREAM, { input: chatInput('a b c') }, key.secret);
    const received: Chunk[] = [];
    for await (const r of sub.results) received.push(r.data!.chatStream);
    expect(received.map((c) => c.delta).join('')).toBe('echo: a b c');
    expect(received.at(-1)!.finishReason).toBe('STOP');
    const records = await usageOf(gw, key.id);
    expect(records.map((r) => r.status)).toEqual(['OK']);
    expect(records[0].ttftMs).toBeGreaterThanOrEqual(WORD_DELAY_MS - 20);
  });
});
