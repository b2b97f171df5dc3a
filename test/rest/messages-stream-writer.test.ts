/* MessageStreamWriter on its own: what it writes for chunks the adapters can produce but the mocks rarely do. */
import { describe, expect, it } from 'vitest';
import type { ChatChunk } from '../../src/gateway/results.js';
import { MessageStreamWriter } from '../../src/http/rest/messages/stream-writer.js';
import type { SseWriter } from '../../src/http/rest/sse.js';

/** An SseWriter stand-in keeping the events it is given. */
function recorder() {
  const events: Array<Record<string, unknown>> = [];
  const sse = { send: async (data: Record<string, unknown>) => (events.push(data), true) } as unknown as SseWriter;
  return { sse, events };
}

const chunk = (over: Partial<ChatChunk>): ChatChunk => ({ delta: '', finishReason: null, usage: null, toolCalls: [], ...over }) as unknown as ChatChunk;

async function toolUseIdOfOneTurn(): Promise<string> {
  const { sse, events } = recorder();
  const w = new MessageStreamWriter(sse, 'msg_1', 'm');
  await w.start();
  // a provider that streams a call without an id (the first call of every turn has index 0)
  await w.chunk(chunk({ toolCalls: [{ index: 0, name: 'lookup', argumentsDelta: '{}' }] }));
  const start = events.find((e) => e.type === 'content_block_start')!;
  return (start.content_block as { id: string }).id;
}

describe('MessageStreamWriter', () => {
  it('gives a tool call without an id a fresh tool_use id each turn', async () => {
    const a = await toolUseIdOfOneTurn();
    const b = await toolUseIdOfOneTurn();
    expect(a).toMatch(/^toolu_[0-9a-f]{16,}$/);
    expect(a).not.toBe(b);
  });
});
