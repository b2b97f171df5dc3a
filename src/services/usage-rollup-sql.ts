/*
 * The SQL pieces usage summaries and series are made of. A range [from, to) is read as whole hours from the rollup
 * tables and as records for the partial hours at its ends: the same sums a scan of the records would make, exactly,
 * at the cost of one rollup row per hour and group instead of every record.
 */
import { sql, type SQL } from 'drizzle-orm';
import type { UsageScope } from './usage-filter.js';

export type UsageDimension = 'MODEL' | 'PROVIDER' | 'API_KEY';
/** TEAM and USER are read from the records (answeredFromRecords). */
export type UsageGroupBy = UsageDimension | 'TEAM' | 'USER' | 'DAY' | 'HOUR';
/** The width of a series' points, as date_trunc names it. */
export type TimeUnit = 'minute' | 'hour' | 'day';

const HOUR_MS = 3_600_000;

/** A time range, [from, to); null is unbounded on that side. */
export interface TimeRange {
  from: Date | null;
  to: Date | null;
}

/** The whole hours inside a range (null when there are none) and the partial hours at its ends. */
export interface HourSplit {
  hours: TimeRange | null;
  edges: TimeRange[];
}

export function splitAtHours({ from, to }: TimeRange): HourSplit {
  const firstHour = from && new Date(Math.ceil(from.getTime() / HOUR_MS) * HOUR_MS);
  const endHour = to && new Date(Math.floor(to.getTime() / HOUR_MS) * HOUR_MS);
  if (firstHour && endHour && firstHour >= endHour) return { hours: null, edges: from! < to! ? [{ from, to }] : [] };
  const edges: TimeRange[] = [];
  if (from && firstHour! > from) edges.push({ from, to: firstHour });
  if (to && endHour! < to) edges.push({ from: endHour, to });
  return { hours: { from: firstHour, to: endHour }, edges };
}

const ts = (d: Date) => sql`${d.toISOString()}::timestamptz`;

/** What a part's rows are grouped into: a group key, and for series the start of the point's interval. */
export interface Grouping {
  groupBy: UsageGroupBy | null;
  /** Series only: the interval of a point (a summary has one point, at 0). */
  unit: TimeUnit | null;
}

/**
 * Which rollup table answers a scope whole: usage_group_rollups holds one dimension per row, so it serves a read
 * that filters and groups on at most one of model, provider and key (and not on status); anything else reads
 * usage_rollups, which has every dimension.
 */
export function groupRollupDimension(scope: UsageScope, groupBy: UsageGroupBy | null): UsageDimension | 'ALL' | null {
  if (scope.status || answeredFromRecords(scope, groupBy)) return null;
  const dims = new Set<UsageDimension>();
  if (scope.apiKeyIds.length) dims.add('API_KEY');
  if (scope.model) dims.add('MODEL');
  if (scope.provider) dims.add('PROVIDER');
  if (groupBy === 'MODEL' || groupBy === 'PROVIDER' || groupBy === 'API_KEY') dims.add(groupBy);
  if (dims.size > 1) return null;
  return dims.values().next().value ?? 'ALL';
}

/**
 * Whether a scope is read from usage_records alone: the rollups are not keyed by cache hit, team or end user, so a
 * filter or grouping on them is answered by scanning the records (the team and end-user ones through their partial
 * indexes). They are occasional questions (the hit rate itself comes from the rollups' sums), and keying
 * usage_rollups by them would add a row per key, model, provider, status and hour (and end user) for every reader.
 */
export function answeredFromRecords(scope: UsageScope, groupBy: UsageGroupBy | null): boolean {
  return scope.cacheHit !== null || scope.teamIds.length > 0 || scope.endUser !== null || groupBy === 'TEAM' || groupBy === 'USER';
}

const DAY_TEXT = `'YYYY-MM-DD'`;
const HOUR_TEXT = `'YYYY-MM-DD"T"HH24:00:00"Z"'`;

/** The group key of a record, as usageSummary has always named groups. */
function recordKey(groupBy: UsageGroupBy | null): SQL {
  switch (groupBy) {
    case 'MODEL':
      return sql`model`;
    case 'PROVIDER':
      return sql`coalesce(provider, '')`;
    case 'API_KEY':
      return sql`coalesce(api_key_id::text, '')`;
    case 'TEAM':
      return sql`coalesce(team_id::text, '')`;
    case 'USER':
      return sql`coalesce(end_user, '')`;
    case 'DAY':
      return sql.raw(`to_char(created_at at time zone 'UTC', ${DAY_TEXT})`);
    case 'HOUR':
      return sql.raw(`to_char(date_trunc('hour', created_at at time zone 'UTC'), ${HOUR_TEXT})`);
    default:
      return sql`''`;
  }
}

