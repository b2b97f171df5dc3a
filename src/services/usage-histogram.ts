/*
 * The latency and TTFT histograms of the usage rollups, read back: bins as migrations/0004_usage_rollups_maintenance.sql
 * (usage_ms_bin) cuts milliseconds into them, a histogram as Postgres answers it (one numeric, 12 decimal digits per
 * bin), and percentiles the way percentile_cont computes them, from each bin's midpoint.
 *
 * Bins: a value below 32 ms is its own bin; above, each power of two [2^k, 2^(k+1)) is cut into 16 bins of width
 * 2^(k-4), so a value lies at most 2^(k-5) from its bin's midpoint, which is at least 2^k: a relative error of at most
 * 1/32. percentile_cont interpolates between two samples; both move by at most 1/32 of their value, so the result
 * moves by at most 1/32 of the exact percentile.
 */

/** Values below this many milliseconds are their own bin: their percentiles are exact. */
const EXACT_BELOW_MS = 32;
/** Bins per power of two above EXACT_BELOW_MS. */
const BINS_PER_OCTAVE = 16;
/** Decimal digits per bin in a packed histogram: bin b's count is the b-th 12-digit field from the right. */
const FIELD_DIGITS = 12;

/** The largest relative distance between a percentile read from a histogram and the exact one (before rounding). */
export const PERCENTILE_MAX_RELATIVE_ERROR = 1 / (2 * BINS_PER_OCTAVE);

/** The middle of a bin's values (the value itself below 32 ms). */
function binMidpoint(bin: number): number {
  if (bin < EXACT_BELOW_MS) return bin;
  const shift = Math.floor(bin / BINS_PER_OCTAVE) - 1;
  const width = 2 ** shift;
  return (bin - BINS_PER_OCTAVE * shift) * width + (width - 1) / 2;
}

/**
 * A packed histogram as SQL sends it: the numeric's text without its trailing zeros (`rtrim(h::text, '0')`, far
 * shorter when the fast bins are empty) and the length of the whole text.
 */
export interface PackedHistogram {
  digits: string;
  length: number;
}

/** [bin, count] for every non-empty bin, lowest bin first. */
function unpackHistogram({ digits, length }: PackedHistogram): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  if (!digits) return out;
  // the lowest field with a digit left after the trim, up to the field holding the first digit
  const lowest = Math.floor((length - digits.length) / FIELD_DIGITS);
  const highest = Math.floor((length - 1) / FIELD_DIGITS);
  for (let bin = lowest; bin <= highest; bin++) {
    // the field's digits in the whole text are [start, end); the trimmed zeros past `digits` are its low digits
    const end = length - FIELD_DIGITS * bin;
    const start = Math.max(0, end - FIELD_DIGITS);
    const kept = Math.min(end, digits.length);
    if (kept <= start) continue;
    const count = Number(digits.slice(start, kept)) * 10 ** (end - kept);
    if (count > 0) out.push([bin, count]);
  }
  return out;
}

/** The midpoint of the bin that holds the sample of this rank (0-based, in ascending order). */
function valueAtRank(bins: Array<[number, number]>, rank: number): number {
  let seen = 0;
  for (const [bin, count] of bins) {
    seen += count;
    if (rank < seen) return binMidpoint(bin);
  }
  return binMidpoint(bins[bins.length - 1]![0]);
}

/** percentile_cont(p) of the histogram's samples, each taken at its bin's midpoint; null without samples. */
function histogramPercentile(bins: Array<[number, number]>, p: number): number | null {
  const n = bins.reduce((s, [, count]) => s + count, 0);
  if (n === 0) return null;
  const pos = p * (n - 1);
  const lo = Math.floor(pos);
  const below = valueAtRank(bins, lo);
  if (pos === lo) return below;
  return below + (pos - lo) * (valueAtRank(bins, lo + 1) - below);
}

/** [p50, p95] of a packed histogram, in milliseconds (not rounded); nulls without samples. */
export function medianAndP95(h: PackedHistogram): [number | null, number | null] {
  const bins = unpackHistogram(h);
  return [histogramPercentile(bins, 0.5), histogramPercentile(bins, 0.95)];
}
