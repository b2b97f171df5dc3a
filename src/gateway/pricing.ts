/* tokens × the model's prices → USD, rounded to the 10 decimals the usage table stores. */
export function costUsd(
  prices: { inputPricePerMTok: number | null; outputPricePerMTok: number | null },
  promptTokens: number,
  completionTokens: number,
): number {
  const raw = (promptTokens * (prices.inputPricePerMTok ?? 0) + completionTokens * (prices.outputPricePerMTok ?? 0)) / 1e6;
  return Math.round(raw * 1e10) / 1e10;
}
