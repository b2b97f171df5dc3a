/* Every event of a chatStream has an identity of its own (a normalising client cache keeps them all); the invocation id is its own field. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sseSubscribe } from '../kit/sse.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { usageOf } from './helpers.js';

const STREAM = `subscription($input: ChatInput!) { chatStream(input: $input) { __typename id invocationId index delta finishReason } }`;

let gw: TestGateway;
let key: { id: string; secret: string };
beforeAll(async () => {
  gw = await startGateway();
  key = await gw.createKey({ name: 'streamer', scopes: ['INVOKE', 'READ_USAGE'] });
});
afterAll(async () => {
  await gw?.stop();
});

describe('ChatChunk identity', () => {
  it('ids differ per event, invocationId is shared and names the usage record, index counts from 0', async () => {
    const sub = sseSubscribe(gw.url, STREAM, { input: { model: 'echo', messages: [{ role: 'USER', content: 'one two three four' }] } }, key.secret);
    const chunks: Array<{ id: string; invocationId: string; index: number; delta: string; finishReason: string | null }> = [];
    for await (const r of sub.results) chunks.push(r.data!.chatStream);
    expect(chunks.length).toBeGreaterThan(3);
    expect(new Set(chunks.map((c) => c.id)).size).toBe(chunks.length);
    expect(new Set(chunks.map((c) => c.invocationId)).size).toBe(1);
    expect(chunks.map((c) => c.index)).toEqual(chunks.map((_, i) => i));
    expect(chunks.at(-1)!.finishReason).toBe('STOP');
    await gw.flushUsage();
    const records = await usageOf(gw, key.id);
    expect(records.map((r) => r.invocationId)).toEqual([chunks[0].invocationId]);
  });
});
