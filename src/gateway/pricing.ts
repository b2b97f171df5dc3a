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
}

/** The counts a price applies to; the optional ones are parts of promptTokens / completionTokens (see Usage). */
export type TokenCounts = Pick<Usage, 'promptTokens' | 'completionTokens' | 'cachedReadTokens' | 'cacheWriteTokens' | 'reasoningTokens'>;

export function costUsd(prices: ModelPrices, tokens: TokenCounts): number {
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
