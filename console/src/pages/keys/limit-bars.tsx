/* How much of each of a key's limits is used right now, one bar per limit the key has. */
import { formatCompact, formatInt, formatUsd } from '../../format';
import type { KeyRow } from './key-draft';

interface Gauge {
  label: string;
  used: number;
  limit: number;
  format(n: number): string;
}

/** The limits a key has, each with what the limiter counts of it now. */
function limitGauges({ limits, limitUsage: used }: KeyRow): Gauge[] {
  const gauges: Array<Gauge | null> = [
    limits.requestsPerMinute == null ? null : { label: 'Requests a minute', used: used.requestsThisMinute, limit: limits.requestsPerMinute, format: formatInt },
    limits.tokensPerMinute == null ? null : { label: 'Tokens a minute', used: used.tokensThisMinute, limit: limits.tokensPerMinute, format: formatCompact },
    limits.tokensPerDay == null ? null : { label: 'Tokens today', used: used.tokensToday, limit: limits.tokensPerDay, format: formatCompact },
    limits.monthlyBudgetUsd == null ? null : { label: 'Monthly budget', used: used.costThisMonthUsd, limit: limits.monthlyBudgetUsd, format: formatUsd },
  ];
  return gauges.filter((g): g is Gauge => g != null);
}

function tone(share: number): string {
  if (share >= 0.9) return 'bar bad';
  if (share >= 0.7) return 'bar warn';
  return 'bar';
}

export function LimitBars({ keyRow }: { keyRow: KeyRow }) {
  const gauges = limitGauges(keyRow);
  if (gauges.length === 0) return <span class="muted small">No limits</span>;
  return (
    <div class="limit-bars">
      {gauges.map((g) => {
        const share = g.limit > 0 ? Math.min(g.used / g.limit, 1) : g.used > 0 ? 1 : 0;
        return (
          <div key={g.label} class="limit-bar">
            <div class="bar-label">
              <span>{g.label}</span>
              <span class="mono">
                {g.format(g.used)} / {g.format(g.limit)}
              </span>
            </div>
            <div
              class={tone(share)}
              role="meter"
              aria-label={`${g.label} used`}
              aria-valuemin={0}
              aria-valuemax={g.limit}
              aria-valuenow={g.used}
              aria-valuetext={`${g.format(g.used)} of ${g.format(g.limit)}`}
            >
              <div style={{ width: `${(share * 100).toFixed(1)}%` }} />
            </div>
          </div>
        );
      })}
    </div>
  );
}
