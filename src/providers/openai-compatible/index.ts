/* OpenAI-compatible servers (vLLM, Ollama, llama.cpp, LM Studio, Groq, Mistral, Together…): openai's code, compatible mode. */
import { createOpenAIAdapter } from '../openai/index.js';
import type { ProviderAdapter } from '../types.js';

/**
 * The OpenAI adapter in compatible mode: the call's base URL is required (it includes `/v1`),
 * `max_tokens` is sent instead of `max_completion_tokens`, and missing usage, ids, models,
 * finish reasons and `[DONE]` are tolerated (usage is then counted locally, `exact: false`).
 */
export function createOpenAICompatibleAdapter(): ProviderAdapter {
  return createOpenAIAdapter({ provider: 'openai-compatible', compatible: true });
}
