/* The overview's groups: totals, share of requests, errors and latency for each model, provider or key. */
import { formatInt, formatMs, formatPercent, formatUsd } from '../format';
import { usageUrl } from '../usage/filter-url';
import type { GroupBy, OverviewData } from './load-overview';
import type { TimeWindow } from './range';

const HEADINGS: Record<string, string> = { MODEL: 'Model', PROVIDER: 'Provider', API_KEY: 'Key' };

const FILTER_FIELD = { MODEL: 'model', PROVIDER: 'provider', API_KEY: 'apiKeyId' } as const;

/** The explorer, filtered to one group over the same window */
function drillDown(groupBy: GroupBy, key: string, window: TimeWindow): string {
  return usageUrl({ [FILTER_FIELD[groupBy]]: key, from: window.from.toISOString(), to: window.to.toISOString() });
}

export function GroupTable({ data, window }: { data: OverviewData; window: TimeWindow }) {
  const { groupBy } = data;
  const total = data.groups.reduce((n, g) => n + g.requests, 0);
  return (
    <div class="table-wrap">
      <table aria-label="Groups">
        <thead>
          <tr>
            <th>{HEADINGS[groupBy]}</th>
            <th class="num">Requests</th>
            <th>Share</th>
            <th class="num">Tokens</th>
            <th class="num">Cost</th>
            <th class="num">Errors</th>
            <th class="num">Error rate</th>
            <th class="num">p50</th>
            <th class="num">p95</th>
          </tr>
        </thead>
        <tbody>
          {data.groups.map((g) => (
            <tr key={g.key}>
              <td>{g.key ? <a href={drillDown(groupBy, g.key, window)}>{g.label}</a> : g.label}</td>
              <td class="num">{formatInt(g.requests)}</td>
              <td class="share">
                <progress max={total} value={g.requests} aria-label={`${g.label} share`} />
              </td>
              <td class="num">{formatInt(g.promptTokens + g.completionTokens)}</td>
              <td class="num">{formatUsd(g.costUsd)}</td>
              <td class="num">{formatInt(g.errors)}</td>
              <td class="num">{formatPercent(g.requests ? g.errors / g.requests : null)}</td>
              <td class="num">{formatMs(g.p50LatencyMs)}</td>
              <td class="num">{formatMs(g.p95LatencyMs)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
