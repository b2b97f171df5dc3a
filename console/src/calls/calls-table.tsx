/* Calls as a table, newest first; a click (or Enter) on a row opens that call's details. */
import { StatusBadge } from '../components/status-badge';
import { formatInt, formatMs, formatTime } from '../format';
import type { CallRow } from './documents';
import { callUrl } from './filter-url';

export function CallsTable({ rows, onOpen }: { rows: CallRow[]; onOpen(id: string): void }) {
  return (
    <div class="table-wrap">
      <table aria-label="Calls" class="usage-table calls-table">
        <thead>
          <tr>
            <th>Time</th>
            <th>Model</th>
            <th>Key</th>
            <th>Status</th>
            <th class="num">Latency</th>
            <th class="num">Attempts</th>
            <th>Level</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr
              key={r.id}
              class="clickable"
              tabIndex={0}
              data-invocation={r.id}
              onClick={() => onOpen(r.id)}
              onKeyDown={(e) => {
                if (e.key === 'Enter') onOpen(r.id);
              }}
            >
              <td class="nowrap">
                {/* a real link too, so a call opens in a new tab and its address can be copied */}
                <a href={callUrl(r.id)} onClick={(e) => e.stopPropagation()}>
                  {formatTime(r.createdAt)}
                </a>
              </td>
              <td class="mono">{r.model}</td>
              <td>{r.apiKey?.name ?? '–'}</td>
              <td>
                <StatusBadge status={r.status} />
              </td>
              <td class="num">{formatMs(r.usageRecord?.latencyMs)}</td>
              <td class="num">{formatInt(r.attempts.length)}</td>
              <td>
                <span class={`badge level-${r.level.toLowerCase()}`}>{r.level}</span>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
