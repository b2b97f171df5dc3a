/* How numbers, money, durations and times are shown, in one place. */
const int = new Intl.NumberFormat('en-US');
const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });

export const formatInt = (n: number | null | undefined): string => (n == null ? '–' : int.format(n));
export const formatCompact = (n: number | null | undefined): string => (n == null ? '–' : compact.format(n));

export function formatUsd(n: number | null | undefined): string {
  if (n == null) return '–';
  if (n === 0) return '$0';
  if (Math.abs(n) < 0.01) return `$${n.toPrecision(2)}`;
  return `$${n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

export function formatMs(n: number | null | undefined): string {
  if (n == null) return '–';
  return n < 1000 ? `${Math.round(n)} ms` : `${(n / 1000).toFixed(2)} s`;
}

export const formatPercent = (n: number | null | undefined): string => (n == null || Number.isNaN(n) ? '–' : `${(n * 100).toFixed(1)} %`);

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '–';
  const d = new Date(iso);
  return d.toLocaleString('en-GB', { year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}
