/* Anthropic usage → unified Usage. */
import type { Usage } from '../types.js';

/** Anthropic's usage object; cache counters are absent or null when prompt caching is not involved. */
export interface AnthropicUsage {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
}

/**
 * Prompt tokens include cache writes and reads: Anthropic counts them apart from `input_tokens`,
 * but they are all tokens of the prompt the caller sent.
 * @see https://docs.anthropic.com/en/api/messages#response-usage
 */
export function mapUsage(u: AnthropicUsage): Usage {
  const promptTokens = (u.input_tokens ?? 0) + (u.cache_creation_input_tokens ?? 0) + (u.cache_read_input_tokens ?? 0);
  const completionTokens = u.output_tokens ?? 0;
  const out: Usage = { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens, exact: true };
  if (u.cache_read_input_tokens) out.cachedReadTokens = u.cache_read_input_tokens;
  if (u.cache_creation_input_tokens) out.cacheWriteTokens = u.cache_creation_input_tokens;
  // Anthropic reports no separate thinking count: thinking is inside output_tokens, billed at the output rate
  return out;
}

/**
 * Streaming usage arrives in parts (message_start, then message_delta): later non-null values win.
 * @see https://docs.anthropic.com/en/docs/build-with-claude/streaming#event-types
 */
export function mergeUsage(into: AnthropicUsage, from: AnthropicUsage | null | undefined): AnthropicUsage {
  if (!from) return into;
  // not `{ ...into }`: keys added to a spread copy build a new hidden class per call on Node 20's V8
  const out: AnthropicUsage = Object.assign({}, into);
  for (const k of ['input_tokens', 'output_tokens', 'cache_creation_input_tokens', 'cache_read_input_tokens'] as const) {
    const v = from[k];
    if (typeof v === 'number') out[k] = v;
  }
  return out;
}
