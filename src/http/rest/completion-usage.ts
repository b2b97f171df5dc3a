/* UsageOut → chat completions' `usage`, details included as OpenAI sends them (cache writes have no field there: they stay in prompt_tokens). */
import type { UsageOut } from '../../gateway/results.js';

/** @see https://platform.openai.com/docs/api-reference/chat/object#chat/object-usage */
export function completionUsage(u: UsageOut) {
  return {
    prompt_tokens: u.promptTokens,
    completion_tokens: u.completionTokens,
    total_tokens: u.totalTokens,
    prompt_tokens_details: { cached_tokens: u.cachedReadTokens },
    completion_tokens_details: { reasoning_tokens: u.reasoningTokens },
  };
}
