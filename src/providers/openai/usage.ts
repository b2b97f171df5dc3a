import { countMessagesTokens, countTextTokens } from '../count-tokens.js';
import type { ChatRequest, ToolCall, Usage } from '../types.js';

/** The `usage` object of chat completions, chunks and embeddings (embeddings omit completion_tokens). */
export interface OpenAIUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  total_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number; audio_tokens?: number } | null;
  completion_tokens_details?: {
    reasoning_tokens?: number;
    audio_tokens?: number;
    accepted_prediction_tokens?: number;
    rejected_prediction_tokens?: number;
  } | null;
}

const isCount = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n) && n >= 0;

/**
 * Maps a reported chat `usage` to exact unified usage; undefined when the provider reported none
 * (compatible servers may omit it or send it half-filled), so the caller counts locally.
 * @see https://platform.openai.com/docs/api-reference/chat/object#chat/object-usage
 */
export function mapUsage(usage: OpenAIUsage | null | undefined): Usage | undefined {
  if (!usage || !isCount(usage.prompt_tokens) || !isCount(usage.completion_tokens)) return undefined;
  const total = isCount(usage.total_tokens) ? usage.total_tokens : usage.prompt_tokens + usage.completion_tokens;
  const out: Usage = { promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens, totalTokens: total, exact: true };
  // both are parts of the totals above, priced at their own rate (cached input, reasoning output)
  const cached = usage.prompt_tokens_details?.cached_tokens;
  if (isCount(cached) && cached > 0) out.cachedReadTokens = cached;
  const reasoning = usage.completion_tokens_details?.reasoning_tokens;
  if (isCount(reasoning) && reasoning > 0) out.reasoningTokens = reasoning;
  return out;
}

/**
 * Maps embeddings `usage` (prompt tokens only) to exact unified usage; undefined when missing.
 * @see https://platform.openai.com/docs/api-reference/embeddings/object
 */
export function mapEmbeddingsUsage(usage: OpenAIUsage | null | undefined): Usage | undefined {
  if (!usage || !isCount(usage.prompt_tokens)) return undefined;
  const total = isCount(usage.total_tokens) ? usage.total_tokens : usage.prompt_tokens;
  return { promptTokens: usage.prompt_tokens, completionTokens: 0, totalTokens: total, exact: true };
}

/** Local estimate of a chat call's usage, for providers that report none. */
export function estimateChatUsage(req: ChatRequest, content: string, toolCalls: Pick<ToolCall, 'name' | 'arguments'>[]): Usage {
  // tool definitions are part of the prompt the model was billed for
  const promptTokens = countMessagesTokens(req.messages) + (req.tools?.length ? countTextTokens(JSON.stringify(req.tools)) : 0);
  let completionTokens = countTextTokens(content);
  for (const c of toolCalls) completionTokens += countTextTokens(c.name) + countTextTokens(c.arguments);
  return { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens, exact: false };
}

/** Local estimate of an embeddings call's usage, for providers that report none. */
export function estimateEmbeddingsUsage(input: string[]): Usage {
  const promptTokens = input.reduce((n, s) => n + countTextTokens(s), 0);
  return { promptTokens, completionTokens: 0, totalTokens: promptTokens, exact: false };
}
