/*
 * usage(filter, first/after, last/before) and usageSummary(groupBy, filter), checked against an oracle read straight from
 * usage_records: order, every filter field, cursors (ties and microseconds included, stable while records
 * arrive), scoping of READ_USAGE keys, and every grouping with p50/p95 (within the rollup histograms' bound).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { startGateway, type GqlResponse, type TestGateway } from '../kit/start-gateway.js';
import { expectCode } from '../graphql/helpers.js';
import {
  chat,
  createPricedModel,
  freshDatabase,
  PG_URL,
  percentileCont,
  PRICED_MODEL,
  rowsOf,
  units,
  usageDays,
  withinHistogramBound,
  type FreshDatabase,
} from './usage-kit.js';

interface OracleRow {
  /** The record's invocation id (UsageRecord.invocationId). */
  id: string;
  at: string; // UTC, microseconds
  /** The key's global id, as the API names it. */
  key: string | null;
  model: string;
  provider: string | null;
  status: string;
  latency: number;
  prompt: number;
  completion: number;
  cost: string;
}

const OTHER_MODEL = 'other-echo';
const HIST_MODEL = 'hist';
const TIE_MODEL = 'tie';

const PAGE = `query($filter: UsageFilter, $first: Int, $after: String, $last: Int, $before: String) {
  usage(filter: $filter, first: $first, after: $after, last: $last, before: $before) {
    edges { cursor node { id invocationId createdAt model provider status apiKey { id } } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}`;
const SUMMARY = `query($g: UsageGroupBy!, $filter: UsageFilter) {
  usageSummary(groupBy: $g, filter: $filter) { key requests errors promptTokens completionTokens costUsd p50LatencyMs p95LatencyMs }
}`;

/** What PAGE and SUMMARY select. */
interface PageNode {
  id: string;
  invocationId: string;
  createdAt: string;
  model: string;
  provider: string | null;
  status: string;
  apiKey: { id: string } | null;
}
interface Page {
  usage: { edges: Array<{ cursor: string; node: PageNode }>; pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null } };
}
interface Bucket {
  key: string;
  requests: number;
  errors: number;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
  p50LatencyMs: number | null;
  p95LatencyMs: number | null;
}

