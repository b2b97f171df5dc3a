/* The reservation settled to what the call really used, and the usage event filled; priced by the model that answered. */
import { costUsd, type ModelPrices, type TokenCounts } from '../pricing.js';
import type { Answer, Invocation } from '../invocation.js';
import type { UsageOut } from '../results.js';

/** `prices`: the answering target's (ResolvedTarget.prices), or the model's when no target answered. */
export function priceUsage(prices: ModelPrices, tokens: TokenCounts): UsageOut {
  const { promptTokens, completionTokens } = tokens;
  return {
    promptTokens,
    completionTokens,
    totalTokens: promptTokens + completionTokens,
    cachedReadTokens: tokens.cachedReadTokens ?? 0,
    cacheWriteTokens: tokens.cacheWriteTokens ?? 0,
    reasoningTokens: tokens.reasoningTokens ?? 0,
    costUsd: costUsd(prices, tokens),
  };
}

/** A complete answer, the upstream's or a step's, priced by the model that gave it. */
export function settleAnswer(inv: Invocation, answer: Answer): UsageOut {
  const used = answer.response.usage;
  const priced = priceUsage(answer.pricedBy, used);
  const ev = inv.event;
  // a cache hit asked no upstream: it counted as a request when admitted, but uses no tokens or budget
  const hit = answer.cacheHit;
  const usage = hit ? { ...priced, costUsd: 0 } : priced;
  inv.settle(hit ? 0 : usage.totalTokens, usage.costUsd);
  if (hit) {
    ev.cacheHit = hit.kind;
    ev.cacheSimilarity = hit.similarity;
    ev.costSavedUsd = priced.costUsd;
  }
  ev.provider = answer.provider;
  ev.upstreamModel = answer.upstreamModel;
  ev.promptTokens = usage.promptTokens;
  ev.completionTokens = usage.completionTokens;
  ev.cachedReadTokens = usage.cachedReadTokens;
  ev.cacheWriteTokens = usage.cacheWriteTokens;
  ev.reasoningTokens = usage.reasoningTokens;
  ev.costUsd = usage.costUsd;
  ev.latencyMs = inv.elapsedMs();
  ev.attempts = answer.attempts;
  ev.usageExact = used.exact;
  return usage;
}

/** A stream, however it ended: what was relayed counts when a target answered, nothing otherwise. */
export function settleStreamed(inv: Invocation, answered: boolean, usage: UsageOut, exact: boolean): void {
  inv.settle(answered ? usage.totalTokens : 0, answered ? usage.costUsd : 0);
  const ev = inv.event;
  ev.latencyMs = inv.elapsedMs();
  ev.promptTokens = answered ? usage.promptTokens : 0;
  ev.completionTokens = answered ? usage.completionTokens : 0;
  ev.cachedReadTokens = answered ? usage.cachedReadTokens : 0;
  ev.cacheWriteTokens = answered ? usage.cacheWriteTokens : 0;
  ev.reasoningTokens = answered ? usage.reasoningTokens : 0;
  ev.costUsd = answered ? usage.costUsd : 0;
  ev.usageExact = exact;
}
