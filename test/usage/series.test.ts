/*
 * usageSeries, the console's charts: every point of every interval equals a scan of the records it covers (sums
 * exactly, percentiles within the documented bound), whether it is read from rollup hours, from a day of them, or
 * from the records of a partial hour; grouped or not; before and after the percentiles of finished hours are
 * cached. Who sees what (READ_USAGE: its own usage), the range bounds, the default range and the 50-series limit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { expectCode } from '../graphql/helpers.js';
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

const SERIES = `query($i: UsageInterval!, $g: UsageGroupBy, $filter: UsageFilter) {
  usageSeries(interval: $i, groupBy: $g, filter: $filter) { key points { at ${AGGREGATE_FIELDS} } }
}`;
type Series = { key: string; points: Array<Aggregate & { at: string }> };
type Key = Awaited<ReturnType<TestGateway['createKey']>>;

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const UNIT: Record<string, number> = { MINUTE, HOUR, DAY };
const START = new Date(Date.UTC(2025, 5, 1, 21, 17, 23, 456));
const MID = { from: '2025-06-02T03:41:07.123Z', to: '2025-06-03T11:05:59.999Z' };
/** 55 models with 1 to 55 records each, in an hour of their own. */
const MANY_FROM = '2025-07-01T10:00:00.000Z';
const MANY_TO = '2025-07-01T11:00:00.000Z';

const backends = [
  { name: 'embedded PGlite', postgres: false },
  { name: 'Postgres (TEST_DATABASE_URL)', postgres: true },
];

