/* Retries with backoff, per-attempt timeout, cooldown bookkeeping and fallback models: one loop for every entry point. */
import { abortableSleep } from '../util/abortable-sleep.js';
import type { Logger } from 'pino';
import { GatewayError } from '../errors.js';
import { UpstreamError, isUpstreamError } from '../providers/types.js';
import type { CatalogueService, ResolvedModel, ResolvedTarget } from '../services/catalogue.js';
import type { Router } from './route.js';
import { Cancellation, type CancelSignal } from '../util/cancellation.js';

export interface AttemptPolicy {
  /** Attempts per model (each target at least once). @default 3 */
  maxAttemptsPerModel: number;
  /** Attempts over all models, fallbacks included. @default 8 */
  maxAttempts: number;
  /** Total time budget for one invocation's attempts, ms. @default 120000 */
  deadlineMs: number;
  /** First backoff, ms; doubles each retry, with full jitter. @default 100 */
  backoffBaseMs: number;
  /** @default 2000 */
  backoffMaxMs: number;
  /** Used when the model sets no timeoutMs. */
  defaultTimeoutMs: number;
  /** Longest retry-after honoured by waiting; a longer one moves on to the next target or fallback. @default 10000 */
  maxRetryWaitMs?: number;
}

export interface AttemptContext {
  target: ResolvedTarget;
  model: ResolvedModel;
  signal: CancelSignal;
  timeoutMs: number;
}

export interface AttemptOutcome<T> {
  value: T;
  target: ResolvedTarget;
  model: ResolvedModel;
  attempts: number;
  /**
   * Ends a held attempt (`RunOptions.hold`): the target stops counting as in flight and the attempt counts as
   * a success (latency to the first chunk) or, given a `failure` (a stream that broke after its first chunk),
   * as a failure towards the target's cooldown. Idempotent; a no-op when not held.
   */
  release(failure?: { retryAfterMs?: number }): void;
}

interface RunOptions {
  /**
   * Keep the answering target counted as in flight after `call` resolved, until `release()`: a stream is
   * still using its target after the first chunk (LEAST_BUSY must see it busy).
   */
  hold?: boolean;
  /** The caller's request id, on the log lines about this invocation's attempts. */
  requestId?: string;
  /** The invocation's id (the usage record's and the answer's id), on those log lines too. */
  invocationId?: string;
}

/** The invocation failed for good; carries what usage needs to know. */
export class AttemptsFailed extends Error {
  constructor(
    readonly error: GatewayError,
    readonly attempts: number,
    readonly lastTarget: ResolvedTarget | undefined,
  ) {
    super(error.message);
  }
}

/** The client went away (unsubscribed, disconnected) before an answer; carries what usage needs to know. */
export class AttemptsCancelled extends Error {
  constructor(
    readonly attempts: number,
    readonly lastTarget: ResolvedTarget | undefined,
    cause: unknown,
  ) {
    super('The invocation was cancelled by the client', { cause });
    this.name = 'AttemptsCancelled';
  }
}

export interface Executor {
  run<T>(model: ResolvedModel, signal: CancelSignal, call: (a: AttemptContext) => Promise<T>, opts?: RunOptions): Promise<AttemptOutcome<T>>;
}

export class TimeoutReason extends Error {
  readonly timeout = true;
  constructor() {
    super('attempt timed out');
    this.name = 'TimeoutError';
  }
}


/**
 * The client-facing error for a failed upstream call. `provider` is the configured provider's name (the
 * adapter only knows its kind, e.g. "openai"), so extensions.provider names the target that failed.
 */
export function toGatewayError(e: UpstreamError, allTimedOut: boolean, provider: string = e.provider): GatewayError {
  if (allTimedOut) {
    return new GatewayError('UPSTREAM_TIMEOUT', `Upstream timed out (${provider})`, { provider });
  }
  return new GatewayError('UPSTREAM_ERROR', e.message, { provider, status: e.status ?? null, retryable: e.retryable });
}

