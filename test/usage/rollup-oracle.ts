/*
 * What usageSummary and usageSeries must answer, computed from the records themselves: generated usage events, the
 * records read back with SQL, their sums per group and point, and the comparison with an answer (sums exactly,
 * percentiles within the histograms' documented bound of percentile_cont).
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { expect } from 'vitest';
import type { UsageEvent, UsageStatus } from '../../src/gateway/usage-writer.js';
import type { TestGateway } from '../kit/start-gateway.js';
import { percentileCont, rowsOf, units, withinHistogramBound } from './usage-kit.js';

/** A deterministic random source (mulberry32), so a failure repeats. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const STATUSES: UsageStatus[] = ['OK', 'OK', 'OK', 'OK', 'OK', 'OK', 'OK', 'ERROR', 'RATE_LIMITED', 'CANCELLED', 'QUOTA_EXCEEDED'];

/** Milliseconds spread the way gateway latencies are: some below 32 ms (exact bins), most 0.1–20 s, a few minutes. */
function latencyMs(rand: () => number): number {
  const r = rand();
  if (r < 0.15) return Math.floor(rand() * 40);
  if (r < 0.9) return Math.round(100 * Math.exp(rand() * Math.log(200)));
  return Math.round(20_000 + rand() * 280_000);
}

export interface EventPlan {
  count: number;
  /** Records are spread evenly at random over [start, start + spanMs). */
  start: Date;
  spanMs: number;
  /** Key UUIDs a record may have; null stands for a record without key. */
  keys: Array<string | null>;
  models: string[];
  providers: Array<string | null>;
  seed: number;
}

const CACHE_KINDS = ['EXACT', 'SEMANTIC'] as const;

