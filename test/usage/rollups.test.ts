/*
 * usageSummary reads hourly rollups kept by the database as records arrive, plus the records of the partial hours
 * at the ends of a range. Checked against a scan of the records: a few thousand generated records written through
 * the gateway's usage writer, over hour and day boundaries, every grouping with filters and ranges (ends mid-hour
 * included): counts, tokens, cost and errors exactly, percentiles within the documented bound. A re-sent batch
 * adds nothing; retention removes whole hours from the rollups and the records of a partial one; the backfill's
 * rebuild gives the same rollups as the triggers; the edges of every histogram bin come back within the bound.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { freshDatabase, PG_URL, rowsOf, type FreshDatabase } from './usage-kit.js';
import {
  AGGREGATE_FIELDS,
  expectAggregateOf,
  filtered,
  groupBy,
  readRecords,
  usageEvents,
  writeThroughGateway,
  type Aggregate,
  type Rec,
  type RecFilter,
} from './rollup-oracle.js';

const SUMMARY = `query($g: UsageGroupBy, $filter: UsageFilter) { usageSummary(groupBy: $g, filter: $filter) { key ${AGGREGATE_FIELDS} } }`;
type Bucket = Aggregate & { key: string };
type Key = Awaited<ReturnType<TestGateway['createKey']>>;

const HOUR = 3_600_000;
/** 52 hours from 21:17 on June 1st: three UTC days, every hour boundary crossed. */
const START = new Date(Date.UTC(2025, 5, 1, 21, 17, 23, 456));
const SPAN = 52 * HOUR;
const MID = { from: '2025-06-02T03:41:07.123Z', to: '2025-06-03T11:05:59.999Z' };

const backends = [
  { name: 'embedded PGlite', postgres: false },
  { name: 'Postgres (TEST_DATABASE_URL)', postgres: true },
];

/**
 * Both rollup tables as text, in key order; the cached percentiles left out (a rebuild computes none), the saved cost
 * without trailing zeros (a row from before migration 0006 holds its default 0, not a sum's 0.0000000000).
 */
async function rollupSnapshot(gw: TestGateway): Promise<string> {
  const res = await gw.app.services.database.db.execute(sql`select
    (select json_agg(r order by bucket_start, api_key_id, model, provider, status)::text
       from (select bucket_start, api_key_id, model, provider, status, requests, errors, prompt_tokens, completion_tokens,
                    cost_usd, ttft_count, latency_hist, ttft_hist, cache_hits, trim_scale(cost_saved_usd) as cost_saved_usd
             from usage_rollups) r) as records,
    (select json_agg(g order by group_by, bucket_start, group_key)::text
       from (select group_by, bucket_start, group_key, requests, errors, prompt_tokens, completion_tokens, cost_usd,
                    ttft_count, latency_hist, ttft_hist, cache_hits, trim_scale(cost_saved_usd) as cost_saved_usd
             from usage_group_rollups) g) as groups`);
  return JSON.stringify(rowsOf(res)[0]);
}