export function createExecutor(deps: { router: Router; catalogue: CatalogueService; log: Logger; policy: AttemptPolicy; onAttemptFailed?: (target: ResolvedTarget, err: UpstreamError) => void }): Executor {
  const { router, catalogue, policy, log } = deps;

  return {
    async run(primary, clientSignal, call, runOpts = {}) {
      const started = Date.now();
      const deadline = started + policy.deadlineMs;
      let attempts = 0;
      let last: UpstreamError | undefined;
      let lastTarget: ResolvedTarget | undefined;
      let allTimedOut = true;
      // models already tried, built once there are fallbacks to go through (most models have none)
      let visited: Set<string> | undefined;
      const queue: Array<ResolvedModel | string> = [primary];

      while (queue.length) {
        const next = queue.shift()!;
        const model = typeof next === 'string' ? await catalogue.resolve(next) : next;
        if (!model || visited?.has(model.row.name)) continue;
        if (model.row.fallbacks.length || visited) (visited ??= new Set()).add(model.row.name);
        if (model.row.status === 'RETIRED' && model !== primary) continue;
        queue.push(...model.row.fallbacks);

        const plan = router.plan(model);
        const timeoutMs = model.row.timeoutMs ?? policy.defaultTimeoutMs;
        const perModel = Math.max(policy.maxAttemptsPerModel, plan.length);
        // built on the first failure: most invocations succeed at once
        let tried: Map<string, number> | undefined;
        let retryAfterOf: Map<string, number> | undefined;

        for (let i = 0; i < perModel && plan.length; i++) {
          if (attempts >= policy.maxAttempts || Date.now() >= deadline || clientSignal.aborted) break;
          const target = plan[i % plan.length];
          const retries = tried?.get(target.id) ?? 0;
          if (retries > 0) {
            // retrying a target already tried: back off (full jitter), and respect its cooldown/retry-after
            if (!router.isHealthy(target.id) && plan.length > 1) continue;
            const backoff = Math.random() * Math.min(policy.backoffMaxMs, policy.backoffBaseMs * 2 ** (retries - 1));
            const retryAfter = retryAfterOf?.get(target.id) ?? 0;
            // a provider asking for a long pause is not waited for: fall back instead of holding the caller
            if (retryAfter > (policy.maxRetryWaitMs ?? 10_000)) continue;
            const wait = Math.max(backoff, retryAfter);
            if (Date.now() + wait >= deadline) break;
            await abortableSleep(wait, clientSignal);
            if (clientSignal.aborted) break;
          }
          (tried ??= new Map()).set(target.id, retries + 1);
          attempts++;
          lastTarget = target;

          const ac = new Cancellation();
          const onClientAbort = () => ac.abort(clientSignal.reason);
          clientSignal.addEventListener('abort', onClientAbort, { once: true });
          // a guard for adapters whose own timeouts do not fire (the deadline too)
          const guardMs = Math.min(timeoutMs + 50, Math.max(1, deadline - Date.now()));
          const guard = setTimeout(() => ac.abort(new TimeoutReason()), guardMs);
          const t0 = Date.now();
          router.started(target.id);
          let held = false;
          try {
            const value = await call({ target, model, signal: ac.signal, timeoutMs });
            const latencyMs = Date.now() - t0;
            held = runOpts.hold === true;
            // a held attempt (a stream) is judged when it ends: only then does it count as a success or a failure
            if (!held) router.succeeded(target.id, latencyMs);
            let released = !held;
            const release = (failure?: { retryAfterMs?: number }) => {
              if (released) return;
              released = true;
              router.finished(target.id);
              if (failure) router.failed(target.id, failure.retryAfterMs);
              else router.succeeded(target.id, latencyMs);
            };
            return { value, target, model, attempts, release };
          } catch (e) {
            // the client left: not the target's fault, no retry; usage still learns what was tried
            if (clientSignal.aborted) throw new AttemptsCancelled(attempts, target, e);
            const err = isUpstreamError(e)
              ? e
              : ac.signal.aborted
                ? new UpstreamError({ provider: target.provider.name, message: `${target.provider.name}: upstream timed out`, retryable: true, timeout: true, cause: e })
                : e;
            if (!isUpstreamError(err)) throw err;
            last = err;
            if (!err.timeout) allTimedOut = false;
            deps.onAttemptFailed?.(target, err);
            log.warn(
              { requestId: runOpts.requestId, invocationId: runOpts.invocationId, provider: target.provider.name, upstreamModel: target.upstreamModel, model: model.row.name, status: err.status, retryable: err.retryable, attempt: attempts, err: err.message },
              'upstream attempt failed',
            );
            if (!err.retryable) throw new AttemptsFailed(toGatewayError(err, false, target.provider.name), attempts, target);
            if (err.retryAfterMs !== undefined) (retryAfterOf ??= new Map()).set(target.id, err.retryAfterMs);
            router.failed(target.id, err.retryAfterMs);
          } finally {
            clearTimeout(guard);
            clientSignal.removeEventListener('abort', onClientAbort);
            if (!held) router.finished(target.id);
          }
        }
      }
      if (clientSignal.aborted) throw new AttemptsCancelled(attempts, lastTarget, clientSignal.reason);
      if (!last) {
        throw new AttemptsFailed(
          new GatewayError('UPSTREAM_ERROR', `Model "${primary.row.name}" has no enabled target`, { provider: null, status: null }),
          attempts,
          lastTarget,
        );
      }
      throw new AttemptsFailed(toGatewayError(last, allTimedOut, lastTarget?.provider.name), attempts, lastTarget);
    },
  };
}

