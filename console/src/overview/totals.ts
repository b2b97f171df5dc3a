/* The overview's headline numbers: the whole window as usageSummary gives it without a grouping. */
import type { WholeWindow } from './load-overview';

export interface Totals {
  requests: number;
  tokens: number;
  costUsd: number;
  errorRate: number | null;
  /** The whole window's percentiles (a sum of groups could not give them) */
  p50LatencyMs: number | null;
  p95LatencyMs: number | null;
  p50TtftMs: number | null;
  /** Share of the requests the response cache answered; null without requests */
  cacheHitRate: number | null;
  costSavedUsd: number;
}

export function totalsOf(whole: WholeWindow | null): Totals {
  if (!whole) return { requests: 0, tokens: 0, costUsd: 0, errorRate: null, p50LatencyMs: null, p95LatencyMs: null, p50TtftMs: null, cacheHitRate: null, costSavedUsd: 0 };
  return {
    requests: whole.requests,
    tokens: whole.promptTokens + whole.completionTokens,
    costUsd: whole.costUsd,
    errorRate: whole.requests ? whole.errors / whole.requests : null,
    p50LatencyMs: whole.p50LatencyMs ?? null,
    p95LatencyMs: whole.p95LatencyMs ?? null,
    p50TtftMs: whole.p50TtftMs ?? null,
    cacheHitRate: whole.requests ? whole.cacheHitRate : null,
    costSavedUsd: whole.costSavedUsd,
  };
}
