/*
 * A failed tool's result (Anthropic `tool_result.is_error`) keeps its flag on the way through the gateway: the
 * unified TOOL message carries it, and each provider format that has one sends it (Anthropic `is_error`, Bedrock
 * `toolResult.status: "error"`); formats without one get the content as it is.
 * @see https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/implement-tool-use#handling-results-from-client-tools
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ToolResultBlock.html
 */
import { describe, expect, it } from 'vitest';
import { toChatRequest } from '../../src/gateway/chat-input.js';
import { MessagesRequest } from '../../src/http/rest/messages/schema.js';
import { toChatInput } from '../../src/http/rest/messages/to-chat-input.js';
import { buildAnthropicRequest } from '../../src/providers/anthropic/request.js';
import { buildConverseRequest } from '../../src/providers/bedrock/request.js';
import type { ChatRequest } from '../../src/providers/types.js';

const request = (isError: boolean | undefined): ChatRequest => ({
  model: 'claude-sonnet-4-5',
  ...toChatRequest(
    toChatInput(
      MessagesRequest.parse({
        model: 'm',
        max_tokens: 100,
        messages: [
          { role: 'user', content: 'Weather in Paris?' },
          { role: 'assistant', content: [{ type: 'tool_use', id: 'toolu_01', name: 'get_weather', input: { city: 'Paris' } }] },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01', content: 'service down', ...(isError === undefined ? {} : { is_error: isError }) }] },
        ],
      }),
      [],
    ).input,
  ),
});

describe('tool_result is_error', () => {
  it('is a flag on the TOOL message', () => {
    expect(request(true).messages[2]).toMatchObject({ role: 'TOOL', toolCallId: 'toolu_01', content: 'service down', isError: true });
    expect(request(false).messages[2].isError).toBeUndefined();
  });

  it('goes to Anthropic as is_error', () => {
    const sent = buildAnthropicRequest(request(true));
    expect(sent.messages[2]).toEqual({ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_01', content: 'service down', is_error: true }] });
    expect(JSON.stringify(buildAnthropicRequest(request(undefined)))).not.toContain('is_error');
  });

  it('goes to Bedrock as toolResult.status "error"', () => {
    const sent = buildConverseRequest(request(true));
    expect(sent.messages[2].content).toEqual([{ toolResult: { toolUseId: 'toolu_01', content: [{ text: 'service down' }], status: 'error' } }]);
    expect(JSON.stringify(buildConverseRequest(request(undefined)))).not.toContain('status');
  });
});
