/* How an invocation ended, coloured: answered, cancelled by the client, or failed/refused. */
import type { UsageStatus } from '../usage/record';

const TONE: Record<UsageStatus, string> = { OK: 'ok', CANCELLED: 'warn', ERROR: 'bad', RATE_LIMITED: 'bad', QUOTA_EXCEEDED: 'bad' };

export function StatusBadge({ status }: { status: UsageStatus }) {
  return <span class={`badge ${TONE[status]}`}>{status}</span>;
}
