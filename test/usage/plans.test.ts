/*
 * Query plans on a million usage records (Postgres only): the pages usage(...) asks for, either way, are index
 * scans that stop after `first + 1` (or `last + 1`) rows, never a scan of the table; usageSummary's timing on 1M
 * rows is printed. A TEAM_ADMIN's pages and an end user's filter read their partial indexes. The records lie in
 * their day partitions (migrations/0011), as a running gateway's do: each index named below is the partitioned
 * index, read in each day's partition under a Merge Append that stops with the page.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import postgres from 'postgres';
import { drizzle } from 'drizzle-orm/postgres-js';
import * as schema from '../../src/db/schema.js';
import { createDatabase, type Db } from '../../src/db/client.js';
import { createUsageQueries, encodeCursor, type UsageQueries } from '../../src/services/usage-queries.js';
import { freshDatabase, PG_URL, type FreshDatabase } from './usage-kit.js';

const ROWS = 1_000_000;
const KEYS = 200;
const keyId = (k: number) => `00000000-0000-4000-8000-${String(k).padStart(12, '0')}`;
/** One team owns every 50th record; every 100th names one of 50 end users. */
const TEAM = '20000000-0000-4000-8000-000000000001';

describe.skipIf(!PG_URL)('usage query plans on 1M records (Postgres)', () => {
  let fresh: FreshDatabase;
  let client: postgres.Sql;
  let queries: UsageQueries;
  let last: { query: string; params: unknown[] } | undefined;

  beforeAll(async () => {
    fresh = await freshDatabase(PG_URL!);
    const database = await createDatabase({ url: fresh.url, dataDir: '' });
    await database.migrate();
    await database.close();
    client = postgres(fresh.url, { max: 2, onnotice: () => {} });
    // the days the records span (2 s apart: 23 days), as the gateway's upkeep would have made them
    for (let d = 0; d <= 24; d++) await client.unsafe(`select usage_records_add_partition((now() at time zone 'UTC')::date - ${d})`);
    // the app's query code on a drizzle that remembers the last statement it sent, to EXPLAIN exactly that
    const db = drizzle(client, { schema, logger: { logQuery: (query, params) => void (last = { query, params }) } }) as unknown as Db;
    queries = createUsageQueries(db);

    const t0 = performance.now();
    // one statement; ids in insertion order keep the primary key's inserts at its right edge (random uuids are slower)
    await client.unsafe(`
      insert into usage_records (id, created_at, api_key_id, model, provider, upstream_model, prompt_tokens,
                                 completion_tokens, cost_usd, latency_ms, status, streamed, attempts, team_id, end_user)
      select ('10000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid,
             now() - g * interval '2 seconds' - (g % 997) * interval '1 microsecond',
             ('00000000-0000-4000-8000-' || lpad((g % ${KEYS})::text, 12, '0'))::uuid,
             'model-' || (g % 12),
             (array['openai', 'anthropic', 'gemini'])[1 + g % 3],
             'upstream-' || (g % 12),
             10 + g % 500,
             5 + g % 300,
             ((10 + g % 500) * 1.5 + (5 + g % 300) * 2.5) / 1e6,
             50 + (g::bigint * 7919) % 2000,
             case when g % 25 = 0 then 'ERROR' else 'OK' end,
             g % 2 = 0,
             1,
             case when g % 50 = 0 then '${TEAM}'::uuid end,
             case when g % 100 = 0 then 'user-' || (g / 100 % 50) end
      from generate_series(1, ${ROWS}) g`);
    const t1 = performance.now();
    await client.unsafe('analyze usage_records');
    console.log(`[plans] inserted ${ROWS} rows in ${Math.round(t1 - t0)} ms, analyze ${Math.round(performance.now() - t1)} ms`);
  }, 120_000);

  afterAll(async () => {
    await client?.end({ timeout: 1 });
    await fresh?.drop();
  });

  /** Runs `fn` (one usage query), then EXPLAIN ANALYZE of the statement it sent. */
  async function plan(label: string, fn: () => Promise<unknown>): Promise<string> {
    last = undefined;
    const t0 = performance.now();
    await fn();
    const ms = performance.now() - t0;
    expect(last, 'no statement captured').toBeDefined();
    const rows = await client.unsafe(`explain (analyze, costs off, timing off, summary off) ${last!.query}`, last!.params as never[]);
    const text = rows.map((r) => r['QUERY PLAN']).join('\n');
    console.log(`[plans] ${label} (${ms.toFixed(1)} ms)\n${text}\n`);
    return text;
  }

  /** A partitioned index's name in a partition (usage_records_pYYYYMMDD or usage_records_default), as Postgres names it. */
  const inPartition: Record<string, string> = {
    usage_records_pkey: 'usage_records_\\w+_pkey',
    usage_key_created_idx: 'usage_records_\\w+_api_key_id_created_at_id_idx',
    usage_team_created_idx: 'usage_records_\\w+_team_id_created_at_idx',
    usage_end_user_created_idx: 'usage_records_\\w+_end_user_created_at_idx',
  };

  function expectIndexOnly(text: string, index: string): void {
    expect(text).toMatch(new RegExp(`Index (Only )?Scan (Backward )?using ${inPartition[index]} on usage_records`));
    expect(text).not.toMatch(/Seq Scan/);
    // the order comes from the index: no sort of the table (a Merge Append's "Sort Key" is the merge's order)
    expect(text).not.toMatch(/(^|->\s+)(Incremental )?Sort\b/m);
    // and the scan stops after the page: at most first + 1 rows leave it, none read and thrown away
    expect(text).not.toMatch(/Rows Removed by Filter/);
    const scanned = [...text.matchAll(/Index (?:Only )?Scan[^\n]*actual rows=(\d+)/g)].map((m) => Number(m[1]));
    expect(Math.max(...scanned)).toBeLessThanOrEqual(51);
  }

  it('first page for ADMIN walks the primary key (created_at, id)', async () => {
    const text = await plan('first page, ADMIN', () => queries.page({ first: 50, readScope: { kind: 'all' } }));
    expectIndexOnly(text, 'usage_records_pkey');
  });

  it('first page for one key walks usage_key_created_idx', async () => {
    const text = await plan('first page, one key', () => queries.page({ first: 50, readScope: { kind: 'key', keyId: keyId(42) } }));
    expectIndexOnly(text, 'usage_key_created_idx');
    expect(text).toMatch(/Index Cond: \(\(?api_key_id = /);
  });

  it('a page after a cursor deep in the table seeks to the cursor in the index', async () => {
    const [mid] = await client.unsafe(`
      select to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as at, id::text as id
      from usage_records order by created_at desc, id desc offset ${ROWS / 2} limit 1`);
    const after = encodeCursor({ createdAt: mid!.at, id: mid!.id });
    const text = await plan('page after a cursor at row 500 000, ADMIN', () => queries.page({ first: 50, after, readScope: { kind: 'all' } }));
    expectIndexOnly(text, 'usage_records_pkey');
    expect(text).toMatch(/Index Cond: \(\(?ROW\(created_at, id\) < ROW\(/);

    const [midKey] = await client.unsafe(
      `select to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as at, id::text as id
       from usage_records where api_key_id = $1 order by created_at desc, id desc offset 2500 limit 1`,
      [keyId(42)],
    );
    const afterKey = encodeCursor({ createdAt: midKey!.at, id: midKey!.id });
    const keyText = await plan('page after a cursor, one key', () => queries.page({ first: 50, after: afterKey, readScope: { kind: 'key', keyId: keyId(42) } }));
    expectIndexOnly(keyText, 'usage_key_created_idx');
    expect(keyText).toMatch(/Index Cond: \(\(api_key_id = [^\n]*ROW\(created_at, id\) < ROW\(/);

    // the page itself: the 50 rows right after the cursor, in order
    const page = await queries.page({ first: 50, after, readScope: { kind: 'all' } });
    const want = await client.unsafe(`select id::text as id from usage_records order by created_at desc, id desc offset ${ROWS / 2 + 1} limit 50`);
    expect(page.edges.map((e) => e.node.id)).toEqual(want.map((r) => r.id));
  });

  it('a backward page (last, before) reads the same indexes forwards from the cursor', async () => {
    const [mid] = await client.unsafe(`
      select to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as at, id::text as id
      from usage_records order by created_at desc, id desc offset ${ROWS / 2} limit 1`);
    const before = encodeCursor({ createdAt: mid!.at, id: mid!.id });
    const text = await plan('page before a cursor at row 500 000, ADMIN', () => queries.page({ last: 50, before, readScope: { kind: 'all' } }));
    expectIndexOnly(text, 'usage_records_pkey');
    expect(text).toMatch(/Index Cond: \(ROW\(created_at, id\) > ROW\(/);
    expectIndexOnly(await plan('last page, one key', () => queries.page({ last: 50, readScope: { kind: 'key', keyId: keyId(42) } })), 'usage_key_created_idx');

    // the page itself: the 50 rows right before the cursor, newest first
    const page = await queries.page({ last: 50, before, readScope: { kind: 'all' } });
    const want = await client.unsafe(`select id::text as id from usage_records order by created_at desc, id desc offset ${ROWS / 2 - 50} limit 50`);
    expect(page.edges.map((e) => e.node.id)).toEqual(want.map((r) => r.id));
    expect(page.pageInfo).toMatchObject({ hasPreviousPage: true, hasNextPage: true });
  });

  it('filtered first pages (model, provider, status, time window) avoid a table scan', async () => {
    const from = new Date(Date.now() - 3 * 86_400_000);
    const to = new Date(Date.now() - 2 * 86_400_000);
    for (const [label, filter] of [
      ['model', { model: 'model-3' }],
      ['provider', { provider: 'gemini' }],
      ['time window', { from, to }],
      ['key + model', { apiKeyId: keyId(7), model: 'model-7' }],
    ] as const) {
      const text = await plan(`first page, filter ${label}`, () => queries.page({ first: 50, filter, readScope: { kind: 'all' } }));
      expect(text, label).toMatch(/Index (Only )?Scan/);
      expect(text, label).not.toMatch(/Seq Scan/);
    }
  });

  it("a TEAM_ADMIN's pages and an end user's filter read their partial indexes, never the table", async () => {
    for (const [label, args] of [
      ['first page, one team', { first: 50, readScope: { kind: 'team', teamId: TEAM } }],
      ['last page, one team', { last: 50, readScope: { kind: 'team', teamId: TEAM } }],
      ['first page, one end user', { first: 50, filter: { user: 'user-7' }, readScope: { kind: 'all' } }],
    ] as const) {
      const text = await plan(label, () => queries.page(args));
      expect(text, label).toMatch(new RegExp(`Index Scan (Backward )?using ${inPartition[label.includes('team') ? 'usage_team_created_idx' : 'usage_end_user_created_idx']}`));
      expect(text, label).not.toMatch(/Seq Scan/);
      // the index gives created_at's order: rows leave the scan for the page only (ties on created_at sorted among themselves)
      const scanned = [...text.matchAll(/Index Scan[^\n]*actual rows=(\d+)/g)].map((m) => Number(m[1]));
      expect(Math.max(...scanned), label).toBeLessThanOrEqual(200);
    }
    const page = await queries.page({ first: 50, readScope: { kind: 'team', teamId: TEAM } });
    const want = await client.unsafe(`select id::text as id from usage_records where team_id = $1 order by created_at desc, id desc limit 50`, [TEAM]);
    expect(page.edges.map((e) => e.node.id)).toEqual(want.map((r) => r.id));
    const buckets = await queries.summary({ groupBy: 'USER', readScope: { kind: 'team', teamId: TEAM } });
    // every 50th record is the team's; of those, every other one names an end user (50 of them, 200 records each)
    expect(buckets.reduce((s, b) => s + b.requests, 0)).toBe(ROWS / 50);
    expect(buckets.find((b) => b.key === '')?.requests).toBe(ROWS / 100);
    expect(buckets).toHaveLength(51);
  });

  it('the retention sweep finds a batch under a limit and deletes it by row address, in the days before the cutoff only', async () => {
    // nothing is that old here: the statement runs (and is captured) without deleting anything
    expect(await queries.deleteOlderThan(365)).toBe(0);
    expect(last?.query).toMatch(/^delete from/);
    // explained with a cutoff inside the records (20 days ago), where it would delete
    const cutoff = new Date(Date.now() - 20 * 86_400_000);
    const params = last!.params.map((p) => (typeof p === 'string' && !Number.isNaN(Date.parse(p)) ? cutoff.toISOString() : p));
    const rows = await client.unsafe(`explain (costs off) ${last!.query}`, params as never[]);
    const text = rows.map((r) => r['QUERY PLAN']).join('\n');
    console.log(`[plans] retention batch\n${text}\n`);
    // the batch is deleted by address; it is found under a Limit (a scan of a day wholly before the cutoff stops
    // after the batch, Postgres picks a sequential one there and an index one where it must skip rows)
    expect(text).toMatch(/Tid Scan on usage_records_p\d{8}/);
    expect(text).toMatch(/InitPlan 1[^]*->\s+Limit/);
    // the days after the cutoff are not in the plan at all
    const newest = new Date(cutoff.getTime() + 86_400_000).toISOString().slice(0, 10).replaceAll('-', '');
    expect(text).toMatch(/usage_records_p\d{8}/);
    expect(text).not.toContain(`usage_records_p${newest}`);
  });

  it('usageSummary on 1M records (timing printed, not asserted)', async () => {
    for (const groupBy of ['MODEL', 'DAY'] as const) {
      const t0 = performance.now();
      const buckets = await queries.summary({ groupBy, readScope: { kind: 'all' } });
      const ms = performance.now() - t0;
      console.log(`[plans] usageSummary(${groupBy}) over ${ROWS} rows: ${Math.round(ms)} ms, ${buckets.length} buckets`);
      expect(buckets.reduce((s, b) => s + b.requests, 0)).toBe(ROWS);
      if (groupBy === 'MODEL') {
        expect(buckets).toHaveLength(12);
        expect(buckets.reduce((s, b) => s + b.errors, 0)).toBe(ROWS / 25);
      }
    }
    const t0 = performance.now();
    const one = await queries.summary({ groupBy: 'MODEL', readScope: { kind: 'key', keyId: keyId(42) } });
    console.log(`[plans] usageSummary(MODEL) for one key (${one.reduce((s, b) => s + b.requests, 0)} rows): ${Math.round(performance.now() - t0)} ms`);
    await queries.summary({ groupBy: 'MODEL', readScope: { kind: 'all' } });
    const rows = await client.unsafe(`explain (costs off) ${last!.query}`, last!.params as never[]);
    console.log(`[plans] usageSummary(MODEL), ADMIN\n${rows.map((r) => r['QUERY PLAN']).join('\n')}\n`);
  });
});
