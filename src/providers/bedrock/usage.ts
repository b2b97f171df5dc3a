/* Bedrock TokenUsage → unified Usage. */
import { countMessagesTokens, countTextTokens } from '../count-tokens.js';
import type { ChatMessage, Usage } from '../types.js';

/** @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_TokenUsage.html */
export interface BedrockUsage {
  inputTokens?: number;
  outputTokens?: number;
  totalTokens?: number;
  cacheReadInputTokens?: number;
  cacheWriteInputTokens?: number;
}

/**
 * `inputTokens` counts only the uncached input (as Anthropic's input_tokens): cache reads and writes come apart,
 * and the prompt is all three. Bedrock reports no reasoning count (thinking is inside outputTokens).
 * @see https://docs.aws.amazon.com/bedrock/latest/userguide/prompt-caching.html
 */
export function mapUsage(u: BedrockUsage): Usage {
  const cachedRead = u.cacheReadInputTokens ?? 0;
  const cacheWrite = u.cacheWriteInputTokens ?? 0;
  const promptTokens = (u.inputTokens ?? 0) + cachedRead + cacheWrite;
  const completionTokens = u.outputTokens ?? 0;
  const usage: Usage = { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens, exact: true };
  if (cachedRead) usage.cachedReadTokens = cachedRead;
  if (cacheWrite) usage.cacheWriteTokens = cacheWrite;
  return usage;
}

/** Counted locally when no usage came (a proxy dropped it, a stream without metadata). */
export function estimateUsage(messages: ChatMessage[], output: string): Usage {
  const promptTokens = countMessagesTokens(messages);
  const completionTokens = countTextTokens(output);
  return { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens, exact: false };
}
