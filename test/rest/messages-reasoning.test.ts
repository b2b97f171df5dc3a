/*
 * Reasoning through the pipeline, seen from /v1/messages: a cached answer replays its thinking blocks (signature
 * included) as the upstream streamed them, and under output guardrails the thinking, which cannot be judged and
 * rewritten without breaking its signature, is withheld from the caller.
 * @see https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking
 */
import Anthropic from '@anthropic-ai/sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { startAnthropicMock, type AnthropicMock } from '../mocks/anthropic.js';
import { createModel } from './kit.js';

let gw: TestGateway;
let mock: AnthropicMock;
let client: Anthropic;

beforeAll(async () => {
  [gw, mock] = await Promise.all([startGateway(), startAnthropicMock()]);
  const p = await gw.gql('mutation($i: CreateProviderInput!) { createProvider(input: $i) { id } }', {
    i: { name: 'mock-anthropic', kind: 'ANTHROPIC', baseUrl: mock.url, apiKey: 'sk-ant-mock' },
  });
  expect(p.errors).toBeUndefined();
  const r = await gw.gql('mutation($i: CreateGuardrailPolicyInput!) { createGuardrailPolicy(input: $i) { id } }', {
    i: { name: 'emails-out', output: { pii: { kinds: ['EMAIL'], action: 'REDACT' } } },
  });
  expect(r.errors).toBeUndefined();
  const targets = [{ provider: 'mock-anthropic', upstreamModel: 'claude-sonnet-4-5' }];
  await createModel(gw, { name: 'claude-cached', targets, cache: { mode: 'EXACT' } });
  await createModel(gw, { name: 'claude-guarded', targets, guardrailPolicies: ['emails-out'] });
  const key = await gw.createKey({ scopes: ['INVOKE'] });
  client = new Anthropic({ baseURL: gw.url, apiKey: key.secret, maxRetries: 0, timeout: 10_000 });
});
beforeEach(() => {
  mock.requests.length = 0;
});
afterAll(async () => {
  await Promise.all([gw?.stop(), mock?.close()]);
});

const thinking = { thinking: 'Mail jane.doe@example.com later.', signature: 'sig-123' };

describe('reasoning through the pipeline', () => {
  it('a cache hit replays the thinking blocks, signature included, before the text', async () => {
    mock.reply({ thinking: [thinking], text: 'Noted.' });
    const req = { model: 'claude-cached', max_tokens: 3000, thinking: { type: 'enabled' as const, budget_tokens: 1024 }, messages: [{ role: 'user' as const, content: 'remember' }] };
    const first = await client.messages.stream(req).finalMessage();
    expect(first.content).toEqual([{ type: 'thinking', ...thinking }, { type: 'text', text: 'Noted.' }]);

    const hit = client.messages.stream(req);
    const deltas: string[] = [];
    hit.on('streamEvent', (e) => {
      if (e.type === 'content_block_delta') deltas.push(e.delta.type);
    });
    const replayed = await hit.finalMessage();
    expect(mock.requests).toHaveLength(1);
    expect(replayed.content).toEqual(first.content);
    expect(deltas).toContain('signature_delta');
    const { response } = await client.messages.create(req).withResponse();
    expect(response.headers.get('x-gateway-cache')).toBe('HIT-EXACT');
    expect(mock.requests).toHaveLength(1);
  });

  it('under output guardrails the thinking is withheld (create and stream) and the text judged', async () => {
    mock.reply({ thinking: [thinking], text: 'Write to jane.doe@example.com.' });
    const req = { model: 'claude-guarded', max_tokens: 3000, thinking: { type: 'enabled' as const, budget_tokens: 1024 }, messages: [{ role: 'user' as const, content: 'who?' }] };
    const msg = await client.messages.create(req);
    expect(msg.content).toEqual([{ type: 'text', text: 'Write to [EMAIL_1].' }]);
    const streamed = await client.messages.stream(req).finalMessage();
    expect(streamed.content).toEqual([{ type: 'text', text: 'Write to [EMAIL_1].' }]);
    expect(JSON.stringify([msg, streamed])).not.toContain('jane.doe');
  });
});