/** The same key for a rollup row (of usage_group_rollups when `dimension` is given). */
function rollupKey(groupBy: UsageGroupBy | null, dimension: UsageDimension | 'ALL' | null): SQL {
  if (groupBy === 'DAY') return sql.raw(`to_char(bucket_start at time zone 'UTC', ${DAY_TEXT})`);
  if (groupBy === 'HOUR') return sql.raw(`to_char(bucket_start at time zone 'UTC', ${HOUR_TEXT})`);
  if (groupBy && dimension) return sql`group_key`;
  return recordKey(groupBy);
}

/** Milliseconds since the epoch of the start of the point a row belongs to. */
function pointStart(column: 'created_at' | 'bucket_start', unit: TimeUnit | null): SQL {
  if (!unit) return sql`0::float8`;
  if (column === 'bucket_start' && unit === 'hour') return sql`extract(epoch from bucket_start)::float8 * 1000`;
  return sql.raw(`extract(epoch from date_trunc('${unit}', ${column}, 'UTC'))::float8 * 1000`);
}

function recordConditions(scope: UsageScope): SQL[] {
  const c = scope.apiKeyIds.map((id) => sql`api_key_id = ${id}::uuid`);
  for (const id of scope.teamIds) c.push(sql`team_id = ${id}::uuid`);
  if (scope.endUser) c.push(sql`end_user = ${scope.endUser}`);
  if (scope.model) c.push(sql`model = ${scope.model}`);
  if (scope.provider) c.push(sql`provider = ${scope.provider}`);
  if (scope.status) c.push(sql`status = ${scope.status}`);
  if (scope.cacheHit !== null) c.push(scope.cacheHit ? sql`cache_hit is not null` : sql`cache_hit is null`);
  return c;
}

/** The rows of one dimension, and of the one value filtered on if any (two key ids, own and filtered, must both match). */
function groupRollupConditions(scope: UsageScope, dimension: UsageDimension | 'ALL'): SQL[] {
  const c = [sql`group_by = ${dimension}`];
  for (const id of dimension === 'API_KEY' ? scope.apiKeyIds : []) c.push(sql`group_key = ${id}`);
  if (dimension === 'MODEL' && scope.model) c.push(sql`group_key = ${scope.model}`);
  if (dimension === 'PROVIDER' && scope.provider) c.push(sql`group_key = ${scope.provider}`);
  return c;
}

function inRange(column: 'created_at' | 'bucket_start', r: TimeRange): SQL[] {
  const c: SQL[] = [];
  if (r.from) c.push(sql`${sql.raw(column)} >= ${ts(r.from)}`);
  if (r.to) c.push(sql`${sql.raw(column)} < ${ts(r.to)}`);
  return c;
}

/** Records in any of `ranges`; no condition when one of them is unbounded on both sides. */
function inRanges(ranges: TimeRange[]): SQL[] {
  const each = ranges.map((r) => inRange('created_at', r));
  if (each.some((c) => !c.length)) return [];
  return [sql`(${sql.join(each.map((c) => sql`(${sql.join(c, sql` and `)})`), sql` or `)})`];
}

const where = (c: SQL[]) => (c.length ? sql` where ${sql.join(c, sql` and `)}` : sql``);

/** Restricts a part to some groups (a series' largest ones); null keeps every group. */
export type GroupKeys = string[] | null;

function inGroups(key: SQL, keys: GroupKeys): SQL[] {
  return keys ? [sql`${key} in (${sql.join(keys.map((k) => sql`${k}`), sql`, `)})`] : [];
}

/**
 * Rows of the rollup tables for the whole hours of `hours`, with the columns every part has: key, at, requests,
 * errors, prompt_tokens, completion_tokens, cost_usd, ttft_count, cache_hits, cost_saved_usd, and with `histograms`
 * latency_hist, ttft_hist.
 */
export function rollupPart(scope: UsageScope, hours: TimeRange, g: Grouping, keys: GroupKeys, histograms: boolean): SQL {
  const dimension = groupRollupDimension(scope, g.groupBy);
  const key = rollupKey(g.groupBy, dimension);
  const hist = histograms ? sql`, latency_hist, ttft_hist` : sql``;
  const c = [...inRange('bucket_start', hours), ...inGroups(key, keys)];
  let table: SQL;
  if (dimension) {
    table = sql`usage_group_rollups`;
    c.push(...groupRollupConditions(scope, dimension));
  } else {
    table = sql`usage_rollups`;
    c.push(...recordConditions(scope));
  }
  return sql`select ${key} as key, ${pointStart('bucket_start', g.unit)} as at, requests, errors, prompt_tokens,
    completion_tokens, cost_usd, ttft_count, cache_hits, cost_saved_usd${hist} from ${table}${where(c)}`;
}

