/* The one rule for how much of an invocation the call log keeps: the lowest level its key, team and model set. */
import type { LogBodies } from './types.js';

const RANK: Readonly<Record<LogBodies, number>> = { NONE: 0, METADATA: 1, FULL: 2 };

/** A stored value this code does not know counts as NONE: a typo must never widen what is kept. */
const known = (level: string): LogBodies => (Object.hasOwn(RANK, level) ? (level as LogBodies) : 'NONE');

const lowest = (a: LogBodies, b: string | null | undefined): LogBodies => (b == null || RANK[known(b)] >= RANK[a] ? a : known(b));

/**
 * The invocation's level: the lowest of the levels set (null = not set) on the key, its team and the model, so the
 * call log is opt-in and any one of them can cap it for privacy; NONE when none is set.
 */
export function effectiveLogLevel(key: string | null | undefined, team: string | null | undefined, model: string | null | undefined): LogBodies {
  // the common case: nobody asked for a call log
  if (key == null && team == null && model == null) return 'NONE';
  return lowest(lowest(lowest('FULL', key), team), model);
}
