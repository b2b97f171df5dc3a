/* Stream, part 3: how a stream ended (finished, cancelled by the client, or failed) and what the client is told. */
import type { Logger } from 'pino';
import { GatewayError, isGatewayError } from '../../errors.js';
import type { FinishReason } from '../../providers/types.js';
import { isUpstreamError } from '../../providers/types.js';
import type { CancelSignal } from '../../util/cancellation.js';
import { AttemptsFailed, TimeoutReason, toGatewayError } from '../attempt.js';
import type { StreamProgress } from './open-stream.js';

export type StreamEnd =
  | { kind: 'finished'; finishReason: FinishReason; broke: false }
  | { kind: 'cancelled'; broke: false }
  /** broke: the target failed after its first chunk, which counts towards its cooldown */
  | { kind: 'failed'; error: GatewayError; broke: boolean };

export function isTimeout(e: unknown): boolean {
  return e instanceof TimeoutReason || (isUpstreamError(e) && e.timeout);
}

export function classifyEnd(p: StreamProgress, signal: CancelSignal, log: Logger): StreamEnd {
  const { failure, final, target } = p;
  const finishReason = final?.finishReason;
  // a step's refusal (an output guardrail) aborts the upstream too, but it is not the client going away
  const cancelled = signal.aborted && !finishReason && !(failure instanceof AttemptsFailed) && !isTimeout(failure) && !isGatewayError(failure);
  if (cancelled) return { kind: 'cancelled', broke: false };
  if (!failure && finishReason) return { kind: 'finished', finishReason, broke: false };
  const broke = isTimeout(failure) || (isUpstreamError(failure) && failure.retryable) || !failure;
  return { kind: 'failed', error: toStreamError(failure, target?.provider.name, log), broke };
}

function toStreamError(failure: unknown, provider: string | undefined, log: Logger): GatewayError {
  if (failure instanceof AttemptsFailed) return failure.error;
  if (isGatewayError(failure)) return failure;
  if (isUpstreamError(failure)) return toGatewayError(failure, failure.timeout, provider);
  if (isTimeout(failure)) return new GatewayError('UPSTREAM_TIMEOUT', `Upstream timed out (${provider ?? 'unknown'})`, { provider: provider ?? null });
  if (failure) {
    log.error({ err: failure }, 'stream failed unexpectedly');
    return new GatewayError('UPSTREAM_ERROR', 'The stream failed unexpectedly', { provider: provider ?? null });
  }
  return new GatewayError('UPSTREAM_ERROR', 'The upstream stream ended without a finish reason', { provider: provider ?? null });
}
