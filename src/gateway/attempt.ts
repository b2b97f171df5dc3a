/* Retries with backoff, per-attempt timeout, cooldown bookkeeping and fallback models: one loop for every entry point. */
import { abortableSleep } from '../util/abortable-sleep.js';
import type { Logger } from 'pino';
import { GatewayError } from '../errors.js';
import { UpstreamError, isUpstreamError, type UpstreamObserver } from '../providers/types.js';
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
  /** Hand to the adapter (CallOptions.observe): the attempt's watcher, when the invocation has one. */
  observe?: UpstreamObserver;
}

/**
 * Watches an invocation's upstream attempts (the call log's timeline, the trace's attempt spans). Absent on most
 * calls: then nothing is allocated per attempt.
 */
export interface AttemptObserver {
  /** An attempt is about to call its target; what it returns watches that attempt to its end. */
  attemptStarted(a: AttemptStart): AttemptWatch;
}

export interface AttemptStart {
  /** 1 for the invocation's first attempt, counting retries and fallbacks. */
  attempt: number;
  target: ResolvedTarget;
  /** The model whose target it is: the primary or a fallback. */
  model: ResolvedModel;
  /** How long the executor waited before it (backoff or retry-after); 0 for a first try. */
  waitedMs: number;
  timeoutMs: number;
}

export interface AttemptWatch {
  /** Given to the adapter: headers to add upstream, told when the response headers arrive. */
  readonly upstream?: UpstreamObserver;
  /**
   * The attempt ended, once: `error` absent on success. A held attempt (a stream) ends when it is released: with
   * `error` when it broke after its first chunk.
   */
  ended(outcome: AttemptEnd): void;
}

export interface AttemptEnd {
  error?: UpstreamError;
  /** The client went away during the attempt. */
  cancelled?: boolean;
  /** It timed out without an UpstreamError to say so (a stream that stalled past the model's timeout). */
  timeout?: boolean;
  /** It failed without an UpstreamError to say how (a stream closed without a finish reason, a bug). */
  failed?: boolean;
}

