/* The overview's headline numbers, summed from its groups. */
import type { Bucket } from './load-overview';

export interface Totals {
  requests: number;
  tokens: number;
  costUsd: number;
  errorRate: number | null;
  /** Requests-weighted across groups: each group's percentile is exact, their blend is an estimate */
  p50LatencyMs: number | null;
  p95LatencyMs: number | null;
  p50TtftMs: number | null;
}

function weighted(groups: Bucket[], pick: (b: Bucket) => number | null | undefined): number | null {
  let sum = 0;
  let weight = 0;
  for (const g of groups) {
    const v = pick(g);
    if (v == null) continue;
    sum += v * g.requests;
    weight += g.requests;
  }
  return weight ? sum / weight : null;
}

export function totalsOf(groups: Bucket[]): Totals {
  const requests = groups.reduce((n, g) => n + g.requests, 0);
  const errors = groups.reduce((n, g) => n + g.errors, 0);
  return {
    requests,
    tokens: groups.reduce((n, g) => n + g.promptTokens + g.completionTokens, 0),
    costUsd: groups.reduce((n, g) => n + g.costUsd, 0),
    errorRate: requests ? errors / requests : null,
    p50LatencyMs: groups.length === 1 ? groups[0].p50LatencyMs ?? null : weighted(groups, (g) => g.p50LatencyMs),
    p95LatencyMs: groups.length === 1 ? groups[0].p95LatencyMs ?? null : weighted(groups, (g) => g.p95LatencyMs),
    p50TtftMs: groups.length === 1 ? groups[0].p50TtftMs ?? null : weighted(groups, (g) => g.p50TtftMs),
  };
}
