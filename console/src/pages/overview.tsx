/*
 * The overview: headline numbers, charts and a table of groups for a time window, following new calls live
 * (a usageRecorded event re-reads the summaries, at most every 600 ms).
 */
import { useState } from 'preact/hooks';
import { ErrorNote } from '../components/error-note';
import { Page } from '../components/page';
import { Stat } from '../components/stat';
import { formatCompact, formatInt, formatMs, formatPercent, formatTime, formatUsd } from '../format';
import { GroupTable } from '../overview/group-table';
import type { GroupBy } from '../overview/load-overview';
import { OverviewCharts } from '../overview/overview-charts';
import { RANGE_LABELS, toLocalInput, type RangeChoice } from '../overview/range';
import { totalsOf } from '../overview/totals';
import { useOverview } from '../overview/use-overview';
import './overview.css';

const POINTS = { MINUTE: 'A point a minute', HOUR: 'A point an hour', DAY: 'A point a day' };

const GROUPS: Array<[GroupBy, string]> = [
  ['MODEL', 'Model'],
  ['PROVIDER', 'Provider'],
  ['API_KEY', 'Key'],
];

function Segmented<T extends string>({ label, options, value, onChange }: { label: string; options: Array<[T, string]>; value: T; onChange(v: T): void }) {
  return (
    <div class="segmented overview-segmented" role="group" aria-label={label}>
      {options.map(([v, text]) => (
        <button key={v} type="button" aria-pressed={v === value} onClick={() => onChange(v)}>
          {text}
        </button>
      ))}
    </div>
  );
}

export function OverviewPage() {
  const [range, setRange] = useState<RangeChoice>('day');
  const [custom, setCustom] = useState(() => ({ from: toLocalInput(new Date(Date.now() - 7 * 86_400_000)), to: toLocalInput(new Date()) }));
  const [groupBy, setGroupBy] = useState<GroupBy>('MODEL');
  const { data, window, error, loading } = useOverview(range, custom, groupBy);
  const totals = data ? totalsOf(data.whole) : null;

  const actions = (
    <>
      <Segmented label="Range" options={RANGE_LABELS} value={range} onChange={(v) => setRange(v)} />
      <Segmented label="Group by" options={GROUPS} value={groupBy} onChange={(v) => setGroupBy(v)} />
    </>
  );
  return (
    <Page title="Overview" actions={actions}>
      {range === 'custom' ? (
        <div class="form-row overview-custom">
          <label>
            From
            <input type="datetime-local" value={custom.from} onChange={(e) => setCustom({ ...custom, from: e.currentTarget.value })} />
          </label>
          <label>
            To
            <input type="datetime-local" value={custom.to} onChange={(e) => setCustom({ ...custom, to: e.currentTarget.value })} />
          </label>
        </div>
      ) : null}
      <ErrorNote error={error} />
      {window ? (
        <p class="muted small overview-window">
          {formatTime(window.from.toISOString())} – {formatTime(window.to.toISOString())} · {POINTS[window.bucket]}
        </p>
      ) : null}
      <div class="stats" aria-busy={loading}>
        <Stat label="Requests" value={formatInt(totals?.requests)} testId="stat-requests" />
        <Stat label="Tokens" value={formatCompact(totals?.tokens)} hint={totals ? `${formatInt(totals.tokens)} in and out` : undefined} testId="stat-tokens" />
        <Stat label="Cost" value={formatUsd(totals?.costUsd)} testId="stat-cost" />
        <Stat label="Error rate" value={formatPercent(totals?.errorRate)} testId="stat-error-rate" />
        <Stat label="p50 latency" value={formatMs(totals?.p50LatencyMs)} testId="stat-p50" />
        <Stat label="p95 latency" value={formatMs(totals?.p95LatencyMs)} testId="stat-p95" />
        <Stat label="p50 TTFT" value={formatMs(totals?.p50TtftMs)} testId="stat-ttft" />
        <Stat label="Cache hit rate" value={formatPercent(totals?.cacheHitRate)} testId="stat-cache-hit-rate" />
        <Stat label="Saved by cache" value={formatUsd(totals?.costSavedUsd)} testId="stat-cost-saved" />
      </div>
      {data && data.groups.length === 0 ? (
        <div class="card empty muted">No usage in this window. Calls made through the gateway show up here as they happen; try a wider range.</div>
      ) : null}
      {data ? <OverviewCharts data={data} /> : null}
      {data && window && data.groups.length ? <GroupTable data={data} window={window} /> : null}
    </Page>
  );
}
