/*
 * usageSummary and usageSeries, read from the rollups (usage-rollup-sql.ts): sums exact, percentiles from the
 * histograms (usage-histogram.ts). And the job that computes, once an hour is over, the percentiles of its
 * usage_group_rollups rows, so a chart of many hours reads numbers instead of histograms.
 */
import { sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { rowsOf } from '../db/rows-of.js';
import { badInput } from '../errors.js';
import type { UsageReadScope } from './access.js';
import { toUsageScope, type UsageFilter, type UsageScope } from './usage-filter.js';
import { medianAndP95 } from './usage-histogram.js';
import {
  answeredFromRecords,
  exactPoints,
  groupRollupDimension,
  groupRollupHours,
  largestGroups,
  partsOf,
  rollupPart,
  splitAtHours,
  summed,
  type GroupKeys,
  type Grouping,
  type TimeUnit,
  type UsageDimension,
  type UsageGroupBy,
} from './usage-rollup-sql.js';

export type { UsageGroupBy } from './usage-rollup-sql.js';
export type UsageInterval = 'MINUTE' | 'HOUR' | 'DAY';

/** What a group or a point sums up. Percentiles are in whole milliseconds; null without samples. */
export interface UsageAggregate {
  requests: number;
  errors: number;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
  p50LatencyMs: number | null;
  p95LatencyMs: number | null;
  p50TtftMs: number | null;
  p95TtftMs: number | null;
  /** Records the response cache answered. */
  cacheHits: number;
  /** cacheHits / requests; 0 without requests. */
  cacheHitRate: number;
  /** What the hits would have cost upstream, summed. */
  costSavedUsd: number;
}

export interface UsageBucket extends UsageAggregate {
  key: string;
}

export interface UsagePoint extends UsageAggregate {
  at: Date;
}

export interface UsageSeries {
  /** The group's value; ALL_SERIES when the series are not grouped. */
  key: string;
  points: UsagePoint[];
}

const ALL_SERIES = 'all';
/** The most series one usageSeries answers: the largest groups by requests. */
export const MAX_SERIES = 50;
const HOUR_MS = 3_600_000;
/** A series' range when the filter gives no `from`: this long before `to`. */
const DEFAULT_SERIES_RANGE_MS = 24 * HOUR_MS;
/** The longest range of each interval (at most 360 MINUTE and 2160 HOUR points per series), and how it is said. */
const MAX_SERIES_RANGE: Record<UsageInterval, { ms: number; said: string }> = {
  MINUTE: { ms: 6 * HOUR_MS, said: '6 hours' },
  HOUR: { ms: 90 * 24 * HOUR_MS, said: '90 days' },
  DAY: { ms: Infinity, said: 'any range' },
};

/**
 * A point as `summed` and `groupRollupHours` answer it (POINT_COLUMNS): key, at, requests, errors, prompt and
 * completion tokens, cost (text: exact), cached quantiles (groupRollupHours only), the two histograms, then the
 * cache hits and the cost they saved (text: exact).
 */
type PointValues = [
  key: string,
  at: number,
  requests: number,
  errors: number,
  promptTokens: number | null,
  completionTokens: number | null,
  costUsd: string | null,
  quantiles: Array<number | null> | null,
  latencyDigits: string | null,
  latencyLength: number | null,
  ttftDigits: string | null,
  ttftLength: number | null,
  cacheHits: number | null,
  costSavedUsd: string | null,
];

/** A point as `exactPoints` answers it (EXACT_COLUMNS): the same sums, the exact percentiles, then the cache's sums. */
type ExactValues = [
  key: string,
  at: number,
  requests: number,
  errors: number,
  promptTokens: number | null,
  completionTokens: number | null,
  costUsd: string | null,
  p50LatencyMs: number | null,
  p95LatencyMs: number | null,
  p50TtftMs: number | null,
  p95TtftMs: number | null,
  cacheHits: number | null,
  costSavedUsd: string | null,
];

const round = (v: number | null | undefined) => (v == null ? null : Math.round(v));

/** [p50, p95] of latency then TTFT, from two packed histograms. */
function histogramPercentiles(latencyDigits: string | null, latencyLength: number | null, ttftDigits: string | null, ttftLength: number | null) {
  return [
    ...medianAndP95({ digits: latencyDigits ?? '', length: Number(latencyLength ?? 0) }),
    ...medianAndP95({ digits: ttftDigits ?? '', length: Number(ttftLength ?? 0) }),
  ];
}

/** A point with its group, built in one literal (one object shape for every point). */
interface KeyedAggregate {
  key: string;
  at: number;
  aggregate: UsageAggregate;
}

/** The cache's two sums, where each kind of point holds them. */
interface CacheSums {
  hits: number | null;
  saved: string | null;
}

function aggregate(v: PointValues | ExactValues, percentiles: ReadonlyArray<number | null | undefined>, cache: CacheSums): UsageAggregate {
  const requests = Number(v[2]);
  const cacheHits = Number(cache.hits ?? 0);
  return {
    requests,
    errors: Number(v[3]),
    promptTokens: Number(v[4] ?? 0),
    completionTokens: Number(v[5] ?? 0),
    costUsd: Number(v[6] ?? 0),
    p50LatencyMs: round(percentiles[0]),
    p95LatencyMs: round(percentiles[1]),
    p50TtftMs: round(percentiles[2]),
    p95TtftMs: round(percentiles[3]),
    cacheHits,
    cacheHitRate: requests > 0 ? cacheHits / requests : 0,
    costSavedUsd: Number(cache.saved ?? 0),
  };
}

function fromPointValues(v: PointValues): KeyedAggregate {
  // the percentiles cached for a finished hour, or computed from the histograms
  const percentiles = v[7] ?? histogramPercentiles(v[8], v[9], v[10], v[11]);
  return { key: v[0], at: Number(v[1]), aggregate: aggregate(v, percentiles, { hits: v[12], saved: v[13] }) };
}

function fromExactValues(v: ExactValues): KeyedAggregate {
  return { key: v[0], at: Number(v[1]), aggregate: aggregate(v, v.slice(7, 11) as Array<number | null>, { hits: v[11], saved: v[12] }) };
}

/** Points by group, the group with the most requests first (ties by key), each group's points in time order. */
function toSeries(points: KeyedAggregate[], grouped: boolean): UsageSeries[] {
  const byKey = new Map<string, UsagePoint[]>();
  for (const { key, at, aggregate: a } of points) {
    const point: UsagePoint = { at: new Date(at), ...a };
    const list = byKey.get(key);
    if (list) list.push(point);
    else byKey.set(key, [point]);
  }
  const total = (ps: UsagePoint[]) => ps.reduce((s, p) => s + p.requests, 0);
  return [...byKey.entries()]
    .map(([key, ps]) => ({ key: grouped ? key : ALL_SERIES, points: ps.sort((a, b) => a.at.getTime() - b.at.getTime()), n: total(ps) }))
    .sort((a, b) => b.n - a.n || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map(({ key, points: ps }) => ({ key, points: ps }));
}

export function createUsageRollupQueries(db: Db) {
  const read = async <T>(query: SQL) => rowsOf<T>(await db.execute(query));
  // the statements answer their rows as one JSON text (see jsonRows in usage-rollup-sql.ts)
  const readPoints = async (query: SQL) => (JSON.parse((await read<{ rows: string }>(query))[0]!.rows) as PointValues[]).map(fromPointValues);
  const readExact = async (query: SQL) => (JSON.parse((await read<{ rows: string }>(query))[0]!.rows) as ExactValues[]).map(fromExactValues);

  /** The groups a series keeps (null: all of them, there are not more than MAX_SERIES). */
  async function largest(scope: UsageScope, groupBy: UsageGroupBy): Promise<GroupKeys> {
    const parts = partsOf(scope, { groupBy, unit: null }, null, false);
    if (!parts.length) return null;
    const rows = await read<{ key: string }>(largestGroups(parts, MAX_SERIES + 1));
    return rows.length > MAX_SERIES ? rows.slice(0, MAX_SERIES).map((r) => r.key) : null;
  }

  /**
   * Hour points when usage_group_rollups holds the scope: one row per whole hour and group, read (and ranked) in
   * one statement; the partial hours at the ends from the records.
   */
  async function hoursFromGroupRollups(scope: UsageScope, g: Grouping, dimension: UsageDimension | 'ALL'): Promise<KeyedAggregate[]> {
    const { hours, edges } = splitAtHours(scope);
    const edgePoints = edges.length ? await readExact(exactPoints(scope, edges, g, null)) : [];
    const edgeRequests: Record<string, number> = {};
    for (const p of edgePoints) edgeRequests[p.key] = (edgeRequests[p.key] ?? 0) + p.aggregate.requests;
    const [res] = await read<{ top_keys: string | null; rows: string }>(
      groupRollupHours(scope, hours!, dimension, g.groupBy !== null, edgeRequests, MAX_SERIES),
    );
    const top = res!.top_keys ? new Set(JSON.parse(res!.top_keys) as string[]) : null;
    return [...(JSON.parse(res!.rows) as PointValues[]).map(fromPointValues), ...edgePoints.filter((p) => !top || top.has(p.key))];
  }

  /** Points of any interval, from the parts of the range (rollup hours and edge records); MINUTE from records only. */
  async function points(scope: UsageScope, interval: UsageInterval, g: Grouping, keys: GroupKeys): Promise<KeyedAggregate[]> {
    if (interval === 'MINUTE') return readExact(exactPoints(scope, [scope], g, keys));
    if (interval === 'DAY' || answeredFromRecords(scope, g.groupBy)) {
      const parts = partsOf(scope, g, keys, true);
      return parts.length ? readPoints(summed(parts)) : [];
    }
    // hours: whole ones summed from usage_rollups, the partial ones at the ends with exact percentiles
    const { hours, edges } = splitAtHours(scope);
    return [
      ...(hours ? await readPoints(summed([rollupPart(scope, hours, g, keys, true)])) : []),
      ...(edges.length ? await readExact(exactPoints(scope, edges, g, keys)) : []),
    ];
  }

  return {
    /**
     * Totals per group, in the groups' key order; the same sums as a scan of the records. Without `groupBy`, one
     * bucket keyed ALL_SERIES of everything the filter selects (none when nothing does): the whole window's
     * percentiles, which no sum of groups could give.
     */
    async summary(args: { groupBy: UsageGroupBy | null; filter?: UsageFilter | null; readScope: UsageReadScope }): Promise<UsageBucket[]> {
      const scope = toUsageScope(args.filter, args.readScope);
      const parts = partsOf(scope, { groupBy: args.groupBy, unit: null }, null, true);
      if (!parts.length) return [];
      const points = (await readPoints(summed(parts))).filter((p) => p.aggregate.requests > 0);
      return points.map((p) => ({ key: args.groupBy ? p.key : ALL_SERIES, ...p.aggregate }));
    },

    /**
     * Points of `interval` in [from, to) (default: the 24 hours before `to`, which defaults to now) that have
     * records; one series, or one per group, at most MAX_SERIES (the largest by requests).
     */
    async series(args: {
      interval: UsageInterval;
      groupBy?: UsageGroupBy | null;
      filter?: UsageFilter | null;
      readScope: UsageReadScope;
      now?: Date;
    }): Promise<UsageSeries[]> {
      const groupBy = args.groupBy ?? null;
      if (groupBy === 'DAY' || groupBy === 'HOUR') throw badInput('groupBy', 'must be MODEL, PROVIDER, API_KEY, TEAM or USER: a series is already split by its interval');
      const to = args.filter?.to ?? args.now ?? new Date();
      const from = args.filter?.from ?? new Date(to.getTime() - DEFAULT_SERIES_RANGE_MS);
      const scope = toUsageScope({ ...args.filter, from, to }, args.readScope);
      const max = MAX_SERIES_RANGE[args.interval];
      if (!max) throw badInput('interval', 'must be MINUTE, HOUR or DAY');
      if (to.getTime() - from.getTime() > max.ms) {
        throw badInput('interval', `${args.interval} points cover a range of at most ${max.said}: choose a wider interval or a shorter range`);
      }
      const g: Grouping = { groupBy, unit: args.interval.toLowerCase() as TimeUnit };
      const dimension = groupRollupDimension(scope, groupBy);
      const rows =
        args.interval === 'HOUR' && dimension && splitAtHours(scope).hours
          ? await hoursFromGroupRollups(scope, g, dimension)
          : await points(scope, args.interval, g, groupBy ? await largest(scope, groupBy) : null);
      return toSeries(rows, groupBy !== null);
    },

    /**
     * Computes the percentiles of up to `limit` usage_group_rollups rows of finished hours that have none yet
     * (the most recent first); answers how many. A row that changes meanwhile keeps none: the update checks the
     * row's version (xmin), and the change itself cleared them.
     */
    async sealQuantiles(limit = 1000): Promise<number> {
      const rows = await read<{
        group_by: string;
        at: number;
        group_key: string;
        version: string;
        latency_digits: string;
        latency_length: number;
        ttft_digits: string;
        ttft_length: number;
      }>(sql`select group_by, extract(epoch from bucket_start)::float8 * 1000 as at, group_key,
          xmin::text as version, rtrim(latency_hist::text, '0') as latency_digits, length(latency_hist::text) as latency_length,
          rtrim(ttft_hist::text, '0') as ttft_digits, length(ttft_hist::text) as ttft_length
        from usage_group_rollups where quantiles is null and bucket_start < date_trunc('hour', now(), 'UTC')
        order by bucket_start desc limit ${limit}`);
      if (!rows.length) return 0;
      const values = rows.map((r) => ({
        group_by: r.group_by,
        bucket_start: new Date(Number(r.at)).toISOString(),
        group_key: r.group_key,
        version: r.version,
        // stored as answered, in whole milliseconds
        q: histogramPercentiles(r.latency_digits, r.latency_length, r.ttft_digits, r.ttft_length).map(round),
      }));
      await db.execute(sql`update usage_group_rollups g set quantiles = v.q
        from jsonb_to_recordset(${JSON.stringify(values)}::jsonb)
          as v(group_by text, bucket_start timestamptz, group_key text, version text, q float8[])
        where g.group_by = v.group_by and g.bucket_start = v.bucket_start and g.group_key = v.group_key
          and g.xmin::text = v.version`);
      return rows.length;
    },
  };
}
