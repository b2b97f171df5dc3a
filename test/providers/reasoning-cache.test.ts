/*
 * Reasoning and prompt caching in the adapters: the Anthropic adapter sends `thinking`, sends signed thinking blocks
 * back, puts cache_control where it was asked for and parses thinking blocks (unary and streamed); the OpenAI
 * adapter maps the reasoning options to `reasoning_effort`.
 * @see https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking
 * @see https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching
 * @see https://platform.openai.com/docs/api-reference/chat/create#chat-create-reasoning_effort
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAnthropicAdapter } from '../../src/providers/anthropic/index.js';
import { buildAnthropicRequest, DEFAULT_MAX_TOKENS } from '../../src/providers/anthropic/request.js';
import { closeUpstreamAgent } from '../../src/providers/http.js';
import { toChatBody } from '../../src/providers/openai/request.js';
import type { CallOptions, ChatRequest, StreamChunk } from '../../src/providers/types.js';
import { startAnthropicMock, type AnthropicMock } from '../mocks/anthropic.js';

const adapter = createAnthropicAdapter();
let mock: AnthropicMock;

beforeAll(async () => {
  mock = await startAnthropicMock();
});
afterAll(async () => {
  await mock.close();
  await closeUpstreamAgent();
});
beforeEach(() => {
  mock.reply({});
  mock.requests.length = 0;
});

const opts = (): CallOptions => ({ signal: new AbortController().signal, timeoutMs: 5_000, baseUrl: mock.url, apiKey: 'sk-ant-test' });
const req = (over: Partial<ChatRequest> = {}): ChatRequest => ({ model: 'claude-sonnet-4-5', messages: [{ role: 'USER', content: 'Hi' }], ...over });

describe('Anthropic request: thinking and cache_control', () => {
  it('sends a thinking budget, makes room for it in max_tokens, and leaves temperature out', () => {
    const body = buildAnthropicRequest(req({ reasoning: { budgetTokens: 8000 }, temperature: 0.2 }));
    expect(body.thinking).toEqual({ type: 'enabled', budget_tokens: 8000 });
    expect(body.max_tokens).toBe(8000 + DEFAULT_MAX_TOKENS);
    expect(body.temperature).toBeUndefined();
    // the caller's own max_tokens is kept; an effort becomes a budget, at least Anthropic's minimum
    expect(buildAnthropicRequest(req({ reasoning: { effort: 'LOW' }, maxTokens: 3000 }))).toMatchObject({ thinking: { budget_tokens: 1024 }, max_tokens: 3000 });
    expect(buildAnthropicRequest(req({ temperature: 0.2 }))).not.toHaveProperty('thinking');
  });

  it('sends an assistant turn\'s signed and redacted thinking first, and drops unsigned reasoning it cannot verify', () => {
    const body = buildAnthropicRequest(
      req({
        messages: [
          { role: 'USER', content: 'Q' },
          {
            role: 'ASSISTANT',
            content: 'A',
            toolCalls: [{ id: 'toolu_1', name: 'f', arguments: '{}' }],
            reasoning: [{ text: 'thought', signature: 'sig' }, { text: '', redactedData: 'xyz' }, { text: 'from another provider' }],
          },
        ],
      }),
    );
    expect(body.messages[1]).toEqual({
      role: 'assistant',
      content: [
        { type: 'thinking', thinking: 'thought', signature: 'sig' },
        { type: 'redacted_thinking', data: 'xyz' },
        { type: 'text', text: 'A' },
        { type: 'tool_use', id: 'toolu_1', name: 'f', input: {} },
      ],
    });
  });

  it('puts cache_control on parts, on a message\'s last block, on tools, on a tool result and on the system blocks', () => {
    const eph = { type: 'ephemeral' as const };
    const body = buildAnthropicRequest(
      req({
        messages: [
          { role: 'SYSTEM', content: 'Rules.', cacheControl: eph },
          { role: 'USER', content: null, parts: [{ type: 'TEXT', text: 'a', cacheControl: eph }, { type: 'TEXT', text: 'b' }] },
          { role: 'ASSISTANT', content: null, toolCalls: [{ id: 't1', name: 'f', arguments: '{}' }], cacheControl: { type: 'ephemeral', ttl: '1h' } },
          { role: 'TOOL', content: 'result', toolCallId: 't1', cacheControl: eph },
          { role: 'USER', content: 'next', cacheControl: eph },
        ],
        tools: [{ name: 'f', cacheControl: eph }],
      }),
    );
    expect(body.system).toEqual([{ type: 'text', text: 'Rules.', cache_control: eph }]);
    expect(body.tools).toEqual([{ name: 'f', input_schema: { type: 'object', properties: {} }, cache_control: eph }]);
    expect(body.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'a', cache_control: eph }, { type: 'text', text: 'b' }] },
      { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'f', input: {}, cache_control: { type: 'ephemeral', ttl: '1h' } }] },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 't1', content: 'result', cache_control: eph },
          { type: 'text', text: 'next', cache_control: eph },
        ],
      },
    ]);
    // without any breakpoint the system prompt stays a plain string
    expect(buildAnthropicRequest(req({ messages: [{ role: 'SYSTEM', content: 'Rules.' }, { role: 'USER', content: 'x' }] })).system).toBe('Rules.');
  });
});

describe('Anthropic response: thinking blocks', () => {
  it('parses thinking and redacted_thinking blocks into ChatResponse.reasoning', async () => {
    mock.reply({ thinking: [{ thinking: 'Hmm.', signature: 's1' }, { redacted: 'r1' }], text: 'Done.' });
    const res = await adapter.chat(req({ reasoning: { budgetTokens: 1024 } }), opts());
    expect(res.content).toBe('Done.');
    expect(res.reasoning).toEqual([{ text: 'Hmm.', signature: 's1' }, { text: '', redactedData: 'r1' }]);
    expect(mock.last().body).toMatchObject({ thinking: { type: 'enabled', budget_tokens: 1024 } });
  });

  it('streams thinking_delta as reasoning deltas, signature_delta as the closing signature, redacted blocks whole', async () => {
    mock.reply({ thinking: [{ thinking: 'One two.', signature: 's2' }, { redacted: 'r2' }], text: 'Answer.' });
    const chunks: StreamChunk[] = [];
    for await (const c of adapter.stream(req({ reasoning: { budgetTokens: 2000 } }), opts())) chunks.push(c);
    const reasoning = chunks.filter((c) => c.reasoning).map((c) => c.reasoning);
    expect(reasoning).toEqual([{ delta: 'One' }, { delta: ' two.' }, { signature: 's2' }, { redactedData: 'r2' }]);
    expect(chunks.map((c) => c.delta).join('')).toBe('Answer.');
    // reasoning comes before the text
    expect(chunks.findIndex((c) => c.delta)).toBeGreaterThan(chunks.findIndex((c) => c.reasoning?.redactedData));
  });
});

describe('Anthropic request: thinking fitted to what Anthropic accepts (the mock enforces its rules)', () => {
  it('an effort budget shrinks under the caller\'s max_tokens, or thinking stays off when the minimum does not fit', async () => {
    await adapter.chat(req({ reasoning: { effort: 'HIGH' }, maxTokens: 3000 }), opts());
    expect(mock.last().body).toMatchObject({ max_tokens: 3000, thinking: { type: 'enabled', budget_tokens: 2999 } });
    await adapter.chat(req({ reasoning: { effort: 'HIGH' }, maxTokens: 1000 }), opts());
    expect(mock.last().body.max_tokens).toBe(1000);
    expect(mock.last().body).not.toHaveProperty('thinking');
  });

  it('a forced tool choice turns thinking off; top_p is raised to 0.95 while thinking', async () => {
    const tools = [{ name: 'lookup', parameters: { type: 'object', properties: {} } }];
    await adapter.chat(req({ reasoning: { effort: 'LOW' }, tools, toolChoice: 'REQUIRED', temperature: 0.3 }), opts());
    expect(mock.last().body).toMatchObject({ tool_choice: { type: 'any' }, temperature: 0.3 });
    expect(mock.last().body).not.toHaveProperty('thinking');
    await adapter.chat(req({ reasoning: { effort: 'LOW' }, tools, toolChoice: { name: 'lookup' } }), opts());
    expect(mock.last().body).not.toHaveProperty('thinking');
    await adapter.chat(req({ reasoning: { effort: 'LOW' }, tools, toolChoice: 'AUTO', topP: 0.5 }), opts());
    expect(mock.last().body).toMatchObject({ tool_choice: { type: 'auto' }, top_p: 0.95, thinking: { budget_tokens: 1024 } });
  });
});

describe('OpenAI request: reasoning_effort', () => {
  it('sends the effort asked for; a budget alone is not sent (models that do not reason refuse the field)', () => {
    const body = (r: ChatRequest['reasoning']) => toChatBody(req({ reasoning: r }), { stream: false });
    expect(body({ effort: 'LOW' }).reasoning_effort).toBe('low');
    expect(body({ effort: 'MEDIUM' }).reasoning_effort).toBe('medium');
    expect(body({ effort: 'HIGH', budgetTokens: 1024 }).reasoning_effort).toBe('high');
    expect(body({ budgetTokens: 32000 })).not.toHaveProperty('reasoning_effort');
    expect(body(undefined)).not.toHaveProperty('reasoning_effort');
  });
});
