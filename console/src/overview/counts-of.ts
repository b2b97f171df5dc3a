/** A count per bucket, 0 where nothing was recorded; the trailing x (the window's end) has no bucket of its own */
export function countsOf<T>(buckets: Array<T | null>, pick: (b: T) => number): Array<number | null> {
  return buckets.map((b, i) => (i === buckets.length - 1 ? null : b ? pick(b) : 0));
}
