/* Usage records as CSV (RFC 4180): a header row, one row a record, CRLF line ends. */
import type { UsageRecord } from './record';

const COLUMNS: Array<[string, (r: UsageRecord) => string | number | boolean | null]> = [
  ['createdAt', (r) => r.createdAt],
  ['invocationId', (r) => r.invocationId],
  ['keyName', (r) => r.apiKey?.name ?? null],
  ['keyId', (r) => r.apiKey?.id ?? null],
  ['model', (r) => r.model],
  ['provider', (r) => r.provider],
  ['upstreamModel', (r) => r.upstreamModel],
  ['status', (r) => r.status],
  ['errorCode', (r) => r.errorCode],
  ['streamed', (r) => r.streamed],
  ['promptTokens', (r) => r.promptTokens],
  ['completionTokens', (r) => r.completionTokens],
  ['costUsd', (r) => r.costUsd],
  ['latencyMs', (r) => r.latencyMs],
  ['ttftMs', (r) => r.ttftMs],
  ['attempts', (r) => r.attempts],
  ['metadata', (r) => (r.metadata == null ? null : JSON.stringify(r.metadata))],
];

/** One cell: quoted when it holds a comma, quote or line break; text a spreadsheet would run as a formula is prefixed with ' */
function cell(value: string | number | boolean | null): string {
  if (value == null) return '';
  if (typeof value !== 'string') return String(value);
  const text = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function usageCsv(records: UsageRecord[]): string {
  const lines = [COLUMNS.map(([name]) => name).join(',')];
  for (const r of records) lines.push(COLUMNS.map(([, get]) => cell(get(r))).join(','));
  return `${lines.join('\r\n')}\r\n`;
}