/** Newest first: created_at desc, then id desc (uuid order is the order of its lowercase hex text). */
const newestFirst = (a: OracleRow, b: OracleRow) => (a.at < b.at ? 1 : a.at > b.at ? -1 : a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

type Key = Awaited<ReturnType<TestGateway['createKey']>>;

const backends = [
  { name: 'embedded PGlite', postgres: false },
  { name: 'Postgres (TEST_DATABASE_URL)', postgres: true },
];

for (const backend of backends) {
  describe.skipIf(backend.postgres && !PG_URL)(`usage queries on ${backend.name}`, () => {
    let gw: TestGateway;
    let fresh: FreshDatabase | undefined;
    let A: Key;
    let B: Key;
    let invokeOnly: Key;
    let readerNoCalls: Key;

    async function oracle(): Promise<OracleRow[]> {
      const res = await gw.app.services.database.db.execute(sql`
        select id::text as id, to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as at,
               api_key_id::text as key, model, provider, status, latency_ms as latency,
               prompt_tokens as prompt, completion_tokens as completion, cost_usd::text as cost
        from usage_records`);
      const globalIds = new Map([A, B, invokeOnly, readerNoCalls].map((k) => [k.uuid, k.id]));
      return rowsOf<OracleRow>(res)
        .map((r) => ({ ...r, key: r.key && globalIds.get(r.key)!, latency: Number(r.latency), prompt: Number(r.prompt), completion: Number(r.completion) }))
        .sort(newestFirst);
    }

    /** Every page of usage(filter) with `first`, as the key sees it. */
    async function pageAll(filter: Record<string, unknown> | null, key = gw.adminKey, first = 7) {
      const nodes: PageNode[] = [];
      let after: string | null = null;
      for (let i = 0; i < 200; i++) {
        const res: GqlResponse<Page> = await gw.gql<Page>(PAGE, { filter, first, after }, key);
        expect(res.errors).toBeUndefined();
        const { edges, pageInfo } = res.data!.usage;
        expect(pageInfo.hasPreviousPage).toBe(after !== null);
        expect(pageInfo.endCursor).toBe(edges.at(-1)?.cursor ?? null);
        nodes.push(...edges.map((e) => e.node));
        if (!pageInfo.hasNextPage) return nodes;
        after = pageInfo.endCursor;
      }
      throw new Error('too many pages');
    }

    /** Every page of usage(filter) with `last`, walking backwards from the end; the nodes in list order. */
    async function pageAllBackward(filter: Record<string, unknown> | null, key = gw.adminKey, last = 7) {
      const nodes: PageNode[] = [];
      let before: string | null = null;
      for (let i = 0; i < 200; i++) {
        const res: GqlResponse<Page> = await gw.gql<Page>(PAGE, { filter, last, before }, key);
        expect(res.errors).toBeUndefined();
        const { edges, pageInfo } = res.data!.usage;
        expect(edges.length).toBeLessThanOrEqual(last);
        expect(pageInfo.hasNextPage).toBe(before !== null);
        expect(pageInfo.startCursor).toBe(edges[0]?.cursor ?? null);
        expect(pageInfo.endCursor).toBe(edges.at(-1)?.cursor ?? null);
        nodes.unshift(...edges.map((e) => e.node));
        if (!pageInfo.hasPreviousPage) return nodes;
        before = pageInfo.startCursor;
      }
      throw new Error('too many pages');
    }

    beforeAll(async () => {
      if (backend.postgres) fresh = await freshDatabase(PG_URL!);
      gw = await startGateway(fresh ? { DATABASE_URL: fresh.url } : {});
      const p = await gw.gql('mutation { createProvider(input: { name: "echo2", kind: ECHO }) { name } }');
      expect(p.errors).toBeUndefined();
      await createPricedModel(gw);
      await createPricedModel(gw, OTHER_MODEL, 'echo2');
      A = await gw.createKey({ name: 'A', scopes: ['INVOKE', 'READ_USAGE'] });
      B = await gw.createKey({ name: 'B', scopes: ['INVOKE', 'READ_USAGE'] });
      invokeOnly = await gw.createKey({ name: 'invoke only', scopes: ['INVOKE'] });
      readerNoCalls = await gw.createKey({ name: 'reader', scopes: ['READ_USAGE'] });

      const plan: Array<[typeof A, string, number]> = [
        [A, PRICED_MODEL, 10],
        [A, OTHER_MODEL, 5],
        [B, PRICED_MODEL, 8],
        [B, OTHER_MODEL, 4],
        [invokeOnly, PRICED_MODEL, 3],
      ];
      let i = 0;
      for (const [key, model, n] of plan) for (let k = 0; k < n; k++) await chat(gw, key.secret, i++, model);
      // unknown model: an ERROR record with no provider
      for (const key of [A, A, B]) {
        const r = await gw.gql('mutation { chat(input: { model: "nope", messages: [{ role: USER, content: "x" }] }) { id } }', {}, key.secret);
        expect(r.errors?.[0]?.extensions?.code).toBe('MODEL_NOT_FOUND');
      }
      await gw.flushUsage();

      const db = gw.app.services.database.db;
      // history: one row every 30 minutes on 2024-03-01, known latencies, every third an error
      await usageDays(db, new Date('2024-03-01T00:00:00Z'), new Date('2024-03-02T00:00:00Z'));
      for (let k = 0; k < 12; k++) {
        const at = new Date(Date.UTC(2024, 2, 1, 0, 30 * k)).toISOString();
        await db.execute(sql`insert into usage_records (id, created_at, api_key_id, model, provider, prompt_tokens, completion_tokens, cost_usd, latency_ms, status)
          values (gen_random_uuid(), ${at}::timestamptz, ${A.uuid}::uuid, ${HIST_MODEL}, 'echo', ${k + 1}, ${2 * k}, ${`0.00000${k}1234`}::numeric, ${(k * 37) % 101}, ${k % 3 === 0 ? 'ERROR' : 'OK'})`);
      }
      // 20 rows in one millisecond that differ in microseconds, and 6 rows on exactly the same instant
      await db.execute(sql`insert into usage_records (id, created_at, api_key_id, model, provider, status)
        select gen_random_uuid(), '2024-03-02T12:00:00.123000Z'::timestamptz + g * interval '1 microsecond', ${B.uuid}::uuid, ${TIE_MODEL}, 'echo', 'OK'
        from generate_series(1, 20) g`);
      await db.execute(sql`insert into usage_records (id, created_at, api_key_id, model, provider, status)
        select gen_random_uuid(), '2024-03-02T12:00:00.500000Z'::timestamptz, ${B.uuid}::uuid, ${TIE_MODEL}, 'echo', 'OK'
        from generate_series(1, 6) g`);
    }, 60_000);

    afterAll(async () => {
      await gw?.stop();
      await fresh?.drop();
    });

    it('pages newest first, ties and microseconds included, each record exactly once', async () => {
      const all = await oracle();
      expect(all).toHaveLength(30 + 3 + 12 + 26);
      for (const first of [7, 1, 500]) {
        const nodes = await pageAll(null, gw.adminKey, first);
        expect(nodes.map((n) => n.invocationId)).toEqual(all.map((r) => r.id));
      }
    });

    it('pages backwards (last/before) to the same list, ties and microseconds included', async () => {
      const all = await oracle();
      for (const last of [7, 1, 500]) {
        const nodes = await pageAllBackward(null, gw.adminKey, last);
        expect(nodes.map((n) => n.invocationId)).toEqual(all.map((r) => r.id));
      }
      const tie = all.filter((r) => r.model === TIE_MODEL).map((r) => r.id);
      expect((await pageAllBackward({ model: TIE_MODEL }, gw.adminKey, 4)).map((n) => n.invocationId)).toEqual(tie);
      for (const key of [A, B]) {
        const own = all.filter((r) => r.key === key.id).map((r) => r.id);
        expect((await pageAllBackward(null, key.secret, 6)).map((n) => n.invocationId)).toEqual(own);
      }
    });

    it('every record refetches through nodes(ids:), those that differ only in microseconds included', async () => {
      const nodes = await pageAll(null, gw.adminKey, 500);
      const res = await gw.gql<{ nodes: unknown[] }>('query($ids: [ID!]!) { nodes(ids: $ids) { id ... on UsageRecord { invocationId } } }', { ids: nodes.map((n) => n.id) });
      expect(res.errors).toBeUndefined();
      expect(res.data?.nodes).toEqual(nodes.map((n) => ({ id: n.id, invocationId: n.invocationId })));
      expect(nodes.filter((n) => n.model === TIE_MODEL)).toHaveLength(26);
    });

    it('pageInfo is exact on both sides, whichever way a page was asked for', async () => {
      const all = await oracle();
      const n = all.length;
      const edgesOf = async (args: Record<string, unknown>) => {
        const res = await gw.gql<Page>(PAGE, args);
        expect(res.errors, JSON.stringify(args)).toBeUndefined();
        return res.data!.usage;
      };
      const everything = await edgesOf({ first: 500 });
      const cursor = (i: number) => everything.edges[i].cursor;
      const ids = (page: Page['usage']) => page.edges.map((e) => e.node.invocationId);
      // [args, the slice of the list it must answer, hasPreviousPage, hasNextPage]
      const cases: Array<[Record<string, unknown>, [number, number], boolean, boolean]> = [
        [{ first: 5 }, [0, 5], false, true],
        [{ first: 5, after: cursor(9) }, [10, 15], true, true],
        [{ first: 500, after: cursor(n - 3) }, [n - 2, n], true, false],
        [{ first: 5, after: cursor(n - 1) }, [n, n], true, false],
        [{ last: 5 }, [n - 5, n], true, false],
        [{ last: 5, before: cursor(20) }, [15, 20], true, true],
        [{ last: 500, before: cursor(2) }, [0, 2], false, true],
        [{ last: 5, before: cursor(0) }, [0, 0], false, true],
        // both cursors: the window between them
        [{ first: 3, after: cursor(4), before: cursor(12) }, [5, 8], true, true],
        [{ first: 9, after: cursor(4), before: cursor(12) }, [5, 12], true, false],
        [{ last: 3, after: cursor(4), before: cursor(12) }, [9, 12], true, true],
        [{ last: 9, after: cursor(4), before: cursor(12) }, [5, 12], false, true],
        [{ first: 0 }, [0, 0], false, true],
        [{ last: 0 }, [n, n], true, false],
      ];
      for (const [args, [from, to], hasPreviousPage, hasNextPage] of cases) {
        const page = await edgesOf(args);
        const label = JSON.stringify({ ...args, after: args.after && 'cursor', before: args.before && 'cursor' });
        expect(ids(page), label).toEqual(all.slice(from, to).map((r) => r.id));
        expect(page.pageInfo, label).toEqual({
          hasPreviousPage,
          hasNextPage,
          startCursor: page.edges[0]?.cursor ?? null,
          endCursor: page.edges.at(-1)?.cursor ?? null,
        });
      }
    });

    it('ADMIN sees every key; nested apiKey resolves to the record key', async () => {
      const nodes = await pageAll(null);
      const keysSeen = new Set(nodes.map((n) => n.apiKey?.id));
      expect(keysSeen).toEqual(new Set([A.id, B.id, invokeOnly.id]));
      const all = await oracle();
      const byId = new Map(all.map((r) => [r.id, r]));
      for (const n of nodes) expect(n.apiKey?.id ?? null).toBe(byId.get(n.invocationId)!.key);
    });

    it('every UsageFilter field, alone and combined, matches the oracle', async () => {
      const all = await oracle();
      const cases: Array<[Record<string, unknown>, (r: OracleRow) => boolean]> = [
        [{ apiKeyId: A.id }, (r) => r.key === A.id],
        [{ apiKeyId: B.id }, (r) => r.key === B.id],
        [{ model: OTHER_MODEL }, (r) => r.model === OTHER_MODEL],
        [{ provider: 'echo2' }, (r) => r.provider === 'echo2'],
        [{ status: 'ERROR' }, (r) => r.status === 'ERROR'],
        [{ from: '2024-03-01T01:00:00Z' }, (r) => r.at >= '2024-03-01T01:00:00.000000Z'],
        [{ to: '2024-03-01T03:00:00Z' }, (r) => r.at < '2024-03-01T03:00:00.000000Z'],
        [{ from: '2024-03-01T01:00:00Z', to: '2024-03-01T03:00:00Z' }, (r) => r.at >= '2024-03-01T01:00:00.000000Z' && r.at < '2024-03-01T03:00:00.000000Z'],
        [{ apiKeyId: B.id, model: PRICED_MODEL, provider: 'echo', status: 'OK' }, (r) => r.key === B.id && r.model === PRICED_MODEL && r.provider === 'echo' && r.status === 'OK'],
        [{ apiKeyId: A.id, status: 'ERROR', from: '2024-01-01T00:00:00Z', to: '2024-12-31T00:00:00Z' }, (r) => r.key === A.id && r.status === 'ERROR' && r.at.startsWith('2024')],
      ];
      for (const [filter, keep] of cases) {
        const want = all.filter(keep).map((r) => r.id);
        // a filter that keeps nothing or everything would prove nothing
        expect(want.length, JSON.stringify(filter)).toBeGreaterThan(0);
        expect(want.length, JSON.stringify(filter)).toBeLessThan(all.length);
        const got = await pageAll(filter);
        expect(got.map((n) => n.invocationId), JSON.stringify(filter)).toEqual(want);
      }
      // to is exclusive: the row at exactly 03:00 is not in the window, the one at 01:00 is
      const win = await pageAll({ model: HIST_MODEL, from: '2024-03-01T01:00:00Z', to: '2024-03-01T03:00:00Z' });
      expect(win.map((n) => n.createdAt)).toEqual(['2024-03-01T02:30:00.000Z', '2024-03-01T02:00:00.000Z', '2024-03-01T01:30:00.000Z', '2024-03-01T01:00:00.000Z']);
    });

    it('a READ_USAGE key sees only its own records, whatever it filters on', async () => {
      const all = await oracle();
      for (const key of [A, B]) {
        const got = await pageAll(null, key.secret);
        expect(got.map((n) => n.invocationId)).toEqual(all.filter((r) => r.key === key.id).map((r) => r.id));
        const other = key === A ? B : A;
        expect(await pageAll({ apiKeyId: other.id }, key.secret)).toEqual([]);
        const summary = await gw.gql(SUMMARY, { g: 'API_KEY' }, key.secret);
        expect(summary.data.usageSummary.map((b: Bucket) => b.key)).toEqual([key.id]);
        const byModel = await gw.gql(SUMMARY, { g: 'MODEL', filter: { apiKeyId: other.id } }, key.secret);
        expect(byModel.data.usageSummary).toEqual([]);
      }
      expect(await pageAll(null, readerNoCalls.secret)).toEqual([]);
      const denied = await gw.gql(PAGE, { first: 1 }, invokeOnly.secret);
      expect(denied.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      const deniedSummary = await gw.gql(SUMMARY, { g: 'MODEL' }, invokeOnly.secret);
      expect(deniedSummary.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      const anonymous = await gw.gql(PAGE, { first: 1 }, null);
      expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    });

    it('invalid cursors and bounds are BAD_USER_INPUT', async () => {
      const b64 = (s: string) => Buffer.from(s).toString('base64url');
      const bad = [
        'garbage',
        '',
        b64('x|y'),
        b64('2024-03-01T00:00:00Z|not-a-uuid'),
        b64('yesterday|00000000-0000-0000-0000-000000000000'),
        b64("2024-03-01T00:00:00Z'; drop table usage_records; --|00000000-0000-0000-0000-000000000000"),
        b64('2024-13-45T00:00:00Z|00000000-0000-0000-0000-000000000000'),
      ];
      for (const after of bad) {
        const res = await gw.gql(PAGE, { first: 5, after });
        if (after === '') {
          // an empty cursor is no cursor
          expect(res.errors).toBeUndefined();
          continue;
        }
        expect(res.errors?.[0]?.extensions?.code, after).toBe('BAD_USER_INPUT');
      }
      for (const before of bad.filter(Boolean)) expectCode(await gw.gql(PAGE, { last: 5, before }), 'BAD_USER_INPUT', 'before');
      expectCode(await gw.gql(PAGE, { first: 5, after: bad[0] }), 'BAD_USER_INPUT', 'after');
      for (const first of [-1, 501]) expectCode(await gw.gql(PAGE, { first }), 'BAD_USER_INPUT', 'first');
      for (const last of [-1, 501]) expectCode(await gw.gql(PAGE, { last }), 'BAD_USER_INPUT', 'last');
      expectCode(await gw.gql(PAGE, { first: 5, last: 5 }), 'BAD_USER_INPUT', 'last');
      const inverted = await gw.gql(PAGE, { filter: { from: '2024-03-02T00:00:00Z', to: '2024-03-01T00:00:00Z' } });
      expect(inverted.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      const badKey = await gw.gql(PAGE, { filter: { apiKeyId: 'not-a-uuid' } });
      expect(badKey.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    });

    it('usageSummary for every grouping equals the oracle (requests, errors, tokens, cost, p50/p95)', async () => {
      const all = await oracle();
      const groupings: Record<string, (r: OracleRow) => string> = {
        MODEL: (r) => r.model,
        PROVIDER: (r) => r.provider ?? '',
        API_KEY: (r) => r.key ?? '',
        DAY: (r) => r.at.slice(0, 10),
        HOUR: (r) => `${r.at.slice(0, 13)}:00:00Z`,
      };
      for (const [g, keyOf] of Object.entries(groupings)) {
        for (const [filter, keep] of [
          [null, () => true],
          [{ apiKeyId: A.id, status: 'OK' }, (r: OracleRow) => r.key === A.id && r.status === 'OK'],
        ] as const) {
          const groups = new Map<string, OracleRow[]>();
          for (const r of all.filter(keep)) groups.set(keyOf(r), [...(groups.get(keyOf(r)) ?? []), r]);
          const sorted = [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
          const want = sorted.map(([key, rs]) => ({
            key,
            requests: rs.length,
            errors: rs.filter((r) => r.status !== 'OK').length,
            promptTokens: rs.reduce((s, r) => s + r.prompt, 0),
            completionTokens: rs.reduce((s, r) => s + r.completion, 0),
            cost: rs.reduce((s, r) => s + units(r.cost), 0n),
          }));
          expect(want.length).toBeGreaterThan(filter ? 0 : 1);
          const res = await gw.gql(SUMMARY, { g, filter });
          expect(res.errors, g).toBeUndefined();
          const buckets: Bucket[] = [...res.data.usageSummary].sort((a: Bucket, b: Bucket) => (a.key < b.key ? -1 : 1));
          const got = buckets.map(({ costUsd, p50LatencyMs: _p50, p95LatencyMs: _p95, ...b }) => ({ ...b, cost: units(costUsd) }));
          expect(got, `${g} ${JSON.stringify(filter)}`).toEqual(want);
          // percentiles come from the rollups' histograms: within the documented bound of the exact ones
          sorted.forEach(([key, rs], i) => {
            const lat = rs.map((r) => r.latency).sort((x, y) => x - y);
            const label = `${g} ${key} ${JSON.stringify(buckets[i])}`;
            expect(withinHistogramBound(buckets[i]!.p50LatencyMs, percentileCont(lat, 0.5)), label).toBe(true);
            expect(withinHistogramBound(buckets[i]!.p95LatencyMs, percentileCont(lat, 0.95)), label).toBe(true);
          });
        }
      }
      // the known history rows: hour buckets of two rows each, latencies (k*37) % 101
      const hist = await gw.gql(SUMMARY, { g: 'HOUR', filter: { model: HIST_MODEL } });
      expect(hist.data.usageSummary.map((b: Bucket) => [b.key, b.requests])).toEqual(
        Array.from({ length: 6 }, (_, h) => [`2024-03-01T0${h}:00:00Z`, 2]),
      );
      const day = await gw.gql(SUMMARY, { g: 'DAY', filter: { model: HIST_MODEL } });
      const lat = Array.from({ length: 12 }, (_, k) => (k * 37) % 101).sort((x, y) => x - y);
      expect(day.data.usageSummary).toEqual([
        {
          key: '2024-03-01',
          requests: 12,
          errors: 4,
          promptTokens: 78,
          completionTokens: 132,
          costUsd: expect.any(Number),
          p50LatencyMs: expect.any(Number),
          p95LatencyMs: expect.any(Number),
        },
      ]);
      expect(withinHistogramBound(day.data.usageSummary[0].p50LatencyMs, percentileCont(lat, 0.5))).toBe(true);
      expect(withinHistogramBound(day.data.usageSummary[0].p95LatencyMs, percentileCont(lat, 0.95))).toBe(true);
    });

    it('paging stays exact while records keep arriving: no duplicates, no older record skipped', async () => {
      const before = await oracle();
      let stop = false;
      let inserted = 0;
      const writer = (async () => {
        for (let i = 0; !stop; i++) {
          await chat(gw, i % 2 ? A.secret : B.secret, 1000 + i);
          inserted++;
          if (i % 3 === 0) await gw.flushUsage();
        }
        await gw.flushUsage();
      })();
      const seen: PageNode[] = [];
      let after: string | null = null;
      try {
        for (;;) {
          const res: GqlResponse<Page> = await gw.gql<Page>(PAGE, { first: 5, after });
          expect(res.errors).toBeUndefined();
          const { edges, pageInfo } = res.data!.usage;
          seen.push(...edges.map((e) => e.node));
          // let the writer land records between pages
          await new Promise((r) => setTimeout(r, 5));
          if (!pageInfo.hasNextPage) break;
          after = pageInfo.endCursor;
        }
      } finally {
        stop = true;
        await writer;
      }
      expect(inserted).toBeGreaterThan(5);
      const ids = seen.map((n) => n.invocationId);
      expect(new Set(ids).size).toBe(ids.length);
      const seenSet = new Set(ids);
      expect(before.filter((r) => !seenSet.has(r.id)).map((r) => r.id)).toEqual([]);
      // and what was seen is in the oracle's order
      const now = await oracle();
      const pos = new Map(now.map((r, i) => [r.id, i]));
      const order = ids.map((id) => pos.get(id)!);
      expect(order).toEqual([...order].sort((x, y) => x - y));
      expect(now.length).toBe(before.length + inserted);
    });
  });
}
