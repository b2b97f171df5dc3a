/* Gemini usageMetadata → unified Usage. */
import { countMessagesTokens, countTextTokens } from '../count-tokens.js';
import type { ChatMessage, Usage } from '../types.js';

/** @see https://ai.google.dev/api/generate-content#UsageMetadata */
export interface GeminiUsageMetadata {
  promptTokenCount?: number;
  cachedContentTokenCount?: number;
  candidatesTokenCount?: number;
  toolUsePromptTokenCount?: number;
  thoughtsTokenCount?: number;
  totalTokenCount?: number;
}

/**
 * Thinking tokens are billed as output, so they count as completion tokens; tool-use prompt tokens
 * (prompts of built-in tools) count as prompt. Cached tokens are already inside promptTokenCount.
 * @see https://ai.google.dev/api/generate-content#UsageMetadata
 */
export function mapUsage(u: GeminiUsageMetadata): Usage {
  const promptTokens = (u.promptTokenCount ?? 0) + (u.toolUsePromptTokenCount ?? 0);
  const completionTokens = (u.candidatesTokenCount ?? 0) + (u.thoughtsTokenCount ?? 0);
  const out: Usage = { promptTokens, completionTokens, totalTokens: u.totalTokenCount ?? promptTokens + completionTokens, exact: true };
  if (u.cachedContentTokenCount) out.cachedReadTokens = u.cachedContentTokenCount;
  if (u.thoughtsTokenCount) out.reasoningTokens = u.thoughtsTokenCount;
  return out;
}

/** Local estimate for answers that came without usageMetadata (never marked exact). */
export function estimateUsage(messages: ChatMessage[], output: string): Usage {
  const promptTokens = countMessagesTokens(messages);
  const completionTokens = countTextTokens(output);
  return { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens, exact: false };
}
