/* The invocation's one usage record (success or failure), and the observers told; a second call is a no-op. */
import { GatewayError, isGatewayError } from '../../errors.js';
import { AttemptsCancelled, AttemptsFailed } from '../attempt.js';
import type { Invocation } from '../invocation.js';
import type { PipelineDeps } from '../pipeline.js';
import type { UsageEvent, UsageStatus } from '../usage-writer.js';
import { buildCallLogEntry } from '../../call-log/entry.js';

/** CALL_LOG_MAX_BODY_BYTES' default, for a gateway built without call log settings (tests, embedders). */
const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

export function record(inv: Invocation, { usage, observer, callLog, log }: PipelineDeps): void {
  if (!inv.finishOnce()) return;
  if (inv.callLog) {
    try {
      inv.event.callLog = buildCallLogEntry(inv, inv.callLog, callLog?.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES);
    } catch (err) {
      // a call log is never worth the usage record: it is the one left out
      log.error({ err, invocationId: inv.id }, 'call log entry not built');
    }
  }
  usage.record(inv.event);
  observer.invocationFinished?.(inv.event);
}

/** Names on the record the attempt(s) an invocation that failed or was cancelled went through. */
export function noteAttempts(ev: UsageEvent, err: AttemptsFailed | AttemptsCancelled): void {
  ev.attempts = err.attempts;
  ev.provider = err.lastTarget?.provider.name ?? null;
  ev.upstreamModel = err.lastTarget?.upstreamModel ?? null;
}

export function markCancelled(ev: UsageEvent): void {
  ev.status = 'CANCELLED';
  ev.errorCode = 'CANCELLED';
}

function statusOf(err: unknown): UsageStatus {
  if (isGatewayError(err)) {
    if (err.code === 'RATE_LIMITED') return 'RATE_LIMITED';
    if (err.code === 'QUOTA_EXCEEDED') return 'QUOTA_EXCEEDED';
  }
  return 'ERROR';
}

/** A unary invocation (or a stream before it opened) failed: record why, then throw what the caller sees. */
export function recordFailure(inv: Invocation, err: unknown, deps: PipelineDeps): never {
  const ev = inv.event;
  inv.settle(0, 0);
  ev.status = statusOf(err);
  ev.latencyMs = inv.elapsedMs();
  if (err instanceof AttemptsFailed) {
    noteAttempts(ev, err);
    ev.errorCode = err.error.code;
    record(inv, deps);
    throw err.error;
  }
  if (err instanceof AttemptsCancelled) {
    // the caller went away mid-attempt: nobody reads the error, the record says what happened
    markCancelled(ev);
    noteAttempts(ev, err);
    record(inv, deps);
    // a typed error, so masking does not log every client disconnect as an unexpected failure
    throw new GatewayError('UPSTREAM_ERROR', 'The request was cancelled by the client', { cancelled: true });
  }
  ev.errorCode = isGatewayError(err) ? err.code : 'INTERNAL';
  record(inv, deps);
  throw err;
}
