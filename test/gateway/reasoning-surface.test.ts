/*
 * Reasoning chunks go only to surfaces that show them. GraphQL chatStream has no reasoning field: a thinking
 * upstream (Anthropic mock streaming thinking_delta / signature_delta) or a cached thinking answer must not reach a
 * subscriber as runs of empty chunks, so every chunk but the last carries text and the indexes run 0..n-1.
 * @see https://docs.anthropic.com/en/docs/build-with-claude/streaming#streaming-with-extended-thinking
 */
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { startAnthropicMock, type AnthropicMock } from '../mocks/anthropic.js';
import { createProvider, ok, uniq, withTimeout, wsClient } from './helpers.js';

let gw: TestGateway;
let mock: AnthropicMock;
let ws: Client;

beforeAll(async () => {
  [gw, mock] = await Promise.all([startGateway(), startAnthropicMock()]);
  ws = wsClient(gw, (await gw.createKey({ scopes: ['INVOKE'] })).secret);
});
afterAll(async () => {
  await ws?.dispose();
  await Promise.all([gw?.stop(), mock?.close()]);
});

const STREAM = 'subscription($input: ChatInput!) { chatStream(input: $input) { index delta finishReason } }';
type Chunk = { index: number; delta: string; finishReason: string | null };

function streamChunks(input: Record<string, unknown>): Promise<Chunk[]> {
  const chunks: Chunk[] = [];
  const done = new Promise<Chunk[]>((resolve, reject) => {
    ws.subscribe<{ chatStream: Chunk }>(
      { query: STREAM, variables: { input } },
      {
        next: (r) => (r.errors?.length ? reject(new Error(JSON.stringify(r.errors))) : r.data && chunks.push(r.data.chatStream)),
        error: (e) => reject(e instanceof Error ? e : new Error(JSON.stringify(e))),
        complete: () => resolve(chunks),
      },
    );
  });
  return withTimeout(done, 8000, 'the end of the chatStream subscription');
}

describe('reasoning and GraphQL chatStream', () => {
  it('a relayed and a replayed (cache hit) thinking answer stream only text chunks, indexes without gaps', async () => {
    const provider = uniq('anthropic');
    await createProvider(gw, { name: provider, kind: 'ANTHROPIC', baseUrl: mock.url, apiKey: 'sk-ant-mock' });
    const model = uniq('claude');
    const targets = [{ provider, upstreamModel: 'claude-sonnet-4-5' }];
    ok(await gw.gql('mutation($i: CreateModelInput!) { createModel(input: $i) { id } }', { i: { name: model, targets, cache: { mode: 'EXACT' } } }));
    mock.reply({ thinking: [{ thinking: 'Let me think about it.', signature: 'sig-1' }, { redacted: 'opaque' }], text: 'Forty two.' });
    const input = { model, messages: [{ role: 'USER', content: 'question' }] };
    for (const run of ['relayed', 'replayed']) {
      const chunks = await streamChunks(input);
      expect(chunks.map((c) => c.index), run).toEqual(chunks.map((_, i) => i));
      expect(chunks.slice(0, -1).every((c) => c.delta !== ''), run).toBe(true);
      expect(chunks.map((c) => c.delta).join(''), run).toBe('Forty two.');
      expect(chunks.at(-1)?.finishReason, run).toBe('STOP');
    }
    expect(mock.requests).toHaveLength(1);
  });
});
