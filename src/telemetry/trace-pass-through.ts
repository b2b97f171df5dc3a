/* Tracing off: the caller's own traceparent / tracestate go to every upstream attempt unchanged. */
import type { AttemptObserver, AttemptWatch } from '../gateway/attempt.js';

const NOTHING = (): void => {};

/** An attempt observer that only adds `incoming` to the upstream request's headers: one watch for every attempt. */
export function passCallerTrace(incoming: Readonly<Record<string, string>>): AttemptObserver {
  const watch: AttemptWatch = { upstream: { headers: incoming }, ended: NOTHING };
  return { attemptStarted: () => watch };
}
