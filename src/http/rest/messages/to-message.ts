/*
 * The gateway's answer in Anthropic's shapes: a ChatResult as a Message object, and the parts both the Message and
 * the stream share (stop reason, usage, content blocks).
 * @see https://docs.anthropic.com/en/api/messages#response
 */
import type { ChatResult, UsageOut } from '../../../gateway/results.js';
import { argumentsObject } from '../../../providers/content.js';
import type { FinishReason, ReasoningBlock, ToolCall } from '../../../providers/types.js';

export type StopReason = 'end_turn' | 'max_tokens' | 'stop_sequence' | 'tool_use' | 'refusal';

type ContentBlock =
  | { type: 'text'; text: string; citations?: null }
  | { type: 'thinking'; thinking: string; signature: string }
  | { type: 'redacted_thinking'; data: string }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> };

export interface AnthropicUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

export interface AnthropicMessage {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: ContentBlock[];
  stop_reason: StopReason | null;
  stop_sequence: string | null;
  usage: AnthropicUsage;
}

/**
 * Which stop sequence matched is not carried through the gateway, so a stop is always `end_turn`; an ERROR finish
 * only ends a failed stream, which is answered with an error event instead.
 * @see https://docs.anthropic.com/en/api/handling-stop-reasons
 */
export const STOP_REASON: Record<FinishReason, StopReason> = {
  STOP: 'end_turn',
  LENGTH: 'max_tokens',
  TOOL_CALLS: 'tool_use',
  CONTENT_FILTER: 'refusal',
  ERROR: 'end_turn',
};

/** Anthropic counts cached input apart from `input_tokens`; the gateway's promptTokens holds all of it. */
export function anthropicUsage(u: UsageOut): AnthropicUsage {
  return {
    input_tokens: Math.max(0, u.promptTokens - u.cachedReadTokens - u.cacheWriteTokens),
    output_tokens: u.completionTokens,
    cache_creation_input_tokens: u.cacheWriteTokens,
    cache_read_input_tokens: u.cachedReadTokens,
  };
}

/** Message ids look like Anthropic's (`msg_…`); the rest is the invocation id, the usage record's. */
export const messageId = (invocationId: string) => `msg_${invocationId}`;

/**
 * A reasoning block as Anthropic's: signed thinking, or redacted. Reasoning from a provider that signs nothing
 * gets an empty signature (the field is required), which Anthropic would refuse if it were sent back to it.
 */
function thinkingBlock(b: ReasoningBlock): ContentBlock {
  if (b.redactedData !== undefined) return { type: 'redacted_thinking', data: b.redactedData };
  return { type: 'thinking', thinking: b.text, signature: b.signature ?? '' };
}

function toolUseBlock(c: ToolCall): ContentBlock {
  return { type: 'tool_use', id: c.id, name: c.name, input: argumentsObject(c.arguments) };
}

export function toMessage(r: ChatResult): AnthropicMessage {
  const content: ContentBlock[] = (r.message.reasoning ?? []).map(thinkingBlock);
  if (r.message.content) content.push({ type: 'text', text: r.message.content });
  for (const c of r.message.toolCalls) content.push(toolUseBlock(c));
  return {
    id: messageId(r.id),
    type: 'message',
    role: 'assistant',
    model: r.model,
    content,
    stop_reason: STOP_REASON[r.finishReason],
    stop_sequence: null,
    usage: anthropicUsage(r.usage),
  };
}
