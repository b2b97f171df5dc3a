/* Usage records as a table, newest first; a click (or Enter) on a row opens that record. */
import { formatInt, formatMs, formatTime, formatUsd } from '../format';
import { cacheLabel, keyLabel, type UsageRecord } from '../usage/record';
import { StatusBadge } from './status-badge';
import './usage-records.css';

export interface UsageRecordTableProps {
  records: UsageRecord[];
  onOpen(record: UsageRecord): void;
  label: string;
}

export function UsageRecordTable({ records, onOpen, label }: UsageRecordTableProps) {
  return (
    <div class="table-wrap">
      <table aria-label={label} class="usage-table">
        <thead>
          <tr>
            <th>Time</th>
            <th>Key</th>
            <th>Model</th>
            <th>Provider</th>
            <th>Status</th>
            <th class="num">Prompt</th>
            <th class="num">Completion</th>
            <th class="num">Cost</th>
            <th class="num">Latency</th>
            <th class="num">TTFT</th>
            <th>Cache</th>
          </tr>
        </thead>
        <tbody>
          {records.map((r) => (
            <tr
              key={r.id}
              class="clickable"
              tabIndex={0}
              data-invocation={r.invocationId}
              onClick={() => onOpen(r)}
              onKeyDown={(e) => {
                if (e.key === 'Enter') onOpen(r);
              }}
            >
              <td class="nowrap">{formatTime(r.createdAt)}</td>
              <td>{keyLabel(r)}</td>
              <td>{r.model}</td>
              <td>{r.provider ?? '–'}</td>
              <td>
                <StatusBadge status={r.status} />
              </td>
              <td class="num">{formatInt(r.promptTokens)}</td>
              <td class="num">{formatInt(r.completionTokens)}</td>
              <td class="num">{formatUsd(r.costUsd)}</td>
              <td class="num">{formatMs(r.latencyMs)}</td>
              <td class="num">{formatMs(r.ttftMs)}</td>
              <td class="nowrap" title={r.cacheHit ? `Saved ${formatUsd(r.costSavedUsd)}` : undefined}>
                {cacheLabel(r)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
