/* Models registered when a provider's key is in the environment, so a user with one key can call them at once. */
import type { ProviderKind } from './registry.js';

export interface WellKnownModel {
  name: string;
  upstreamModel: string;
  inputPricePerMTok: number;
  outputPricePerMTok: number;
  contextWindow: number;
}

/** USD list prices per million tokens, as published by each provider. */
export const WELL_KNOWN_MODELS: Partial<Record<ProviderKind, WellKnownModel[]>> = {
  OPENAI: [
    { name: 'gpt-4o-mini', upstreamModel: 'gpt-4o-mini', inputPricePerMTok: 0.15, outputPricePerMTok: 0.6, contextWindow: 128_000 },
    { name: 'gpt-4o', upstreamModel: 'gpt-4o', inputPricePerMTok: 2.5, outputPricePerMTok: 10, contextWindow: 128_000 },
    { name: 'gpt-4.1-mini', upstreamModel: 'gpt-4.1-mini', inputPricePerMTok: 0.4, outputPricePerMTok: 1.6, contextWindow: 1_047_576 },
    { name: 'text-embedding-3-small', upstreamModel: 'text-embedding-3-small', inputPricePerMTok: 0.02, outputPricePerMTok: 0, contextWindow: 8191 },
  ],
  ANTHROPIC: [
    { name: 'claude-3-5-haiku-latest', upstreamModel: 'claude-3-5-haiku-latest', inputPricePerMTok: 0.8, outputPricePerMTok: 4, contextWindow: 200_000 },
    { name: 'claude-sonnet-4-0', upstreamModel: 'claude-sonnet-4-0', inputPricePerMTok: 3, outputPricePerMTok: 15, contextWindow: 200_000 },
  ],
  GEMINI: [
    { name: 'gemini-2.0-flash', upstreamModel: 'gemini-2.0-flash', inputPricePerMTok: 0.1, outputPricePerMTok: 0.4, contextWindow: 1_048_576 },
    { name: 'gemini-2.5-flash', upstreamModel: 'gemini-2.5-flash', inputPricePerMTok: 0.3, outputPricePerMTok: 2.5, contextWindow: 1_048_576 },
    { name: 'text-embedding-004', upstreamModel: 'text-embedding-004', inputPricePerMTok: 0, outputPricePerMTok: 0, contextWindow: 2048 },
  ],
};