/** The records of `ranges` (partial hours) as rows of the same shape as rollupPart's. */
function recordPart(scope: UsageScope, ranges: TimeRange[], g: Grouping, keys: GroupKeys, histograms: boolean): SQL {
  const key = recordKey(g.groupBy);
  const at = pointStart('created_at', g.unit);
  const c = [...recordConditions(scope), ...inGroups(key, keys), ...inRanges(ranges)];
  if (!histograms) {
    return sql`select ${key} as key, ${at} as at, count(*) as requests, 0 as errors, 0 as prompt_tokens,
      0 as completion_tokens, 0 as cost_usd, 0 as ttft_count, 0 as cache_hits, 0 as cost_saved_usd
      from usage_records${where(c)} group by 1, 2`;
  }
  // the records counted per bin first, then one histogram term per bin: a numeric per bin, not one per record
  return sql`select key, at, sum(requests) as requests, sum(errors) as errors, sum(prompt_tokens) as prompt_tokens,
      sum(completion_tokens) as completion_tokens, sum(cost_usd) as cost_usd, sum(ttft_count) as ttft_count,
      sum(cache_hits) as cache_hits, sum(cost_saved_usd) as cost_saved_usd,
      sum(usage_hist_unit(latency_bin) * requests) as latency_hist,
      coalesce(sum(usage_hist_unit(ttft_bin) * ttft_count), 0) as ttft_hist
    from (select ${key} as key, ${at} as at, usage_ms_bin(latency_ms) as latency_bin, null::int as ttft_bin,
          count(*) as requests, count(*) filter (where status <> 'OK') as errors, sum(prompt_tokens) as prompt_tokens,
          sum(completion_tokens) as completion_tokens, sum(cost_usd) as cost_usd, 0 as ttft_count,
          count(cache_hit) as cache_hits, sum(cost_saved_usd) as cost_saved_usd
        from usage_records${where(c)} group by 1, 2, 3
      union all
        select ${key}, ${at}, null, usage_ms_bin(ttft_ms), 0, 0, 0, 0, 0, count(*), 0, 0
        from usage_records${where([...c, sql`ttft_ms is not null`])} group by 1, 2, 4) binned
    group by key, at`;
}

/** The parts that together hold a scope's records once each, rollup hours and edge records. */
export function partsOf(scope: UsageScope, g: Grouping, keys: GroupKeys, histograms: boolean): SQL[] {
  if (answeredFromRecords(scope, g.groupBy)) return [recordPart(scope, [scope], g, keys, histograms)];
  const { hours, edges } = splitAtHours(scope);
  const parts: SQL[] = [];
  if (hours) parts.push(rollupPart(scope, hours, g, keys, histograms));
  if (edges.length) parts.push(recordPart(scope, edges, g, keys, histograms));
  return parts;
}

/**
 * Rows of many points cost the embedded database little to compute and much to hand over one by one: every
 * statement below answers its rows as one JSON text, `rows`, an array of arrays in the order of these columns.
 */
const POINT_COLUMNS = [
  'key', 'at', 'requests', 'errors', 'prompt_tokens', 'completion_tokens', 'cost_usd', 'quantiles',
  'latency_digits', 'latency_length', 'ttft_digits', 'ttft_length', 'cache_hits', 'cost_saved_usd',
] as const;
const EXACT_COLUMNS = [
  'key', 'at', 'requests', 'errors', 'prompt_tokens', 'completion_tokens', 'cost_usd',
  'p50_latency', 'p95_latency', 'p50_ttft', 'p95_ttft', 'cache_hits', 'cost_saved_usd',
] as const;

/** @param ordered by key then point; series are put in order by their reader, which saves the sort */
function jsonRows(columns: readonly string[], from: SQL, ordered: boolean, filter: SQL = sql``): SQL {
  const order = ordered ? sql` order by key, at` : sql``;
  return sql`select coalesce(json_agg(json_build_array(${sql.raw(columns.join(', '))})${order}), '[]')::text as rows
    from (${from}) q${filter}`;
}

