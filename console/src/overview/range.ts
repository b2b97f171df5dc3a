/* The overview's time window: a preset relative to now, or a custom from–to, and the interval its charts use. */

export type RangeChoice = 'hour' | 'day' | 'month' | 'custom';
type Bucket = 'MINUTE' | 'HOUR' | 'DAY';

export interface TimeWindow {
  from: Date;
  to: Date;
  bucket: Bucket;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const BUCKET_MS: Record<Bucket, number> = { MINUTE: 60_000, HOUR: HOUR_MS, DAY: DAY_MS };

export const RANGE_LABELS: Array<[RangeChoice, string]> = [
  ['hour', 'Last hour'],
  ['day', 'Last day'],
  ['month', 'Last 30 days'],
  ['custom', 'Custom'],
];

/** Minutes up to six hours (usageSeries' bound for MINUTE), hours up to two days, days beyond */
const bucketFor = (spanMs: number): Bucket => (spanMs <= 6 * HOUR_MS ? 'MINUTE' : spanMs <= 2 * DAY_MS ? 'HOUR' : 'DAY');

export function resolveWindow(choice: RangeChoice, custom: { from: string; to: string }, now = new Date()): TimeWindow {
  if (choice === 'custom') {
    const from = new Date(custom.from);
    const to = new Date(custom.to);
    return { from, to, bucket: bucketFor(to.getTime() - from.getTime()) };
  }
  const span = { hour: HOUR_MS, day: DAY_MS, month: 30 * DAY_MS }[choice];
  return { from: new Date(now.getTime() - span), to: now, bucket: bucketFor(span) };
}

/**
 * The start of every bucket the window touches, in seconds since the epoch (the charts' x), and the end of the
 * last one, so the newest bucket is not drawn on the chart's edge
 */
export function bucketStarts(window: TimeWindow): number[] {
  const step = BUCKET_MS[window.bucket];
  const starts: number[] = [];
  let t = Math.floor(window.from.getTime() / step) * step;
  for (; t < window.to.getTime(); t += step) starts.push(t / 1000);
  starts.push(t / 1000);
  return starts;
}

/** A datetime-local value for a time, in the browser's zone */
export function toLocalInput(d: Date): string {
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}
