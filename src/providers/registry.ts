/* ProviderKind → adapter. */
import type { ProviderAdapter } from './types.js';
import { createEchoAdapter } from './echo/index.js';
import { createOpenAIAdapter } from './openai/index.js';
import { createOpenAICompatibleAdapter } from './openai-compatible/index.js';
import { createAnthropicAdapter } from './anthropic/index.js';
import { createGeminiAdapter } from './gemini/index.js';
import { createAzureOpenAIAdapter } from './azure-openai/index.js';
import { createBedrockAdapter } from './bedrock/index.js';
import { createVertexAdapter } from './vertex/index.js';
import { withScrubbedErrors } from './with-scrubbed-errors.js';

export type ProviderKind = 'OPENAI' | 'ANTHROPIC' | 'GEMINI' | 'OPENAI_COMPATIBLE' | 'ECHO' | 'AZURE_OPENAI' | 'BEDROCK' | 'VERTEX';
export const PROVIDER_KINDS: ProviderKind[] = ['OPENAI', 'ANTHROPIC', 'GEMINI', 'OPENAI_COMPATIBLE', 'ECHO', 'AZURE_OPENAI', 'BEDROCK', 'VERTEX'];

export type AdapterRegistry = Record<ProviderKind, ProviderAdapter | undefined>;

/** Every adapter, overrides included, behind the secret scrubbing of its error messages. */
export function createAdapterRegistry(overrides: Partial<AdapterRegistry> = {}): AdapterRegistry {
  const adapters: AdapterRegistry = {
    OPENAI: createOpenAIAdapter(),
    ANTHROPIC: createAnthropicAdapter(),
    GEMINI: createGeminiAdapter(),
    OPENAI_COMPATIBLE: createOpenAICompatibleAdapter(),
    // spaced words so the playground shows a stream; tests override it
    ECHO: createEchoAdapter({ wordDelayMs: 20 }),
    AZURE_OPENAI: createAzureOpenAIAdapter(),
    BEDROCK: createBedrockAdapter(),
    VERTEX: createVertexAdapter(),
    ...overrides,
  };
  for (const kind of PROVIDER_KINDS) {
    const a = adapters[kind];
    if (a) adapters[kind] = withScrubbedErrors(a);
  }
  return adapters;
}