/** Records of `ranges` as series points, with exact percentiles (percentile_cont), for points no rollup covers whole. */
export function exactPoints(scope: UsageScope, ranges: TimeRange[], g: Grouping, keys: GroupKeys): SQL {
  const key = recordKey(g.groupBy);
  const at = pointStart('created_at', g.unit);
  const c = [...recordConditions(scope), ...inGroups(key, keys), ...inRanges(ranges)];
  return jsonRows(
    EXACT_COLUMNS,
    sql`select ${key} as key, ${at} as at, count(*)::float8 as requests,
      (count(*) filter (where status <> 'OK'))::float8 as errors, sum(prompt_tokens)::float8 as prompt_tokens,
      sum(completion_tokens)::float8 as completion_tokens, sum(cost_usd)::text as cost_usd,
      percentile_cont(0.5) within group (order by latency_ms) as p50_latency,
      percentile_cont(0.95) within group (order by latency_ms) as p95_latency,
      percentile_cont(0.5) within group (order by ttft_ms) as p50_ttft,
      percentile_cont(0.95) within group (order by ttft_ms) as p95_ttft,
      count(cache_hit)::float8 as cache_hits, sum(cost_saved_usd)::text as cost_saved_usd
    from usage_records${where(c)} group by 1, 2`,
    false,
  );
}

/**
 * The parts summed per key and point, in key order: exact sums, and each histogram as the text of its numeric
 * without trailing zeros plus the text's length (see PackedHistogram).
 */
export function summed(parts: SQL[]): SQL {
  return jsonRows(
    POINT_COLUMNS,
    sql`select key, at, requests, errors, prompt_tokens, completion_tokens, cost_usd, null as quantiles,
        rtrim(latency_hist, '0') as latency_digits, length(latency_hist) as latency_length,
        rtrim(ttft_hist, '0') as ttft_digits, length(ttft_hist) as ttft_length, cache_hits, cost_saved_usd
      from (select key, at, sum(requests)::float8 as requests, sum(errors)::float8 as errors,
          sum(prompt_tokens)::float8 as prompt_tokens, sum(completion_tokens)::float8 as completion_tokens,
          sum(cost_usd)::text as cost_usd, sum(latency_hist)::text as latency_hist, sum(ttft_hist)::text as ttft_hist,
          sum(cache_hits)::float8 as cache_hits, sum(cost_saved_usd)::text as cost_saved_usd
        from (${sql.join(parts, sql` union all `)}) parts group by key, at) s`,
    true,
  );
}

/** Requests per group over the parts, the largest first (ties by key): at most `limit` groups. */
export function largestGroups(parts: SQL[], limit: number): SQL {
  return sql`select key from (${sql.join(parts, sql` union all `)}) parts
    group by key order by sum(requests) desc, key limit ${limit}`;
}

/**
 * Whole hours of usage_group_rollups as series points, read once: each row is a point, with the percentiles
 * computed once its hour was over (`quantiles`) or else its histograms. Grouped, it keeps the `limit` groups with
 * the most requests, counting `edgeRequests` (the groups' records in the partial hours), and answers them as
 * `top_keys` beside the `rows`.
 */
export function groupRollupHours(
  scope: UsageScope,
  hours: TimeRange,
  dimension: UsageDimension | 'ALL',
  grouped: boolean,
  edgeRequests: Record<string, number>,
  limit: number,
): SQL {
  const key = grouped ? sql`group_key` : sql`''`;
  const c = [...groupRollupConditions(scope, dimension), ...inRange('bucket_start', hours)];
  const hourRows = sql`select ${key} as key, extract(epoch from bucket_start)::float8 * 1000 as at,
      requests::float8 as requests, errors::float8 as errors, prompt_tokens::float8 as prompt_tokens,
      completion_tokens::float8 as completion_tokens, cost_usd::text as cost_usd, quantiles,
      case when quantiles is null then rtrim(latency_hist::text, '0') end as latency_digits,
      case when quantiles is null then length(latency_hist::text) end as latency_length,
      case when quantiles is null then rtrim(ttft_hist::text, '0') end as ttft_digits,
      case when quantiles is null then length(ttft_hist::text) end as ttft_length,
      cache_hits::float8 as cache_hits, cost_saved_usd::text as cost_saved_usd
    from usage_group_rollups${where(c)}`;
  if (!grouped) return sql`select null as top_keys, (${jsonRows(POINT_COLUMNS, hourRows, false)}) as rows`;
  return sql`with hours as materialized (${hourRows}),
    top as (select key from (select key, requests from hours union all
        select key, requests::float8 from jsonb_each_text(${JSON.stringify(edgeRequests)}::jsonb) as e(key, requests)) t
      group by key order by sum(requests) desc, key limit ${limit})
    select (select coalesce(json_agg(key), '[]') from top)::text as top_keys,
      (${jsonRows(POINT_COLUMNS, sql`select * from hours`, false, sql` where key in (select key from top)`)}) as rows`;
}