for (const backend of backends) {
  describe.skipIf(backend.postgres && !PG_URL)(`usage rollups on ${backend.name}`, () => {
    let gw: TestGateway;
    let fresh: FreshDatabase | undefined;
    let A: Key;
    let B: Key;
    let C: Key;
    let invokeOnly: Key;
    let records: Rec[];
    const globalIds = new Map<string, string>();

    /** usageSummary's keys for each grouping, from a record. */
    const keyOf: Record<string, (r: Rec) => string> = {
      MODEL: (r) => r.model,
      PROVIDER: (r) => r.provider ?? '',
      API_KEY: (r) => (r.key ? globalIds.get(r.key)! : ''),
      DAY: (r) => new Date(r.ms).toISOString().slice(0, 10),
      HOUR: (r) => `${new Date(r.ms).toISOString().slice(0, 13)}:00:00Z`,
      // no groupBy: one bucket of everything, with the whole window's percentiles
      ALL: () => 'all',
    };

    async function summary(g: string, filter: object | null, key = gw.adminKey): Promise<Bucket[]> {
      const res = await gw.gql<{ usageSummary: Bucket[] }>(SUMMARY, { g: g === 'ALL' ? null : g, filter }, key);
      expect(res.errors, `${g} ${JSON.stringify(filter)}`).toBeUndefined();
      return res.data!.usageSummary;
    }

    /** Asserts usageSummary(g, filter) as `key` sees it equals the groups of `rs`. */
    async function expectSummary(g: string, filter: object | null, rs: Rec[], key = gw.adminKey) {
      const got = await summary(g, filter, key);
      const want = groupBy(rs, keyOf[g]!);
      const label = `${g} ${JSON.stringify(filter)}`;
      expect(got.map((b) => b.key).sort(), label).toEqual([...want.keys()].sort());
      for (const b of got) expectAggregateOf(b, want.get(b.key)!, `${label} [${b.key}]`);
    }

    beforeAll(async () => {
      if (backend.postgres) fresh = await freshDatabase(PG_URL!);
      gw = await startGateway(fresh ? { DATABASE_URL: fresh.url } : {});
      A = await gw.createKey({ name: 'A', scopes: ['INVOKE', 'READ_USAGE'] });
      B = await gw.createKey({ name: 'B', scopes: ['READ_USAGE'] });
      C = await gw.createKey({ name: 'C', scopes: ['INVOKE'] });
      invokeOnly = C;
      for (const k of [A, B, C]) globalIds.set(k.uuid, k.id);
      const events = usageEvents({
        count: 3000,
        start: START,
        spanMs: SPAN,
        keys: [A.uuid, B.uuid, C.uuid, null],
        models: ['alpha', 'beta', 'gamma'],
        providers: ['p1', 'p2', null],
        seed: 22,
      });
      await writeThroughGateway(gw, events);
      records = await readRecords(gw);
      expect(records).toHaveLength(3000);
    }, 120_000);

    afterAll(async () => {
      await gw?.stop();
      await fresh?.drop();
    });

    it('usageSummary equals a scan for every grouping, with filters and ranges that start and end mid-hour', async () => {
      const filters: Array<RecFilter | null> = [
        null,
        { apiKeyId: A.uuid },
        { model: 'beta' },
        { provider: 'p2' },
        { status: 'ERROR' },
        { apiKeyId: B.uuid, model: 'alpha', status: 'OK' },
        MID,
        { from: '2025-06-02T00:00:00.000Z', to: '2025-06-02T05:00:00.000Z' },
        // within one hour, and up to an hour's end
        { from: '2025-06-02T10:10:00.000Z', to: '2025-06-02T10:50:00.000Z' },
        { from: '2025-06-02T10:10:00.000Z', to: '2025-06-02T11:00:00.000Z' },
        { from: '2025-06-02T12:30:00.000Z' },
        { to: '2025-06-02T12:30:00.000Z' },
        { model: 'gamma', provider: 'p1', ...MID },
        { apiKeyId: C.uuid, ...MID },
        { status: 'CANCELLED', from: MID.from },
        // the cache filter reads the records: whole range, mid-hour ends, with other filters
        { cacheHit: true },
        { cacheHit: false, ...MID },
        { cacheHit: true, apiKeyId: A.uuid, model: 'beta', from: MID.from },
      ];
      for (const g of Object.keys(keyOf)) {
        for (const f of filters) {
          const rs = filtered(records, f ?? {});
          // the API names a key by its global id
          const filter = f?.apiKeyId ? { ...f, apiKeyId: globalIds.get(f.apiKeyId) } : f;
          await expectSummary(g, filter, rs);
        }
      }
    }, 120_000);

    it("a READ_USAGE key's summaries count its own records only, whatever it filters on", async () => {
      const own = records.filter((r) => r.key === A.uuid);
      await expectSummary('MODEL', null, own, A.secret);
      await expectSummary('API_KEY', MID, filtered(own, MID), A.secret);
      await expectSummary('HOUR', { status: 'OK', ...MID }, filtered(own, { status: 'OK', ...MID }), A.secret);
      await expectSummary('ALL', MID, filtered(own, MID), A.secret);
      // a bare UUID in capitals names the same key, on the rollups as on the records
      await expectSummary('ALL', { apiKeyId: A.uuid.toUpperCase(), ...MID }, filtered(own, MID));
      await expectSummary('MODEL', { apiKeyId: A.uuid.toUpperCase(), ...MID }, filtered(own, MID), A.secret);
      expect(await summary('MODEL', { apiKeyId: B.id }, A.secret)).toEqual([]);
      const denied = await gw.gql(SUMMARY, { g: 'MODEL' }, invokeOnly.secret);
      expect(denied.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect(denied.data?.usageSummary).toBeNull();
    });

    it('a re-sent batch adds nothing: only the records it newly writes are counted', async () => {
      const before = await rollupSnapshot(gw);
      const again = usageEvents({ count: 3000, start: START, spanMs: SPAN, keys: [A.uuid, B.uuid, C.uuid, null], models: ['alpha', 'beta', 'gamma'], providers: ['p1', 'p2', null], seed: 22 });
      // the same ids and times as written before (usageEvents draws fresh ids: take them from the records instead)
      const rows = rowsOf<{ id: string; ms: number }>(
        await gw.app.services.database.db.execute(sql`select id::text as id, (extract(epoch from created_at) * 1000)::float8 as ms from usage_records order by created_at limit 300`),
      );
      const resent = rows.map((r, i) => ({ ...again[i]!, id: r.id, createdAt: new Date(Math.round(Number(r.ms))) }));
      await writeThroughGateway(gw, resent);
      expect(await rollupSnapshot(gw)).toBe(before);
      expect(await readRecords(gw)).toHaveLength(3000);

      // a batch half old, half new: the new half is counted, once
      const added = usageEvents({ count: 40, start: new Date(START.getTime() + 5 * HOUR), spanMs: 3 * HOUR, keys: [A.uuid, null], models: ['beta'], providers: ['p1'], seed: 7 });
      await writeThroughGateway(gw, [...resent.slice(0, 40), ...added]);
      records = await readRecords(gw);
      expect(records).toHaveLength(3040);
      await expectSummary('HOUR', null, records);
      await expectSummary('MODEL', MID, filtered(records, MID));
    }, 60_000);

    it('an UPDATE that turns records into cache hits, and back, moves their sums in the rollups', async () => {
      const db = gw.app.services.database.db;
      const misses = records.filter((r) => r.cacheHit === null).length;
      await db.execute(sql`update usage_records set cache_hit = 'EXACT', cost_saved_usd = cost_usd + 0.0000000001
        where cache_hit is null and model = 'gamma' and created_at < ${MID.to}::timestamptz`);
      records = await readRecords(gw);
      expect(records.filter((r) => r.cacheHit === null).length).toBeLessThan(misses);
      await expectSummary('MODEL', null, records);
      await expectSummary('HOUR', { model: 'gamma' }, filtered(records, { model: 'gamma' }));
      await db.execute(sql`update usage_records set cache_hit = null, cost_saved_usd = 0 where model = 'gamma'`);
      records = await readRecords(gw);
      await expectSummary('API_KEY', MID, filtered(records, MID));
      const [gamma] = await summary('MODEL', { model: 'gamma' });
      expect([gamma!.cacheHits, gamma!.costSavedUsd, gamma!.cacheHitRate]).toEqual([0, 0, 0]);
    });

    it('the rebuild the upgrade backfill runs gives the rollups the triggers kept', async () => {
      const kept = await rollupSnapshot(gw);
      await gw.app.services.database.db.execute(sql`select usage_rollups_rebuild()`);
      expect(await rollupSnapshot(gw)).toBe(kept);
      await expectSummary('PROVIDER', null, records);
    });
  });

  describe.skipIf(backend.postgres && !PG_URL)(`usage rollups: retention and histogram bins on ${backend.name}`, () => {
    let gw: TestGateway;
    let fresh: FreshDatabase | undefined;

    beforeAll(async () => {
      if (backend.postgres) fresh = await freshDatabase(PG_URL!);
      gw = await startGateway(fresh ? { DATABASE_URL: fresh.url } : {});
    });
    afterAll(async () => {
      await gw?.stop();
      await fresh?.drop();
    });

    it('deleteOlderThan drops the rollup hours before the cutoff and takes the deleted records out of the hour it cuts', async () => {
      const cutoff = Date.now() - 30 * 24 * HOUR;
      // three hours either side of the cutoff, none within two minutes of it (the sweep reads the clock itself)
      const events = usageEvents({ count: 600, start: new Date(cutoff - 3 * HOUR), spanMs: 6 * HOUR, keys: [null], models: ['m1', 'm2'], providers: ['p'], seed: 3 }).filter(
        (e) => Math.abs(e.createdAt.getTime() - cutoff) > 120_000,
      );
      await writeThroughGateway(gw, events);
      const older = events.filter((e) => e.createdAt.getTime() < cutoff).length;
      expect(older).toBeGreaterThan(100);

      expect(await gw.app.services.usageQueries.deleteOlderThan(30)).toBe(older);
      const left = await readRecords(gw);
      expect(left).toHaveLength(events.length - older);
      const res = await gw.gql<{ usageSummary: Bucket[] }>(SUMMARY, { g: 'HOUR' });
      const want = groupBy(left, (r) => `${new Date(r.ms).toISOString().slice(0, 13)}:00:00Z`);
      expect(res.data!.usageSummary.map((b) => b.key)).toEqual([...want.keys()]);
      for (const b of res.data!.usageSummary) expectAggregateOf(b, want.get(b.key)!, b.key);

      const cutoffIso = new Date(cutoff).toISOString();
      const stale = rowsOf<{ n: number }>(
        await gw.app.services.database.db.execute(sql`select
          (select count(*) from usage_rollups where bucket_start + interval '1 hour' <= ${cutoffIso}::timestamptz)
          + (select count(*) from usage_group_rollups where bucket_start + interval '1 hour' <= ${cutoffIso}::timestamptz) as n`),
      );
      expect(Number(stale[0]!.n)).toBe(0);
      const kept = await rollupSnapshot(gw);
      await gw.app.services.database.db.execute(sql`select usage_rollups_rebuild()`);
      expect(await rollupSnapshot(gw)).toBe(kept);
    }, 60_000);

    it('every latency and TTFT, 0 to 2^31-1 ms, is read back within the bound, exactly below 32 ms', async () => {
      // the edges of the bins: the exact ones, each power of two and its neighbours, the largest int
      const values = [0, 1, 17, 31, 32, 33, 34, 47, 48, 63, 64, 65, 95, 96, 127, 128, 129, 1000, 1023, 1024, 1025, 4095, 65_535, 65_536, 99_999, 2 ** 20, 2 ** 24 - 1, 2 ** 30, 2 ** 31 - 1];
      const hour0 = Math.floor(Date.now() / HOUR) * HOUR - 10 * 24 * HOUR;
      const events = usageEvents({ count: values.length, start: new Date(hour0), spanMs: 1, keys: [null], models: ['edges'], providers: ['p'], seed: 9 }).map((e, i) => ({
        ...e,
        // one record an hour: each hour's percentiles are that record's value, as its bin gives it back
        createdAt: new Date(hour0 + i * HOUR + 1000),
        latencyMs: values[i]!,
        ttftMs: values[values.length - 1 - i]!,
      }));
      await writeThroughGateway(gw, events);
      const rs = (await readRecords(gw)).filter((r) => r.model === 'edges');
      const res = await gw.gql<{ usageSummary: Bucket[] }>(SUMMARY, { g: 'HOUR', filter: { model: 'edges' } });
      const want = groupBy(rs, (r) => `${new Date(r.ms).toISOString().slice(0, 13)}:00:00Z`);
      expect(res.data!.usageSummary).toHaveLength(values.length);
      for (const b of res.data!.usageSummary) expectAggregateOf(b, want.get(b.key)!, b.key);
      for (const b of res.data!.usageSummary.filter((x) => want.get(x.key)![0]!.latency < 32)) expect(b.p50LatencyMs).toBe(want.get(b.key)![0]!.latency);
      // and all of them in one group
      const all = await gw.gql<{ usageSummary: Bucket[] }>(SUMMARY, { g: 'MODEL', filter: { model: 'edges' } });
      expectAggregateOf(all.data!.usageSummary[0]!, rs, 'edges');
    });
  });
}
