/*
 * Cache hits and guardrail actions, as the usage analytics and /metrics report them. A step added after the gateway's
 * own (test/kit/fake-cache-step.ts, standing in for the response cache and the guardrails) answers some chats as cache
 * hits and notes a guardrail action on another; the calls go through GraphQL, the answers are read back through
 * usage, usageSummary, usageSeries and GET /metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PIPELINE } from '../../src/gateway/pipeline.js';
import { fakeCacheStep, HIT_COMPLETION_TOKENS, HIT_PROMPT_TOKENS, SEMANTIC_SIMILARITY } from '../kit/fake-cache-step.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { metric, ok, scrape, type Sample } from '../ops/kit.js';
import { createPricedModel, INPUT_PRICE, OUTPUT_PRICE, PRICED_MODEL, units } from './usage-kit.js';

const CHAT = `mutation($input: ChatInput!) { chat(input: $input) { usage { costUsd } } }`;
const AGGREGATE = 'requests costUsd cacheHits cacheHitRate costSavedUsd';
const SUMMARY = `query($g: UsageGroupBy, $filter: UsageFilter) { usageSummary(groupBy: $g, filter: $filter) { key ${AGGREGATE} } }`;
const SERIES = `query($filter: UsageFilter) { usageSeries(interval: HOUR, filter: $filter) { key points { ${AGGREGATE} } } }`;
const RECORDS = `query($filter: UsageFilter) {
  usage(filter: $filter, first: 50) { edges { node { model costUsd cacheHit costSavedUsd cacheSimilarity guardrails { stage rule action } } } }
}`;

const HIT_COST = (HIT_PROMPT_TOKENS * INPUT_PRICE + HIT_COMPLETION_TOKENS * OUTPUT_PRICE) / 1e6;

interface Agg {
  key?: string;
  requests: number;
  costUsd: number;
  cacheHits: number;
  cacheHitRate: number;
  costSavedUsd: number;
}

describe('cache and guardrail accounting', () => {
  let gw: TestGateway;
  let before: Sample[];
  let after: Sample[];
  const messages = ['hit exact one', 'hit exact two', 'hit semantic three', 'plain four', 'plain email five'];

  beforeAll(async () => {
    gw = await startGateway({}, { steps: [...PIPELINE, fakeCacheStep] });
    await createPricedModel(gw);
    before = await scrape(gw);
    for (const content of messages) ok(await gw.gql(CHAT, { input: { model: PRICED_MODEL, messages: [{ role: 'USER', content }] } }));
    after = await scrape(gw);
    await gw.flushUsage();
  });
  afterAll(() => gw?.stop());

  const summary = async (filter: object | null, g: string | null = null) => ok(await gw.gql<{ usageSummary: Agg[] }>(SUMMARY, { g, filter })).usageSummary;

  it('usageSummary shows the hits, their rate and the cost they saved; a hit costs 0', async () => {
    const [all] = await summary(null);
    expect(all).toMatchObject({ requests: 5, cacheHits: 3, cacheHitRate: 0.6 });
    expect(units(all!.costSavedUsd)).toBe(3n * units(HIT_COST));
    const [byModel] = await summary(null, 'MODEL');
    expect(byModel).toEqual({ ...all, key: PRICED_MODEL });
    // the cost is the two upstream answers' only
    const plain = ok(await gw.gql<{ usageSummary: Agg[] }>(SUMMARY, { filter: { cacheHit: false } })).usageSummary[0]!;
    expect(plain).toMatchObject({ requests: 2, cacheHits: 0, cacheHitRate: 0, costSavedUsd: 0 });
    expect(plain.costUsd).toBeGreaterThan(0);
    expect(plain.costUsd).toBe(all!.costUsd);
    const [hits] = await summary({ cacheHit: true });
    expect(hits).toMatchObject({ requests: 3, cacheHits: 3, cacheHitRate: 1, costUsd: 0 });
    expect(units(hits!.costSavedUsd)).toBe(3n * units(HIT_COST));
    // nothing selected: no bucket, so no rate to divide by zero
    expect(await summary({ cacheHit: true, model: 'no-such-model' })).toEqual([]);
  });

  it('usageSeries points carry the same sums', async () => {
    const res = ok(await gw.gql<{ usageSeries: Array<{ points: Agg[] }> }>(SERIES, { filter: null }));
    const points = res.usageSeries.flatMap((s) => s.points);
    expect(points.reduce((n, p) => n + p.cacheHits, 0)).toBe(3);
    expect(points.reduce((n, p) => n + units(p.costSavedUsd), 0n)).toBe(3n * units(HIT_COST));
    for (const p of points) expect(p.cacheHitRate).toBe(p.cacheHits / p.requests);
    const hitsOnly = ok(await gw.gql<{ usageSeries: Array<{ points: Agg[] }> }>(SERIES, { filter: { cacheHit: true } })).usageSeries;
    expect(hitsOnly.flatMap((s) => s.points).reduce((n, p) => n + p.requests, 0)).toBe(3);
  });

  it('usage(filter: { cacheHit }) lists only hits, or only the others, with what the record says about them', async () => {
    type Node = { cacheHit: string | null; costUsd: number; costSavedUsd: number; cacheSimilarity: number | null; guardrails: object[] };
    const nodes = async (cacheHit: boolean | null) =>
      ok(await gw.gql<{ usage: { edges: Array<{ node: Node }> } }>(RECORDS, { filter: cacheHit === null ? null : { cacheHit } })).usage.edges.map((e) => e.node);
    const hits = await nodes(true);
    expect(hits.map((n) => n.cacheHit).sort()).toEqual(['EXACT', 'EXACT', 'SEMANTIC']);
    for (const n of hits) expect([n.costUsd, units(n.costSavedUsd)]).toEqual([0, units(HIT_COST)]);
    expect(hits.map((n) => n.cacheSimilarity).sort()).toEqual([SEMANTIC_SIMILARITY, 1, 1]);
    const others = await nodes(false);
    expect(others).toHaveLength(2);
    for (const n of others) expect([n.cacheHit, n.costSavedUsd, n.cacheSimilarity]).toEqual([null, 0, null]);
    expect(others.flatMap((n) => n.guardrails)).toEqual([{ stage: 'INPUT', rule: 'PII', action: 'REDACTED' }]);
    expect(await nodes(null)).toHaveLength(5);
  });

  it('GET /metrics counts hits by kind, the cost saved and guardrail actions by stage, rule and action', () => {
    const delta = (name: string, labels: Record<string, string> = {}) => metric(after, name, labels) - metric(before, name, labels);
    expect(delta('gateway_cache_hits_total', { kind: 'exact' })).toBe(2);
    expect(delta('gateway_cache_hits_total', { kind: 'semantic' })).toBe(1);
    expect(delta('gateway_cost_saved_usd_total')).toBeCloseTo(3 * HIT_COST, 12);
    expect(delta('gateway_guardrail_actions_total', { stage: 'input', rule: 'pii', action: 'redacted' })).toBe(1);
    expect(delta('gateway_guardrail_actions_total')).toBe(1);
  });

  it('GET /metrics counts only the upstream answers in the token counters, not the tokens a hit replayed', async () => {
    const delta = (type: string) => metric(after, 'gen_ai_client_token_usage_total', { type }) - metric(before, 'gen_ai_client_token_usage_total', { type });
    const d = ok(
      await gw.gql<{ usage: { edges: Array<{ node: { cacheHit: string | null; promptTokens: number; completionTokens: number } }> } }>(
        'query { usage(first: 50) { edges { node { cacheHit promptTokens completionTokens } } } }',
      ),
    );
    const upstream = d.usage.edges.map((e) => e.node).filter((n) => n.cacheHit === null);
    expect(upstream).toHaveLength(2);
    expect(delta('input')).toBe(upstream.reduce((s, n) => s + n.promptTokens, 0));
    expect(delta('output')).toBe(upstream.reduce((s, n) => s + n.completionTokens, 0));
  });
});
