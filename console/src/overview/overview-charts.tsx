/* The overview's charts: requests per group, cost, latency percentiles and errors, over the window's buckets. */
import { useMemo } from 'preact/hooks';
import { Chart } from '../components/chart';
import { formatCompact, formatMs, formatUsd } from '../format';
import { countsOf } from './counts-of';
import type { OverviewData } from './load-overview';

export function OverviewCharts({ data }: { data: OverviewData }) {
  const { x, timeline } = data;
  const cost = useMemo(() => [{ label: 'Cost', values: countsOf(timeline, (b) => b.costUsd) }], [timeline]);
  const latency = useMemo(
    () => [
      { label: 'p50', values: timeline.map((b) => b?.p50LatencyMs ?? null) },
      { label: 'p95', values: timeline.map((b) => b?.p95LatencyMs ?? null) },
      { label: 'TTFT p50', values: timeline.map((b) => b?.p50TtftMs ?? null) },
    ],
    [timeline],
  );
  const errors = useMemo(() => [{ label: 'Errors', values: countsOf(timeline, (b) => b.errors) }], [timeline]);
  const requests = data.requestsByGroup.length ? data.requestsByGroup : [{ label: 'Requests', values: countsOf(timeline, () => 0) }];
  return (
    <div class="grid overview-charts">
      <Chart title="Requests" x={x} series={requests} format={formatCompact} testId="chart-requests" />
      <Chart title="Cost" x={x} series={cost} format={formatUsd} kind="bars" testId="chart-cost" />
      <Chart title="Latency" x={x} series={latency} format={formatMs} testId="chart-latency" points />
      <Chart title="Errors" x={x} series={errors} format={formatCompact} kind="bars" testId="chart-errors" />
    </div>
  );
}