export interface AttemptOutcome<T> {
  value: T;
  target: ResolvedTarget;
  model: ResolvedModel;
  attempts: number;
  /**
   * Ends a held attempt (`RunOptions.hold`): the target stops counting as in flight and the attempt counts as
   * a success (latency to the first chunk) or, given a `failure` (a stream that broke after its first chunk),
   * as a failure towards the target's cooldown. `end` says how it ended for the observer when that is not the
   * router's verdict (a timeout, a failure that does not count against the target, the client leaving). Idempotent;
   * a no-op when not held.
   */
  release(failure?: { retryAfterMs?: number; error?: UpstreamError }, end?: AttemptEnd): void;
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
  /** Which fallback models this call may go on to (default: every one); the primary was checked before. */
  fallbackAllowed?: (model: ResolvedModel) => boolean;
  /** Watches each attempt (call log, traces); absent: nothing is recorded per attempt. */
  observer?: AttemptObserver;
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

export interface ExecutorDeps {
  router: Router;
  catalogue: CatalogueService;
  log: Logger;
  policy: AttemptPolicy;
  onAttemptFailed?: (target: ResolvedTarget, err: UpstreamError) => void;
}

export function createExecutor(deps: ExecutorDeps): Executor {
  return {
    async run<T>(primary: ResolvedModel, clientSignal: CancelSignal, call: (a: AttemptContext) => Promise<T>, runOpts: RunOptions = {}) {
      const run: Run<T> = {
        deps,
        clientSignal,
        call,
        opts: runOpts,
        deadline: Date.now() + deps.policy.deadlineMs,
        attempts: 0,
        last: undefined,
        lastTarget: undefined,
        allTimedOut: true,
      };
      const nextModel = modelQueue(primary, deps.catalogue, runOpts.fallbackAllowed);
      for (let model = await nextModel(); model; model = await nextModel()) {
        const outcome = await tryModel(run, model);
        if (outcome) return outcome;
      }
      throw finalError(run, primary);
    },
  };
}

/** One run() of the executor: what it was asked, and what its attempts so far tell usage and the final error. */
interface Run<T> {
  readonly deps: ExecutorDeps;
  readonly clientSignal: CancelSignal;
  readonly call: (a: AttemptContext) => Promise<T>;
  readonly opts: RunOptions;
  readonly deadline: number;
  attempts: number;
  last: UpstreamError | undefined;
  lastTarget: ResolvedTarget | undefined;
  allTimedOut: boolean;
}

/**
 * The primary model, then the fallbacks breadth-first: each model once, a retired fallback or one the caller may not
 * use skipped (its own fallbacks are still tried: the caller may use those).
 */
function modelQueue(primary: ResolvedModel, catalogue: CatalogueService, allowed?: (model: ResolvedModel) => boolean): () => Promise<ResolvedModel | undefined> {
  // models already tried, built once there are fallbacks to go through (most models have none)
  let visited: Set<string> | undefined;
  const queue: Array<ResolvedModel | string> = [primary];
  return async () => {
    while (queue.length) {
      const next = queue.shift()!;
      const model = typeof next === 'string' ? await catalogue.resolve(next) : next;
      if (!model || visited?.has(model.row.name)) continue;
      if (model.row.fallbacks.length || visited) (visited ??= new Set()).add(model.row.name);
      if (model.row.status === 'RETIRED' && model !== primary) continue;
      queue.push(...model.row.fallbacks);
      if (model !== primary && allowed && !allowed(model)) continue;
      return model;
    }
    return undefined;
  };
}

/** The attempts on one model's targets, in the router's order; undefined when none answered (go on to a fallback). */
async function tryModel<T>(run: Run<T>, model: ResolvedModel): Promise<AttemptOutcome<T> | undefined> {
  const { router, policy } = run.deps;
  const plan = router.plan(model);
  const timeoutMs = model.row.timeoutMs ?? policy.defaultTimeoutMs;
  const perModel = Math.max(policy.maxAttemptsPerModel, plan.length);
  // built on the first failure: most invocations succeed at once
  let tried: Map<string, number> | undefined;
  let retryAfterOf: Map<string, number> | undefined;

  for (let i = 0; i < perModel && plan.length; i++) {
    if (run.attempts >= policy.maxAttempts || Date.now() >= run.deadline || run.clientSignal.aborted) break;
    const target = plan[i % plan.length];
    const retries = tried?.get(target.id) ?? 0;
    let waitedMs = 0;
    if (retries > 0) {
      const wait = retryWait(run, target, retries, plan.length, retryAfterOf?.get(target.id) ?? 0);
      if (wait === 'skip') continue;
      if (wait === 'stop') break;
      await abortableSleep(wait, run.clientSignal);
      if (run.clientSignal.aborted) break;
      waitedMs = wait;
    }
    (tried ??= new Map()).set(target.id, retries + 1);
    run.attempts++;
    run.lastTarget = target;
    const result = await attempt(run, target, model, timeoutMs, waitedMs);
    if (!isUpstreamError(result)) return result;
    if (result.retryAfterMs !== undefined) (retryAfterOf ??= new Map()).set(target.id, result.retryAfterMs);
  }
  return undefined;
}

/**
 * Before trying a target again: how long to wait (full-jitter backoff, or its retry-after when longer), or skip
 * it (cooling down while there are others, or asking for a longer pause than is worth holding the caller), or
 * stop (the wait would run past the deadline).
 */
function retryWait(run: Run<unknown>, target: ResolvedTarget, retries: number, planSize: number, retryAfter: number): number | 'skip' | 'stop' {
  const { router, policy } = run.deps;
  if (!router.isHealthy(target.id) && planSize > 1) return 'skip';
  const backoff = Math.random() * Math.min(policy.backoffMaxMs, policy.backoffBaseMs * 2 ** (retries - 1));
  // a provider asking for a long pause is not waited for: fall back instead of holding the caller
  if (retryAfter > (policy.maxRetryWaitMs ?? 10_000)) return 'skip';
  const wait = Math.max(backoff, retryAfter);
  if (Date.now() + wait >= run.deadline) return 'stop';
  return wait;
}

const RELEASED = (): void => {};

/**
 * One call to one target under a timeout guard: its outcome, or the retryable UpstreamError it failed with.
 * Throws AttemptsCancelled when the client left, AttemptsFailed for an error no retry cures.
 */
async function attempt<T>(run: Run<T>, target: ResolvedTarget, model: ResolvedModel, timeoutMs: number, waitedMs: number): Promise<AttemptOutcome<T> | UpstreamError> {
  const { router } = run.deps;
  const { clientSignal } = run;
  const watch = run.opts.observer?.attemptStarted({ attempt: run.attempts, target, model, waitedMs, timeoutMs });
  const ac = new Cancellation();
  const onClientAbort = () => ac.abort(clientSignal.reason);
  clientSignal.addEventListener('abort', onClientAbort, { once: true });
  // a guard for adapters whose own timeouts do not fire (the deadline too)
  const guardMs = Math.min(timeoutMs + 50, Math.max(1, run.deadline - Date.now()));
  const guard = setTimeout(() => ac.abort(new TimeoutReason()), guardMs);
  const t0 = Date.now();
  router.started(target.id);
  let held = false;
  try {
    const value = await run.call(watch ? { target, model, signal: ac.signal, timeoutMs, observe: watch.upstream } : { target, model, signal: ac.signal, timeoutMs });
    const latencyMs = Date.now() - t0;
    held = run.opts.hold === true;
    // a held attempt (a stream) is judged when it ends: only then does it count as a success or a failure
    if (!held) {
      router.succeeded(target.id, latencyMs);
      watch?.ended({});
    }
    return { value, target, model, attempts: run.attempts, release: held ? heldRelease(router, target.id, latencyMs, watch) : RELEASED };
  } catch (e) {
    // the client left: not the target's fault, no retry; usage still learns what was tried
    if (clientSignal.aborted) {
      watch?.ended({ cancelled: true });
      throw new AttemptsCancelled(run.attempts, target, e);
    }
    const err = isUpstreamError(e)
      ? e
      : ac.signal.aborted
        ? new UpstreamError({ provider: target.provider.name, message: `${target.provider.name}: upstream timed out`, retryable: true, timeout: true, cause: e })
        : e;
    if (!isUpstreamError(err)) {
      watch?.ended({ failed: true });
      throw err;
    }
    watch?.ended({ error: err });
    noteFailure(run, target, model, err);
    if (!err.retryable) throw new AttemptsFailed(toGatewayError(err, false, target.provider.name), run.attempts, target);
    router.failed(target.id, err.retryAfterMs);
    return err;
  } finally {
    clearTimeout(guard);
    clientSignal.removeEventListener('abort', onClientAbort);
    if (!held) router.finished(target.id);
  }
}

/** AttemptOutcome.release of a held attempt: ends it once, as a success or (given a failure) towards the cooldown. */
function heldRelease(router: Router, targetId: string, latencyMs: number, watch: AttemptWatch | undefined): AttemptOutcome<unknown>['release'] {
  let released = false;
  return (failure, end) => {
    if (released) return;
    released = true;
    router.finished(targetId);
    if (failure) router.failed(targetId, failure.retryAfterMs);
    else router.succeeded(targetId, latencyMs);
    watch?.ended(end ?? (failure ? { error: failure.error, failed: true } : {}));
  };
}

function noteFailure(run: Run<unknown>, target: ResolvedTarget, model: ResolvedModel, err: UpstreamError): void {
  run.last = err;
  if (!err.timeout) run.allTimedOut = false;
  run.deps.onAttemptFailed?.(target, err);
  run.deps.log.warn(
    { requestId: run.opts.requestId, invocationId: run.opts.invocationId, provider: target.provider.name, upstreamModel: target.upstreamModel, model: model.row.name, status: err.status, retryable: err.retryable, attempt: run.attempts, err: err.message },
    'upstream attempt failed',
  );
}

/** Why no model answered: the client left, no target was enabled, or the last failure (a timeout if all were). */
function finalError(run: Run<unknown>, primary: ResolvedModel): AttemptsCancelled | AttemptsFailed {
  if (run.clientSignal.aborted) return new AttemptsCancelled(run.attempts, run.lastTarget, run.clientSignal.reason);
  if (!run.last) {
    return new AttemptsFailed(
      new GatewayError('UPSTREAM_ERROR', `Model "${primary.row.name}" has no enabled target`, { provider: null, status: null }),
      run.attempts,
      run.lastTarget,
    );
  }
  return new AttemptsFailed(toGatewayError(run.last, run.allTimedOut, run.lastTarget?.provider.name), run.attempts, run.lastTarget);
}
