/* Everything one usage record holds, in a drawer beside the table; metadata is shown as pretty JSON text. */
import { useEffect, useRef } from 'preact/hooks';
import { formatInt, formatMs, formatTime, formatUsd } from '../format';
import { callUrl } from '../calls/filter-url';
import type { UsageRecord } from '../usage/record';
import { StatusBadge } from './status-badge';
import './usage-records.css';

export function UsageRecordDrawer({ record, onClose }: { record: UsageRecord; onClose(): void }) {
  const closeButton = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    closeButton.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') onClose();
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [record.id]);

  const rows: Array<[string, string]> = [
    ['Time', formatTime(record.createdAt)],
    ['Key', record.apiKey ? `${record.apiKey.name} (${record.apiKey.prefix}…)` : '–'],
    ['Model', record.model],
    ['Provider', record.provider ?? '–'],
    ['Upstream model', record.upstreamModel ?? '–'],
    ['Error code', record.errorCode ?? '–'],
    ['Streamed', record.streamed ? 'yes' : 'no'],
    ['Prompt tokens', formatInt(record.promptTokens)],
    ['Completion tokens', formatInt(record.completionTokens)],
    ['Cost', formatUsd(record.costUsd)],
    ['Latency', formatMs(record.latencyMs)],
    ['Time to first token', formatMs(record.ttftMs)],
    ['Attempts', formatInt(record.attempts)],
    ['Invocation id', record.invocationId],
  ];
  return (
    <div class="drawer" role="dialog" aria-label="Usage record">
      <header class="drawer-header">
        <h2>Usage record</h2>
        <button type="button" ref={closeButton} onClick={onClose}>
          Close
        </button>
      </header>
      <p class="drawer-status">
        <StatusBadge status={record.status} />
        {/* the call log's view of the same invocation (when it was logged): attempts timeline, messages */}
        <a href={callUrl(record.invocationId)}>Call details →</a>
      </p>
      <dl class="kv">
        {rows.map(([k, v]) => [<dt key={`${k}-t`}>{k}</dt>, <dd key={`${k}-d`} class={k === 'Invocation id' ? 'mono' : undefined}>{v}</dd>])}
      </dl>
      <h3 class="drawer-section">Metadata</h3>
      {record.metadata == null ? <p class="muted">None.</p> : <pre class="metadata" aria-label="Metadata">{JSON.stringify(record.metadata, null, 2)}</pre>}
    </div>
  );
}
