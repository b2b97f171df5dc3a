/* tokens × the model's prices, each kind of token at its own rate → USD, rounded to the 10 decimals the usage table stores. */
import type { Usage } from '../providers/types.js';

export interface ModelPrices {
  inputPricePerMTok: number | null;
  outputPricePerMTok: number | null;
  /** null: the input price */
  cachedInputPricePerMTok?: number | null;
  /** null: the input price */
  cacheWritePricePerMTok?: number | null;
  /** null: the output price */
  reasoningPricePerMTok?: number | null;
  /**
   * Higher rates for long prompts (the catalogue's, e.g. Gemini 2.5 Pro above 200k): a call whose prompt has more
   * tokens than a tier's `abovePromptTokens` pays that tier's rates for every token of the kinds it names. Ascending.
   */
  tiers?: readonly PriceTier[];
}

export interface PriceTier {
  abovePromptTokens: number;
  rates: Partial<Pick<ModelPrices, 'inputPricePerMTok' | 'outputPricePerMTok' | 'cachedInputPricePerMTok' | 'cacheWritePricePerMTok'>>;
}

/** The prices with the rates of every tier the prompt is past laid over them (the last such tier wins per kind). */
function forPrompt(prices: ModelPrices, promptTokens: number): ModelPrices {
  if (!prices.tiers?.length) return prices;
  let out = prices;
  for (const t of prices.tiers) if (promptTokens > t.abovePromptTokens) out = { ...out, ...t.rates };
  return out;
}

/** The counts a price applies to; the optional ones are parts of promptTokens / completionTokens (see Usage). */
export type TokenCounts = Pick<Usage, 'promptTokens' | 'completionTokens' | 'cachedReadTokens' | 'cacheWriteTokens' | 'reasoningTokens'>;

export function costUsd(modelPrices: ModelPrices, tokens: TokenCounts): number {
  const prices = forPrompt(modelPrices, tokens.promptTokens);
  const input = prices.inputPricePerMTok ?? 0;
  const output = prices.outputPricePerMTok ?? 0;
  const cachedRead = tokens.cachedReadTokens ?? 0;
  const cacheWrite = tokens.cacheWriteTokens ?? 0;
  const reasoning = tokens.reasoningTokens ?? 0;
  // a provider that reports parts larger than the total is not charged below zero for the rest
  const uncachedInput = Math.max(0, tokens.promptTokens - cachedRead - cacheWrite);
  const plainOutput = Math.max(0, tokens.completionTokens - reasoning);
  const raw =
    uncachedInput * input +
    cachedRead * (prices.cachedInputPricePerMTok ?? input) +
    cacheWrite * (prices.cacheWritePricePerMTok ?? input) +
    plainOutput * output +
    reasoning * (prices.reasoningPricePerMTok ?? output);
  return Math.round((raw / 1e6) * 1e10) / 1e10;
}
