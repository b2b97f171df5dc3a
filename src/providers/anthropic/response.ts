/* Anthropic Messages API response → unified ChatResponse. */
import { randomUUID } from 'node:crypto';
import { countMessagesTokens, countTextTokens } from '../count-tokens.js';
import type { ChatRequest, ChatResponse, ReasoningBlock, ToolCall } from '../types.js';
import { mapStopReason } from './finish-reason.js';
import { mapUsage, type AnthropicUsage } from './usage.js';

/** Response content blocks; server-tool blocks are carried but not surfaced. */
type AnthropicResponseBlock =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: unknown }
  | { type: 'thinking'; thinking: string; signature?: string }
  | { type: 'redacted_thinking'; data: string }
  | { type: string; [key: string]: unknown };

export interface AnthropicMessageResponse {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: AnthropicResponseBlock[];
  stop_reason: string | null;
  stop_sequence?: string | null;
  usage?: AnthropicUsage;
}

/**
 * Maps a (non-streaming) Message to the unified response.
 * @see https://docs.anthropic.com/en/api/messages#response
 */
export function parseAnthropicResponse(res: AnthropicMessageResponse, req: ChatRequest): ChatResponse {
  const blocks = Array.isArray(res.content) ? res.content : [];
  const texts: string[] = [];
  const toolCalls: ToolCall[] = [];
  const reasoning: ReasoningBlock[] = [];
  for (const b of blocks) {
    if (isText(b)) texts.push(b.text);
    else if (isToolUse(b)) toolCalls.push({ id: b.id, name: b.name, arguments: JSON.stringify(b.input ?? {}) });
    else if (b.type === 'thinking') reasoning.push(thinkingBlock(b));
    else if (b.type === 'redacted_thinking' && typeof b.data === 'string') reasoning.push({ text: '', redactedData: b.data });
  }
  const content = texts.length ? texts.join('') : null;
  const usage = res.usage
    ? mapUsage(res.usage)
    : (() => {
        // Anthropic always reports usage; this only guards against a proxy in between dropping it
        const promptTokens = countMessagesTokens(req.messages);
        const completionTokens = countTextTokens(content ?? '') + toolCalls.reduce((n, c) => n + countTextTokens(c.arguments), 0);
        return { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens, exact: false };
      })();
  return {
    id: res.id || `anthropic-${randomUUID()}`,
    upstreamModel: res.model || req.model,
    content,
    toolCalls,
    finishReason: mapStopReason(res.stop_reason),
    usage,
    ...(reasoning.length ? { reasoning } : {}),
  };
}

/**
 * A thinking block, its signature kept: it must go back unchanged on the next turn when tools were called.
 * @see https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking
 */
function thinkingBlock(block: AnthropicResponseBlock): ReasoningBlock {
  const b = block as { thinking?: unknown; signature?: unknown };
  const text = typeof b.thinking === 'string' ? b.thinking : '';
  return typeof b.signature === 'string' && b.signature ? { text, signature: b.signature } : { text };
}

function isText(b: AnthropicResponseBlock): b is { type: 'text'; text: string } {
  return b.type === 'text' && typeof (b as { text?: unknown }).text === 'string';
}

function isToolUse(b: AnthropicResponseBlock): b is { type: 'tool_use'; id: string; name: string; input: unknown } {
  return b.type === 'tool_use';
}