/** Usage events as the gateway would record them, varied in every field the rollups sum or group by. */
export function usageEvents(plan: EventPlan): UsageEvent[] {
  const rand = seededRandom(plan.seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  return Array.from({ length: plan.count }, () => {
    const streamed = rand() < 0.5;
    const prompt = Math.floor(rand() * 3000);
    const completion = Math.floor(rand() * 800);
    const event: UsageEvent = {
      id: randomUUID(),
      createdAt: new Date(plan.start.getTime() + Math.floor(rand() * plan.spanMs)),
      apiKeyId: pick(plan.keys),
      model: pick(plan.models),
      provider: pick(plan.providers),
      upstreamModel: 'upstream',
      promptTokens: prompt,
      completionTokens: completion,
      cachedReadTokens: 0,
      cacheWriteTokens: 0,
      reasoningTokens: 0,
      // ten decimals, as the cost column keeps them
      costUsd: Number((prompt * 0.0000015 + completion * 0.0000025 + Math.floor(rand() * 1000) * 1e-10).toFixed(10)),
      latencyMs: latencyMs(rand),
      ttftMs: streamed ? (rand() < 0.2 ? Math.floor(rand() * 32) : Math.round(50 * Math.exp(rand() * Math.log(100)))) : null,
      status: pick(STATUSES),
      errorCode: null,
      streamed,
      attempts: 1,
      usageExact: true,
      metadata: null,
      cacheHit: null,
      costSavedUsd: 0,
      cacheSimilarity: null,
      guardrails: null,
      teamId: null,
      endUser: null,
    };
    // drawn last, so the fields above are what they were before the cache existed; a hit costs 0 and saves the price
    const hit = rand() < 0.2 ? pick(CACHE_KINDS) : null;
    if (!hit) return event;
    return {
      ...event,
      cacheHit: hit,
      costSavedUsd: event.costUsd || 1e-10,
      costUsd: 0,
      cacheSimilarity: hit === 'EXACT' ? 1 : Number((0.9 + rand() * 0.1).toFixed(6)),
    };
  });
}

/** Records events through the gateway's own usage writer (the production path), then waits until they are written. */
export async function writeThroughGateway(gw: TestGateway, events: UsageEvent[]): Promise<void> {
  for (const e of events) gw.app.usage.record(e);
  await gw.flushUsage();
}

export interface Rec {
  ms: number;
  key: string | null;
  model: string;
  provider: string | null;
  status: string;
  latency: number;
  ttft: number | null;
  prompt: number;
  completion: number;
  cost: string;
  cacheHit: string | null;
  saved: string;
}

/** Every record, read straight from usage_records. */
export async function readRecords(gw: TestGateway): Promise<Rec[]> {
  const res = await gw.app.services.database.db.execute(sql`
    select (extract(epoch from created_at) * 1000)::float8 as ms, api_key_id::text as key, model, provider, status,
      latency_ms as latency, ttft_ms as ttft, prompt_tokens as prompt, completion_tokens as completion, cost_usd::text as cost,
      cache_hit as "cacheHit", cost_saved_usd::text as saved
    from usage_records`);
  return rowsOf<Rec>(res).map((r) => ({
    ...r,
    ms: Math.round(Number(r.ms)),
    latency: Number(r.latency),
    ttft: r.ttft === null ? null : Number(r.ttft),
    prompt: Number(r.prompt),
    completion: Number(r.completion),
  }));
}

/** The fields of UsageBucket and UsagePoint a test selects. */
export const AGGREGATE_FIELDS =
  'requests errors promptTokens completionTokens costUsd p50LatencyMs p95LatencyMs p50TtftMs p95TtftMs cacheHits cacheHitRate costSavedUsd';

export interface Aggregate {
  requests: number;
  errors: number;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
  p50LatencyMs: number | null;
  p95LatencyMs: number | null;
  p50TtftMs: number | null;
  p95TtftMs: number | null;
  cacheHits: number;
  cacheHitRate: number;
  costSavedUsd: number;
}

/** Asserts that an answer's totals are those of `rs`: sums exactly, percentiles within the bound. */
export function expectAggregateOf(got: Aggregate, rs: Rec[], label: string): void {
  expect(
    {
      requests: got.requests,
      errors: got.errors,
      promptTokens: got.promptTokens,
      completionTokens: got.completionTokens,
      cost: units(got.costUsd),
      cacheHits: got.cacheHits,
      cacheHitRate: got.cacheHitRate,
      saved: units(got.costSavedUsd),
    },
    label,
  ).toEqual({
    requests: rs.length,
    errors: rs.filter((r) => r.status !== 'OK').length,
    promptTokens: rs.reduce((s, r) => s + r.prompt, 0),
    completionTokens: rs.reduce((s, r) => s + r.completion, 0),
    cost: rs.reduce((s, r) => s + units(r.cost), 0n),
    cacheHits: rs.filter((r) => r.cacheHit !== null).length,
    cacheHitRate: rs.length ? rs.filter((r) => r.cacheHit !== null).length / rs.length : 0,
    saved: rs.reduce((s, r) => s + units(r.saved), 0n),
  });
  const lat = rs.map((r) => r.latency).sort((a, b) => a - b);
  const ttft = rs.flatMap((r) => (r.ttft === null ? [] : [r.ttft])).sort((a, b) => a - b);
  const pairs: Array<[string, number | null, number | null]> = [
    ['p50LatencyMs', got.p50LatencyMs, percentileCont(lat, 0.5)],
    ['p95LatencyMs', got.p95LatencyMs, percentileCont(lat, 0.95)],
    ['p50TtftMs', got.p50TtftMs, percentileCont(ttft, 0.5)],
    ['p95TtftMs', got.p95TtftMs, percentileCont(ttft, 0.95)],
  ];
  for (const [name, value, exact] of pairs) expect(withinHistogramBound(value, exact), `${label} ${name}: ${value} vs exact ${exact}`).toBe(true);
}

/** The records a UsageFilter keeps (apiKeyId as a UUID; from/to as ISO strings). */
export interface RecFilter {
  apiKeyId?: string;
  model?: string;
  provider?: string;
  status?: string;
  cacheHit?: boolean;
  from?: string;
  to?: string;
}

export function filtered(rs: Rec[], f: RecFilter): Rec[] {
  return rs.filter(
    (r) =>
      (!f.apiKeyId || r.key === f.apiKeyId) &&
      (!f.model || r.model === f.model) &&
      (!f.provider || r.provider === f.provider) &&
      (!f.status || r.status === f.status) &&
      (f.cacheHit === undefined || (r.cacheHit !== null) === f.cacheHit) &&
      (!f.from || r.ms >= Date.parse(f.from)) &&
      (!f.to || r.ms < Date.parse(f.to)),
  );
}

/** Groups records by a key, the map's keys in ascending order. */
export function groupBy(rs: Rec[], keyOf: (r: Rec) => string): Map<string, Rec[]> {
  const m = new Map<string, Rec[]>();
  for (const r of rs) m.set(keyOf(r), [...(m.get(keyOf(r)) ?? []), r]);
  return new Map([...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
