/*
 * What the overview shows, in one request: totals of the whole window and per group (usageSummary), the whole window and
 * each group as series of the window's interval (usageSeries), and key names for a grouping by key.
 */
import type { Client } from '@urql/core';
import { graphql, type ResultOf, type VariablesOf } from '../graphql';
import { countsOf } from './counts-of';
import { bucketStarts, type TimeWindow } from './range';

export type GroupBy = 'MODEL' | 'PROVIDER' | 'API_KEY';
type Bucket = NonNullable<ResultOf<typeof OverviewQuery>['groups']>[number];
export type WholeWindow = NonNullable<ResultOf<typeof OverviewQuery>['whole']>[number];
type Point = NonNullable<ResultOf<typeof OverviewQuery>['total']>[number]['points'][number];
type Filter = NonNullable<VariablesOf<typeof OverviewQuery>['filter']>;

/** Groups drawn as their own line; the rest are in the table */
const CHARTED_GROUPS = 6;

const OverviewQuery = graphql(`
  query ConsoleOverview($groupBy: UsageGroupBy!, $interval: UsageInterval!, $filter: UsageFilter, $admin: Boolean!) {
    whole: usageSummary(filter: $filter) {
      requests
      errors
      promptTokens
      completionTokens
      costUsd
      p50LatencyMs
      p95LatencyMs
      p50TtftMs
      cacheHitRate
      costSavedUsd
    }
    groups: usageSummary(groupBy: $groupBy, filter: $filter) {
      key
      requests
      errors
      promptTokens
      completionTokens
      costUsd
      p50LatencyMs
      p95LatencyMs
      p50TtftMs
    }
    total: usageSeries(interval: $interval, filter: $filter) {
      points {
        at
        requests
        errors
        costUsd
        p50LatencyMs
        p95LatencyMs
        p50TtftMs
      }
    }
    perGroup: usageSeries(interval: $interval, groupBy: $groupBy, filter: $filter) {
      key
      points {
        at
        requests
      }
    }
    apiKeys @include(if: $admin) {
      id
      name
    }
    viewer {
      id
      name
    }
  }
`);

interface Series {
  label: string;
  values: Array<number | null>;
}

export interface OverviewData {
  groupBy: GroupBy;
  /** Everything in the window; null when nothing was recorded */
  whole: WholeWindow | null;
  groups: Array<Bucket & { label: string }>;
  /** Interval starts, seconds since the epoch, and the window's end */
  x: number[];
  /** The whole window per interval, null where nothing was recorded */
  timeline: Array<Point | null>;
  requestsByGroup: Series[];
}

/** Places points on the window's x by their start */
function align<T extends { at: string }>(x: number[], points: T[]): Array<T | null> {
  const byStart = new Map(points.map((p) => [Date.parse(p.at) / 1000, p]));
  return x.map((t) => byStart.get(t) ?? null);
}

export async function loadOverview(client: Client, window: TimeWindow, groupBy: GroupBy, admin: boolean): Promise<OverviewData> {
  const filter: Filter = { from: window.from.toISOString(), to: window.to.toISOString() };
  const res = await client.query(OverviewQuery, { groupBy, interval: window.bucket, filter, admin }, { requestPolicy: 'network-only' }).toPromise();
  if (res.error) throw res.error;
  if (!res.data) throw new Error('The gateway answered no usage.');
  const { data } = res;
  const names = new Map<string, string>([[data.viewer.id, data.viewer.name], ...(data.apiKeys ?? []).map((k): [string, string] => [k.id, k.name])]);
  const label = (key: string) => (groupBy === 'API_KEY' ? (names.get(key) ?? key) : key || '(none)');
  const groups = [...(data.groups ?? [])].sort((a, b) => b.requests - a.requests).map((g) => ({ ...g, label: label(g.key) }));
  const x = bucketStarts(window);
  // usageSeries answers the largest groups first
  const requestsByGroup = (data.perGroup ?? []).slice(0, CHARTED_GROUPS).map((s) => ({ label: label(s.key), values: countsOf(align(x, s.points), (p) => p.requests) }));
  return { groupBy, whole: data.whole?.[0] ?? null, groups, x, timeline: align(x, data.total?.[0]?.points ?? []), requestsByGroup };
}
