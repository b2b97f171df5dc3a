/* The attempts timeline of a logged invocation: an AttemptObserver that appends one AttemptRecord per upstream try. */
import type { AttemptEnd, AttemptObserver, AttemptStart, AttemptWatch } from '../gateway/attempt.js';
import type { UpstreamError } from '../providers/types.js';
import type { AttemptRecord } from './types.js';

/**
 * The gateway's own words for a failed attempt, from its status alone: the upstream's error body may echo the
 * prompt, and a METADATA log keeps no message text.
 */
function attemptErrorMessage(err: UpstreamError): string {
  if (err.timeout) return 'upstream timed out';
  if (err.status !== undefined) return `upstream returned ${err.status}`;
  return 'upstream request failed';
}

function outcomeOf(end: AttemptEnd): AttemptRecord['outcome'] {
  if (end.cancelled) return 'CANCELLED';
  if (end.timeout || end.error?.timeout) return 'TIMEOUT';
  return end.error || end.failed ? 'ERROR' : 'OK';
}

/** Watches every attempt of the invocation that started at `invocationStarted` (epoch ms), into `attempts`. */
export function attemptTimeline(invocationStarted: number, attempts: AttemptRecord[]): AttemptObserver {
  return {
    attemptStarted(a: AttemptStart): AttemptWatch {
      const t0 = Date.now();
      const rec: AttemptRecord = {
        attempt: a.attempt,
        model: a.model.row.name,
        provider: a.target.provider.name,
        upstreamModel: a.target.upstreamModel,
        startMs: t0 - invocationStarted,
        waitMs: Math.round(a.waitedMs),
        ttfbMs: null,
        durationMs: null,
        status: null,
        outcome: 'OK',
        error: null,
      };
      attempts.push(rec);
      return {
        upstream: {
          responded(status) {
            rec.ttfbMs = Date.now() - t0;
            rec.status = status;
          },
        },
        ended(end) {
          rec.durationMs = Date.now() - t0;
          rec.outcome = outcomeOf(end);
          if (end.error) {
            rec.status = end.error.status ?? rec.status;
            rec.error = attemptErrorMessage(end.error);
          } else if (end.cancelled) rec.error = 'cancelled by the client';
          else if (end.timeout) rec.error = 'upstream timed out';
          else if (end.failed) rec.error = 'upstream attempt failed';
        },
      };
    },
  };
}
