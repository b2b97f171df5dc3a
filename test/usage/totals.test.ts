/* 1 000 chat calls leave exactly 1 000 usage records whose token and cost sums equal what the calls returned. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { startGateway, type GqlResponse, type TestGateway } from '../kit/start-gateway.js';
import {
  chat,
  createPricedModel,
  freshDatabase,
  INPUT_PRICE,
  OUTPUT_PRICE,
  PG_URL,
  pool,
  PRICED_MODEL,
  units,
  type ChatOut,
  type FreshDatabase,
} from './usage-kit.js';

const N = 1000;

const backends = [
  { name: 'embedded PGlite', postgres: false },
  { name: 'Postgres (TEST_DATABASE_URL)', postgres: true },
];

for (const backend of backends) {
  describe.skipIf(backend.postgres && !PG_URL)(`1 000 calls on ${backend.name}`, () => {
    let gw: TestGateway;
    let fresh: FreshDatabase | undefined;
    const keys: Array<{ id: string; secret: string }> = [];
    let results: ChatOut[] = [];

    beforeAll(async () => {
      if (backend.postgres) fresh = await freshDatabase(PG_URL!);
      gw = await startGateway(fresh ? { DATABASE_URL: fresh.url } : {});
      await createPricedModel(gw);
      keys.push(await gw.createKey({ name: 'k0', scopes: ['INVOKE', 'READ_USAGE'] }));
      keys.push(await gw.createKey({ name: 'k1', scopes: ['INVOKE', 'READ_USAGE'] }));
      const t0 = performance.now();
      results = await pool(N, 25, (i) => chat(gw, keys[i % 2]!.secret, i));
      await gw.flushUsage();
      console.log(`[usage] ${backend.name}: ${N} chat calls + flush in ${Math.round(performance.now() - t0)} ms`);
    }, 120_000);

    afterAll(async () => {
      await gw?.stop();
      await fresh?.drop();
    });

    const sumOf = (rs: ChatOut[]) => ({
      promptTokens: rs.reduce((s, r) => s + r.usage.promptTokens, 0),
      completionTokens: rs.reduce((s, r) => s + r.usage.completionTokens, 0),
      cost: rs.reduce((s, r) => s + units(r.usage.costUsd), 0n),
    });

    it('every call returned a distinct id and a priced usage', () => {
      expect(results).toHaveLength(N);
      expect(new Set(results.map((r) => r.id)).size).toBe(N);
      for (const r of results) {
        const expected = Math.round(((r.usage.promptTokens * INPUT_PRICE + r.usage.completionTokens * OUTPUT_PRICE) / 1e6) * 1e10) / 1e10;
        expect(r.usage.costUsd).toBe(expected);
        expect(r.usage.costUsd).toBeGreaterThan(0);
      }
      expect(gw.app.usage.pending()).toBe(0);
      expect(gw.app.usage.dropped()).toBe(0);
    });

    it('the table holds exactly N rows, and its SQL sums equal the returned usage exactly', async () => {
      const res = await gw.app.services.database.db.execute(
        sql`select count(*)::int as n, count(distinct id)::int as ids, sum(prompt_tokens)::bigint::text as p,
                   sum(completion_tokens)::bigint::text as c, sum(cost_usd)::text as cost from usage_records`,
      );
      const row = ((res as { rows?: unknown[] }).rows ?? (res as unknown as unknown[]))[0] as Record<string, string | number>;
      const want = sumOf(results);
      expect(Number(row.n)).toBe(N);
      expect(Number(row.ids)).toBe(N);
      expect(Number(row.p)).toBe(want.promptTokens);
      expect(Number(row.c)).toBe(want.completionTokens);
      // numeric(20,10) sum compared as an exact integer count of 1e-10 USD
      expect(units(String(row.cost))).toBe(want.cost);
    });

    it('usageSummary(MODEL) and usageSummary(API_KEY) report the same totals', async () => {
      const q = `query($g: UsageGroupBy!) { usageSummary(groupBy: $g) { key requests errors promptTokens completionTokens costUsd p50LatencyMs p95LatencyMs } }`;
      const byModel = await gw.gql(q, { g: 'MODEL' });
      expect(byModel.errors).toBeUndefined();
      const want = sumOf(results);
      expect(byModel.data.usageSummary).toHaveLength(1);
      const b = byModel.data.usageSummary[0];
      expect(b).toMatchObject({ key: PRICED_MODEL, requests: N, errors: 0, promptTokens: want.promptTokens, completionTokens: want.completionTokens });
      expect(units(b.costUsd)).toBe(want.cost);
      expect(b.p50LatencyMs).toBeGreaterThanOrEqual(0);
      expect(b.p95LatencyMs).toBeGreaterThanOrEqual(b.p50LatencyMs);

      const byKey = await gw.gql(q, { g: 'API_KEY' });
      expect(byKey.errors).toBeUndefined();
      expect(byKey.data.usageSummary).toHaveLength(2);
      for (const [k, key] of keys.entries()) {
        const mine = sumOf(results.filter((_, i) => i % 2 === k));
        const bucket = byKey.data.usageSummary.find((x: { key: string }) => x.key === key.id);
        expect(bucket).toMatchObject({ requests: N / 2, promptTokens: mine.promptTokens, completionTokens: mine.completionTokens });
        expect(units(bucket.costUsd)).toBe(mine.cost);
      }
    });

    it('paging through usage returns each call once, with the returned tokens and cost', async () => {
      const byId = new Map(results.map((r) => [r.id, r]));
      const seen = new Map<string, { promptTokens: number; completionTokens: number; costUsd: number }>();
      let after: string | null = null;
      for (let pages = 0; pages < 20; pages++) {
        type Node = { invocationId: string; promptTokens: number; completionTokens: number; costUsd: number };
        const res: GqlResponse<{ usage: { edges: Array<{ node: Node }>; pageInfo: { hasNextPage: boolean; endCursor: string | null } } }> = await gw.gql(
          'query($after: String) { usage(first: 100, after: $after) { edges { node { invocationId promptTokens completionTokens costUsd } } pageInfo { hasNextPage endCursor } } }',
          { after },
        );
        expect(res.errors).toBeUndefined();
        const { edges, pageInfo } = res.data!.usage;
        for (const { node } of edges) {
          expect(seen.has(node.invocationId)).toBe(false);
          seen.set(node.invocationId, node);
        }
        if (!pageInfo.hasNextPage) break;
        after = pageInfo.endCursor;
      }
      expect(seen.size).toBe(N);
      for (const [id, node] of seen) {
        const r = byId.get(id);
        expect(r, `record ${id} has no call`).toBeDefined();
        expect(node.promptTokens).toBe(r!.usage.promptTokens);
        expect(node.completionTokens).toBe(r!.usage.completionTokens);
        expect(units(node.costUsd)).toBe(units(r!.usage.costUsd));
      }
    });
  });
}