for (const backend of backends) {
  describe.skipIf(backend.postgres && !PG_URL)(`usageSeries on ${backend.name}`, () => {
    let gw: TestGateway;
    let fresh: FreshDatabase | undefined;
    let A: Key;
    let B: Key;
    let invokeOnly: Key;
    let records: Rec[];
    const globalIds = new Map<string, string>();
    const keyOf: Record<string, (r: Rec) => string> = {
      MODEL: (r) => r.model,
      PROVIDER: (r) => r.provider ?? '',
      API_KEY: (r) => (r.key ? globalIds.get(r.key)! : ''),
    };

    async function series(interval: string, g: string | null, filter: object | null, key = gw.adminKey): Promise<Series[]> {
      const res = await gw.gql<{ usageSeries: Series[] }>(SERIES, { i: interval, g, filter }, key);
      expect(res.errors, `${interval} ${g} ${JSON.stringify(filter)}`).toBeUndefined();
      return res.data!.usageSeries;
    }

    /** Asserts the answer holds the series of `rs`: largest first, points in time order, each equal to a scan. */
    function expectSeriesOf(got: Series[], rs: Rec[], interval: string, g: string | null, label: string) {
      const groups = groupBy(rs, g ? keyOf[g]! : () => 'all');
      // ties in size go by the stored key, as the gateway sorts them: a key's uuid, not its global id (whose base64
      // order differs)
      const raw = (k: string) => (g === 'API_KEY' && k ? Buffer.from(k, 'base64').toString('utf8').replace(/^ApiKey:/, '') : k);
      const order = [...groups.entries()]
        .sort(([ka, a], [kb, b]) => b.length - a.length || (raw(ka) < raw(kb) ? -1 : raw(ka) > raw(kb) ? 1 : 0))
        .map(([k]) => k);
      expect(got.map((s) => s.key), label).toEqual(order);
      for (const s of got) {
        const points = groupBy(groups.get(s.key)!, (r) => new Date(Math.floor(r.ms / UNIT[interval]!) * UNIT[interval]!).toISOString());
        expect(s.points.map((p) => p.at), `${label} [${s.key}]`).toEqual([...points.keys()]);
        for (const p of s.points) expectAggregateOf(p, points.get(p.at)!, `${label} [${s.key}] ${p.at}`);
      }
    }

    beforeAll(async () => {
      if (backend.postgres) fresh = await freshDatabase(PG_URL!);
      gw = await startGateway(fresh ? { DATABASE_URL: fresh.url } : {});
      A = await gw.createKey({ name: 'A', scopes: ['INVOKE', 'READ_USAGE'] });
      B = await gw.createKey({ name: 'B', scopes: ['READ_USAGE'] });
      invokeOnly = await gw.createKey({ name: 'C', scopes: ['INVOKE'] });
      for (const k of [A, B, invokeOnly]) globalIds.set(k.uuid, k.id);
      const keys = [A.uuid, B.uuid, invokeOnly.uuid, null];
      const events = [
        ...usageEvents({ count: 2500, start: START, spanMs: 52 * HOUR, keys, models: ['alpha', 'beta', 'gamma'], providers: ['p1', 'p2', null], seed: 5 }),
        // the default range: the last 24 hours (and records just before it)
        ...usageEvents({ count: 30, start: new Date(Date.now() - 2 * HOUR), spanMs: HOUR, keys, models: ['alpha'], providers: ['p1'], seed: 6 }),
        ...usageEvents({ count: 10, start: new Date(Date.now() - 30 * HOUR), spanMs: HOUR, keys, models: ['alpha'], providers: ['p1'], seed: 7 }),
        ...Array.from({ length: 55 }, (_, m) =>
          usageEvents({ count: m + 1, start: new Date(MANY_FROM), spanMs: HOUR, keys: [A.uuid], models: [`model-${m}`], providers: ['p1'], seed: 100 + m }),
        ).flat(),
      ];
      await writeThroughGateway(gw, events);
      records = await readRecords(gw);
      expect(records).toHaveLength(events.length);
    }, 120_000);

    afterAll(async () => {
      await gw?.stop();
      await fresh?.drop();
    });

    it('HOUR, DAY and MINUTE points equal a scan, grouped or not, over ranges that start and end mid-interval', async () => {
      const cases: Array<[string, string | null, RecFilter]> = [
        ['HOUR', 'MODEL', MID],
        ['HOUR', null, MID],
        ['HOUR', 'PROVIDER', { ...MID, model: 'beta' }],
        ['HOUR', 'API_KEY', MID],
        // filters on two dimensions, or on status, read the rollups that hold them all
        ['HOUR', 'MODEL', { ...MID, status: 'ERROR' }],
        ['HOUR', 'MODEL', { ...MID, apiKeyId: B.uuid }],
        ['DAY', 'PROVIDER', MID],
        ['DAY', null, { from: '2025-06-01T00:00:00.000Z', to: '2025-06-05T00:00:00.000Z' }],
        ['DAY', 'MODEL', { ...MID, status: 'OK' }],
        ['MINUTE', 'API_KEY', { from: '2025-06-02T10:10:30.500Z', to: '2025-06-02T12:05:00.000Z' }],
        ['MINUTE', null, { from: '2025-06-02T10:10:30.500Z', to: '2025-06-02T16:10:30.500Z' }],
        // the cache filter reads the records, at every interval
        ['HOUR', 'MODEL', { ...MID, cacheHit: true }],
        ['HOUR', null, { ...MID, cacheHit: false }],
        ['DAY', 'API_KEY', { ...MID, cacheHit: true }],
        ['MINUTE', null, { from: '2025-06-02T10:10:30.500Z', to: '2025-06-02T16:10:30.500Z', cacheHit: true }],
      ];
      for (const [interval, g, f] of cases) {
        const filter = f.apiKeyId ? { ...f, apiKeyId: globalIds.get(f.apiKeyId) } : f;
        const got = await series(interval, g, filter);
        const rs = filtered(records, f);
        expect(rs.length).toBeGreaterThan(0);
        expectSeriesOf(got, rs, interval, g, `${interval} ${g} ${JSON.stringify(f)}`);
      }
    }, 60_000);

    it('answers the same before and after the percentiles of finished hours are cached', async () => {
      const db = gw.app.services.database.db;
      await db.execute(sql`update usage_group_rollups set quantiles = null`);
      const queries: Array<[string, string | null, Record<string, string>]> = [
        ['HOUR', 'MODEL', MID],
        ['HOUR', null, MID],
        ['HOUR', 'API_KEY', { from: '2025-06-01T00:00:00.000Z', to: '2025-06-05T00:00:00.000Z' }],
      ];
      const fromHistograms = await Promise.all(queries.map(([i, g, f]) => series(i, g, f)));
      while ((await gw.app.services.usageQueries.sealQuantiles(500)) > 0);
      const [{ n }] = rowsOf<{ n: number }>(await db.execute(sql`select count(*)::int as n from usage_group_rollups where quantiles is not null`));
      expect(Number(n)).toBeGreaterThan(100);
      const fromCache = await Promise.all(queries.map(([i, g, f]) => series(i, g, f)));
      expect(fromCache).toEqual(fromHistograms);
      expectSeriesOf(fromCache[0]!, filtered(records, MID), 'HOUR', 'MODEL', 'cached');
    });

    it('a READ_USAGE key charts its own usage only; without READ_USAGE the field is null and FORBIDDEN', async () => {
      const own = filtered(records, { apiKeyId: A.uuid, ...MID });
      const got = await series('HOUR', 'API_KEY', MID, A.secret);
      expect(got.map((s) => s.key)).toEqual([A.id]);
      expectSeriesOf(got, own, 'HOUR', 'API_KEY', 'own');
      expectSeriesOf(await series('DAY', 'MODEL', MID, A.secret), own, 'DAY', 'MODEL', 'own by model');
      expect(await series('HOUR', 'MODEL', { ...MID, apiKeyId: B.id }, A.secret)).toEqual([]);
      const denied = await gw.gql<{ usageSeries: Series[] | null }>(SERIES, { i: 'HOUR', filter: MID }, invokeOnly.secret);
      expectCode(denied, 'FORBIDDEN');
      expect(denied.data?.usageSeries).toBeNull();
      expectCode(await gw.gql(SERIES, { i: 'HOUR' }, null), 'UNAUTHENTICATED');
    });

    it('at most 50 series, the largest by requests, largest first', async () => {
      const got = await series('HOUR', 'MODEL', { from: MANY_FROM, to: MANY_TO });
      expect(got.map((s) => s.key)).toEqual(Array.from({ length: 50 }, (_, i) => `model-${54 - i}`));
      expect(got.map((s) => s.points.reduce((n, p) => n + p.requests, 0))).toEqual(Array.from({ length: 50 }, (_, i) => 55 - i));
      // the limit counts groups, not points: the 55 records of one key are one series
      expect((await series('HOUR', 'API_KEY', { from: MANY_FROM, to: MANY_TO })).map((s) => s.key)).toEqual([A.id]);
    });

    it('without from and to: the 24 hours before now', async () => {
      const now = Date.now();
      const recent = records.filter((r) => r.ms >= now - DAY && r.ms < now);
      expect(recent).toHaveLength(30);
      const got = await series('HOUR', null, null);
      expect(got).toHaveLength(1);
      expect(got[0]!.points.reduce((n, p) => n + p.requests, 0)).toBe(30);
      expectSeriesOf(got, recent, 'HOUR', null, 'default range');
      // from alone: up to now
      expectSeriesOf(await series('HOUR', 'MODEL', { from: new Date(now - 40 * HOUR).toISOString() }), records.filter((r) => r.ms >= now - 40 * HOUR), 'HOUR', 'MODEL', 'from only');
    });

    it('refuses ranges too long for the interval, DAY or HOUR as groupBy, and an inverted range', async () => {
      const from = '2025-06-02T00:00:00.000Z';
      const plus = (ms: number) => new Date(Date.parse(from) + ms).toISOString();
      expect(await series('MINUTE', null, { from, to: plus(6 * HOUR) })).toBeDefined();
      expectCode(await gw.gql(SERIES, { i: 'MINUTE', filter: { from, to: plus(6 * HOUR + 1) } }), 'BAD_USER_INPUT', 'interval');
      // the default range (24 hours) is too long for MINUTE points
      expectCode(await gw.gql(SERIES, { i: 'MINUTE' }), 'BAD_USER_INPUT', 'interval');
      expect(await series('HOUR', null, { from, to: plus(90 * DAY) })).toBeDefined();
      expectCode(await gw.gql(SERIES, { i: 'HOUR', filter: { from, to: plus(90 * DAY + 1) } }), 'BAD_USER_INPUT', 'interval');
      expect(await series('DAY', null, { from: '2020-01-01T00:00:00.000Z', to: plus(0) })).toBeDefined();
      for (const g of ['DAY', 'HOUR']) expectCode(await gw.gql(SERIES, { i: 'HOUR', g, filter: MID }), 'BAD_USER_INPUT', 'groupBy');
      expectCode(await gw.gql(SERIES, { i: 'HOUR', filter: { from: MID.to, to: MID.from } }), 'BAD_USER_INPUT', 'filter.from');
    });
  });
}
