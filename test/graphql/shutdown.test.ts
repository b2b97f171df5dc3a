/* Graceful shutdown: stop accepting, let in-flight requests finish, flush their usage records, then close. */
import { describe, expect, it } from 'vitest';
import { freshConnection } from '../kit/fresh-connection.js';
import type { UsageEvent } from '../../src/gateway/usage-writer.js';
import { createEchoAdapter } from '../../src/providers/echo/index.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { sseSubscribe } from '../kit/sse.js';
import { createWsClient } from '../kit/ws.js';
import { CHAT, CHAT_STREAM, chatInput, instrument, waitFor } from './helpers.js';

/** Collects every usage record the writer reports as durably written (the feed publishes after the insert). */
function watchWrites(gw: TestGateway) {
  const written: UsageEvent[] = [];
  const it = gw.app.services.feed.subscribe()[Symbol.asyncIterator]();
  let open = true;
  void (async () => {
    while (open) {
      const r = await it.next();
      if (r.done) break;
      written.push(r.value as UsageEvent);
    }
  })();
  return { written, close: () => ((open = false), it.return?.()) };
}


type Chunk = { delta: string; finishReason: string | null; usage: { totalTokens: number } | null };

describe('graceful shutdown', () => {
  it('in-flight HTTP chat and SSE stream complete, new connections are refused, usage is flushed before close', async () => {
    const slow = instrument(createEchoAdapter({ wordDelayMs: 100 }), { chatDelayMs: 400 });
    const gw = await startGateway({}, { adapters: { ECHO: slow.adapter } });
    const writes = watchWrites(gw);
    try {
      const key = await gw.createKey({ name: 'in flight', scopes: ['INVOKE'] });

      const chat = gw.gql<{ chat: { message: { content: string } } }>(CHAT, { input: chatInput('slow chat', { metadata: { op: 'chat' } }) }, key.secret);
      const sub = sseSubscribe<{ chatStream: Chunk }>(gw.url, CHAT_STREAM, { input: chatInput('one two three four', { metadata: { op: 'stream' } }) }, key.secret);
      const chunks: Chunk[] = [];
      const streamDone = (async () => {
        for await (const r of sub.results) chunks.push(r.data!.chatStream);
      })();
      await waitFor(() => chunks.length > 0, 'the first streamed chunk');

      const stopped = gw.app.stop(5000);
      await waitFor(async () => (await freshConnection(gw.url)) === 'refused', 'the listener to stop accepting', 2000);

      const [chatRes] = await Promise.all([chat, streamDone, stopped]);
      expect(chatRes.errors).toBeUndefined();
      expect(chatRes.data?.chat.message.content).toBe('echo: slow chat');
      expect(chunks.map((c) => c.delta).join('')).toBe('echo: one two three four');
      expect(chunks.at(-1)).toMatchObject({ finishReason: 'STOP', usage: { totalTokens: 9 } });

      expect(gw.app.usage.pending()).toBe(0);
      const ops = writes.written.filter((e) => e.apiKeyId === key.uuid).map((e) => [e.metadata?.op, e.status]);
      expect(ops.sort()).toEqual([
        ['chat', 'OK'],
        ['stream', 'OK'],
      ]);
      // the database is closed now
      await expect(gw.app.services.database.ping()).resolves.toBe(false);
    } finally {
      writes.close();
      await gw.stop();
    }
  });

  it('a websocket stream cut by shutdown still leaves its (CANCELLED) usage record, written before close', async () => {
    const slow = instrument(createEchoAdapter({ wordDelayMs: 200 }));
    const gw = await startGateway({}, { adapters: { ECHO: slow.adapter } });
    const writes = watchWrites(gw);
    const key = await gw.createKey({ name: 'ws in flight', scopes: ['INVOKE'] });
    const client = createWsClient(gw.url, key.secret);
    try {
      const words = Array.from({ length: 30 }, (_, i) => `w${i}`).join(' ');
      let got = 0;
      let ended: unknown = null;
      client.subscribe(
        { query: CHAT_STREAM, variables: { input: chatInput(words) } },
        { next: () => void got++, error: (e) => (ended = e ?? 'error'), complete: () => (ended = 'complete') },
      );
      await waitFor(() => got > 0, 'the first websocket chunk');
      await gw.app.stop(2000);

      expect(ended).not.toBeNull();
      expect(slow.stats.streamsEnded).toBe(1);
      expect(slow.stats.streamsCompleted).toBe(0);
      expect(gw.app.usage.pending()).toBe(0);
      const mine = writes.written.filter((e) => e.apiKeyId === key.uuid);
      expect(mine.map((e) => e.status)).toEqual(['CANCELLED']);
    } finally {
      writes.close();
      await client.dispose();
      await gw.stop();
    }
  });
});
