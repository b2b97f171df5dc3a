/*
 * What the overview shows, read with usageSummary: totals per group over the window, the whole window bucketed
 * by hour or day, and the largest groups bucketed the same way (one filtered summary each).
 */
import type { Client } from '@urql/core';
import { graphql, type ResultOf, type VariablesOf } from '../graphql';
import { bucketStarts, type TimeWindow } from './range';
import { countsOf } from './counts-of';

export type GroupBy = 'MODEL' | 'PROVIDER' | 'API_KEY';
export type Bucket = NonNullable<ResultOf<typeof OverviewQuery>['groups']>[number];
type Filter = NonNullable<VariablesOf<typeof OverviewQuery>['filter']>;

/** Groups drawn as their own line; the rest are in the table */
const CHARTED_GROUPS = 6;

const OverviewQuery = graphql(`
  query ConsoleOverview($groupBy: UsageGroupBy!, $bucket: UsageGroupBy!, $filter: UsageFilter, $admin: Boolean!) {
    groups: usageSummary(groupBy: $groupBy, filter: $filter) {
      key
      requests
      errors
      promptTokens
      completionTokens
      costUsd
      p50LatencyMs
      p95LatencyMs
    }
    timeline: usageSummary(groupBy: $bucket, filter: $filter) {
      key
      requests
      errors
      promptTokens
      completionTokens
      costUsd
      p50LatencyMs
      p95LatencyMs
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

const GroupTimelineQuery = graphql(`
  query ConsoleOverviewGroupTimeline($bucket: UsageGroupBy!, $filter: UsageFilter) {
    usageSummary(groupBy: $bucket, filter: $filter) {
      key
      requests
    }
  }
`);

interface Series {
  label: string;
  values: Array<number | null>;
}

export interface OverviewData {
  groupBy: GroupBy;
  groups: Array<Bucket & { label: string }>;
  /** Bucket starts, seconds since the epoch */
  x: number[];
  /** The whole window per bucket, null where nothing was recorded */
  timeline: Array<Bucket | null>;
  requestsByGroup: Series[];
}

function groupFilter(groupBy: GroupBy, key: string, base: Filter): Filter {
  if (groupBy === 'MODEL') return { ...base, model: key };
  if (groupBy === 'PROVIDER') return { ...base, provider: key };
  return { ...base, apiKeyId: key };
}

/** Places buckets keyed by ISO hour or day on the window's x */
function align<T extends { key: string }>(x: number[], buckets: T[]): Array<T | null> {
  const at = new Map(buckets.map((b) => [Date.parse(b.key) / 1000, b]));
  return x.map((t) => at.get(t) ?? null);
}

export async function loadOverview(client: Client, window: TimeWindow, groupBy: GroupBy, admin: boolean): Promise<OverviewData> {
  const filter: Filter = { from: window.from.toISOString(), to: window.to.toISOString() };
  const res = await client.query(OverviewQuery, { groupBy, bucket: window.bucket, filter, admin }, { requestPolicy: 'network-only' }).toPromise();
  if (res.error) throw res.error;
  if (!res.data) throw new Error('The gateway answered no usage.');
  const { data } = res;
  const names = new Map<string, string>([[data.viewer.id, data.viewer.name], ...(data.apiKeys ?? []).map((k): [string, string] => [k.id, k.name])]);
  const label = (key: string) => (groupBy === 'API_KEY' ? (names.get(key) ?? key) : key || '(none)');
  const groups = [...(data.groups ?? [])].sort((a, b) => b.requests - a.requests).map((g) => ({ ...g, label: label(g.key) }));
  const x = bucketStarts(window);

  const charted = groups.slice(0, CHARTED_GROUPS);
  const perGroup = await Promise.all(
    charted.map(async (g) => {
      const r = await client.query(GroupTimelineQuery, { bucket: window.bucket, filter: groupFilter(groupBy, g.key, filter) }, { requestPolicy: 'network-only' }).toPromise();
      if (r.error) throw r.error;
      return { label: g.label, values: countsOf(align(x, r.data?.usageSummary ?? []), (b) => b.requests) };
    }),
  );
  return { groupBy, groups, x, timeline: align(x, data.timeline ?? []), requestsByGroup: perGroup };
}
