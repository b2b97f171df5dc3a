/* The one invocation path: auth'd principal → model → limits → attempts (routing, retries, fallbacks) → usage record. */
import type { Logger } from 'pino';
import { GatewayError, badInput, forbidden, isGatewayError, modelNotFound, modelRetired } from '../errors.js';
import { countMessagesTokens, countTextTokens } from '../providers/count-tokens.js';
import type { AdapterRegistry } from '../providers/registry.js';
import type { ChatRequest, EmbedResponse, FinishReason, ProviderAdapter, StreamChunk, ToolCall, ToolCallDelta } from '../providers/types.js';
import { UpstreamError, isUpstreamError } from '../providers/types.js';
import type { CatalogueService, ResolvedModel, ResolvedTarget } from '../services/catalogue.js';
import type { Principal } from '../services/keys.js';
import { type AttemptContext, type AttemptOutcome, AttemptsCancelled, AttemptsFailed, type Executor, TimeoutReason, toGatewayError } from './attempt.js';
import { type ChatInput, DEFAULT_INPUT_BOUNDS, type InputBounds, toChatRequest, toMetadata, withModel } from './chat-input.js';
import type { Limiter, Reservation } from './limits.js';
import { Channel } from './channel.js';
import { costUsd } from './pricing.js';
import type { UsageEvent, UsageStatus, UsageWriter } from './usage-writer.js';
import { Cancellation, NEVER, anyOf, type CancelSignal } from '../util/cancellation.js';
import { timeOrderedId } from '../util/time-ordered-id.js';

export interface UsageOut {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  costUsd: number;
}

export interface ChatResult {
  id: string;
  model: string;
  provider: string;
  upstreamModel: string;
  message: { role: 'ASSISTANT'; content: string | null; toolCalls: ToolCall[] };
  finishReason: FinishReason;
  usage: UsageOut;
  latencyMs: number;
  attempts: number;
}

export interface ChatChunk {
  id: string;
  model: string;
  delta: string;
  toolCalls: ToolCallDelta[] | null;
  finishReason: FinishReason | null;
  usage: UsageOut | null;
}

export interface EmbedResult {
  model: string;
  provider: string;
  vectors: number[][];
  usage: UsageOut;
}

/** Who asks and how; the same for GraphQL, REST and prompts. */
export interface InvocationOptions {
  principal: Principal;
  signal?: CancelSignal;
  /** Collects warnings (e.g. deprecated model) for extensions.warnings / the Deprecation header. */
  warnings?: string[];
  /** Extra tags merged into the usage record's metadata (e.g. the prompt name and version). */
  metadata?: Record<string, unknown>;
  /** The id the caller sees (x-request-id, extensions.requestId): on log lines about this invocation. */
  requestId?: string;
}

/** Hooks for metrics; all optional. */
export interface GatewayObserver {
  invocationStarted?(model: string): void;
  invocationFinished?(e: UsageEvent): void;
  attemptFailed?(provider: string, status: number | undefined): void;
  firstToken?(model: string, ms: number): void;
  streamOpened?(): void;
  streamClosed?(): void;
}

export interface GatewayDeps {
  catalogue: CatalogueService;
  adapters: AdapterRegistry;
  executor: Executor;
  limiter: Limiter;
  usage: UsageWriter;
  log: Logger;
  inputBounds?: InputBounds;
  observer?: GatewayObserver;
  /** Completion tokens reserved when the caller gives no maxTokens. @default 1024 */
  defaultReserveTokens?: number;
}


export type Gateway = ReturnType<typeof createGateway>;

export function createGateway(deps: GatewayDeps) {
  const { catalogue, adapters, executor, limiter, usage, log } = deps;
  const bounds = deps.inputBounds ?? DEFAULT_INPUT_BOUNDS;
  const reserveDefault = deps.defaultReserveTokens ?? 1024;
  const obs = deps.observer ?? {};

  function adapterFor(target: ResolvedTarget): ProviderAdapter {
    const a = adapters[target.provider.kind];
    if (!a) {
      throw new UpstreamError({ provider: target.provider.name, message: `no adapter for provider kind ${target.provider.kind}`, retryable: true });
    }
    return a;
  }

  function requireInvoke(p: Principal): void {
    if (!p.scopes.has('INVOKE') && !p.isAdmin) throw forbidden('This key lacks the INVOKE scope');
  }

  /** Model lookup and the checks that need no upstream: existence, lifecycle, allow-list. */
  async function resolveModel(name: string, opts: InvocationOptions): Promise<ResolvedModel> {
    const { principal } = opts;
    // Postgres cannot even compare text holding NUL: a clear refusal instead of a masked database error
    if (name.includes('\u0000')) throw badInput('input.model', 'must not contain NUL characters');
    const allowed = principal.key.allowedModels;
    if (allowed && !principal.isAdmin && !allowed.includes(name)) {
      throw forbidden(`This key may not invoke model "${name}"`);
    }
    const model = await catalogue.resolve(name);
    if (!model) throw modelNotFound(name);
    if (model.row.status === 'RETIRED') throw modelRetired(name);
    if (model.row.status === 'DEPRECATED') {
      opts.warnings?.push(`Model "${name}" is deprecated and will be retired; move to another model.`);
    }
    return model;
  }

  function needsEstimate(p: Principal): boolean {
    const k = p.key;
    return k.tokensPerMinute != null || k.tokensPerDay != null || k.monthlyBudgetUsd != null;
  }

  async function admit(model: ResolvedModel, req: Omit<ChatRequest, 'model'>, opts: InvocationOptions): Promise<Reservation> {
    let estimatedTokens = 0;
    let estimatedCostUsd = 0;
    // counting tokens costs CPU on large prompts: only when a token or budget limit needs it
    if (needsEstimate(opts.principal)) {
      const prompt = countMessagesTokens(req.messages);
      const completion = req.maxTokens ?? reserveDefault;
      estimatedTokens = prompt + completion;
      estimatedCostUsd = costUsd(model.row, prompt, completion);
    }
    return limiter.admit({ principal: opts.principal, model: model.row.name, estimatedTokens, estimatedCostUsd });
  }

  function baseEvent(id: string, modelName: string, opts: InvocationOptions, streamed: boolean, metadata: Record<string, unknown> | null): UsageEvent {
    const meta = opts.metadata ? { ...(metadata ?? {}), ...opts.metadata } : metadata;
    return {
      id,
      createdAt: new Date(),
      apiKeyId: opts.principal.key.id,
      model: modelName,
      provider: null,
      upstreamModel: null,
      promptTokens: 0,
      completionTokens: 0,
      costUsd: 0,
      latencyMs: 0,
      ttftMs: null,
      status: 'OK',
      errorCode: null,
      streamed,
      attempts: 0,
      usageExact: true,
      metadata: meta,
    };
  }

  function statusOf(err: unknown): UsageStatus {
    if (isGatewayError(err)) {
      if (err.code === 'RATE_LIMITED') return 'RATE_LIMITED';
      if (err.code === 'QUOTA_EXCEEDED') return 'QUOTA_EXCEEDED';
    }
    return 'ERROR';
  }

  function finish(e: UsageEvent): void {
    usage.record(e);
    obs.invocationFinished?.(e);
  }

  function failWith(e: UsageEvent, err: unknown, started: number): never {
    e.status = statusOf(err);
    e.latencyMs = Date.now() - started;
    if (err instanceof AttemptsFailed) {
      e.attempts = err.attempts;
      e.provider = err.lastTarget?.provider.name ?? null;
      e.upstreamModel = err.lastTarget?.upstreamModel ?? null;
      e.errorCode = err.error.code;
      finish(e);
      throw err.error;
    }
    if (err instanceof AttemptsCancelled) {
      // the caller went away mid-attempt: nobody reads the error, the record says what happened
      e.status = 'CANCELLED';
      e.errorCode = 'CANCELLED';
      e.attempts = err.attempts;
      e.provider = err.lastTarget?.provider.name ?? null;
      e.upstreamModel = err.lastTarget?.upstreamModel ?? null;
      finish(e);
      // a typed error, so masking does not log every client disconnect as an unexpected failure
      throw new GatewayError('UPSTREAM_ERROR', 'The request was cancelled by the client', { cancelled: true });
    }
    e.errorCode = isGatewayError(err) ? err.code : 'INTERNAL';
    finish(e);
    throw err;
  }

  function usageOut(promptTokens: number, completionTokens: number, model: ResolvedModel): UsageOut {
    return { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens, costUsd: costUsd(model.row, promptTokens, completionTokens) };
  }

  /**
   * A non-streamed call (chat, embed): attempts, then the reservation settled to the real usage (or released on
   * failure) and the usage event filled and recorded. Priced by the model that answered: a fallback may cost
   * more or less.
   */
  async function runUnary<T extends { usage: { promptTokens: number; completionTokens: number; exact: boolean }; upstreamModel: string }>(
    model: ResolvedModel,
    reservation: Reservation,
    ev: UsageEvent,
    started: number,
    opts: InvocationOptions,
    call: (a: AttemptContext) => Promise<T>,
  ): Promise<{ outcome: AttemptOutcome<T>; usage: UsageOut; latencyMs: number }> {
    let outcome: AttemptOutcome<T>;
    try {
      outcome = await executor.run(model, opts.signal ?? NEVER, call, { requestId: opts.requestId, invocationId: ev.id });
    } catch (err) {
      reservation.settle({ tokens: 0, costUsd: 0 });
      throw err;
    }
    const res = outcome.value;
    const usage = usageOut(res.usage.promptTokens, res.usage.completionTokens, outcome.model);
    reservation.settle({ tokens: usage.totalTokens, costUsd: usage.costUsd });
    const latencyMs = Date.now() - started;
    ev.provider = outcome.target.provider.name;
    ev.upstreamModel = res.upstreamModel || outcome.target.upstreamModel;
    ev.promptTokens = usage.promptTokens;
    ev.completionTokens = usage.completionTokens;
    ev.costUsd = usage.costUsd;
    ev.latencyMs = latencyMs;
    ev.attempts = outcome.attempts;
    ev.usageExact = res.usage.exact;
    finish(ev);
    return { outcome, usage, latencyMs };
  }

  return {
    requireInvoke,

    async chat(input: ChatInput, opts: InvocationOptions): Promise<ChatResult> {
      const started = Date.now();
      const id = timeOrderedId();
      const modelName = String(input.model ?? '');
      obs.invocationStarted?.(modelName);
      let metadata: Record<string, unknown> | null = null;
      const ev = baseEvent(id, modelName, opts, false, null);
      try {
        requireInvoke(opts.principal);
        metadata = toMetadata(input.metadata);
        ev.metadata = opts.metadata ? { ...(metadata ?? {}), ...opts.metadata } : metadata;
        const req = toChatRequest(input, bounds);
        const model = await resolveModel(modelName, opts);
        const reservation = await admit(model, req, opts);
        const { outcome, usage: u, latencyMs } = await runUnary(model, reservation, ev, started, opts, ({ target, signal, timeoutMs }) =>
          adapterFor(target).chat(
            withModel(req, target.upstreamModel),
            { signal, timeoutMs, baseUrl: target.provider.baseUrl, apiKey: target.provider.apiKey },
          ),
        );
        const res = outcome.value;
        return {
          id,
          model: modelName,
          provider: outcome.target.provider.name,
          upstreamModel: ev.upstreamModel!,
          message: { role: 'ASSISTANT', content: res.content, toolCalls: res.toolCalls },
          finishReason: res.finishReason,
          usage: u,
          latencyMs,
          attempts: outcome.attempts,
        };
      } catch (err) {
        return failWith(ev, err, started);
      }
    },

    /**
     * Checks everything that can fail before streaming (so errors come back as a plain GraphQL error),
     * then returns a Channel: ending it aborts the upstream request at once.
     */
    async stream(input: ChatInput, opts: InvocationOptions): Promise<AsyncIterable<ChatChunk>> {
      const started = Date.now();
      const id = timeOrderedId();
      const modelName = String(input.model ?? '');
      obs.invocationStarted?.(modelName);
      const ev = baseEvent(id, modelName, opts, true, null);
      let req: Omit<ChatRequest, 'model'>;
      let model: ResolvedModel;
      let reservation: Reservation;
      try {
        requireInvoke(opts.principal);
        const metadata = toMetadata(input.metadata);
        ev.metadata = opts.metadata ? { ...(metadata ?? {}), ...opts.metadata } : metadata;
        req = toChatRequest(input, bounds);
        model = await resolveModel(modelName, opts);
        reservation = await admit(model, req, opts);
      } catch (err) {
        return failWith(ev, err, started);
      }

      // ended before its first read: the producer never runs, so settle and record here
      const cancelBeforeStart = (): void => {
        reservation.settle({ tokens: 0, costUsd: 0 });
        Object.assign(ev, { status: 'CANCELLED', errorCode: 'CANCELLED', latencyMs: Date.now() - started });
        finish(ev);
      };
      // a bug in the producer must end this stream with an error, never surface as an unhandled rejection
      const start = (): void =>
        void produce().catch((err: unknown) => {
          log.error({ err }, 'stream failed unexpectedly');
          channel.end(new GatewayError('UPSTREAM_ERROR', 'The stream failed unexpectedly', { provider: null }));
        });
      const channel: Channel<ChatChunk> = new Channel<ChatChunk>(start, cancelBeforeStart);
      const push = (c: ChatChunk) => channel.push(c);
      const stop = (err?: unknown) => channel.end(err);

      const produce = async (): Promise<void> => {
        obs.streamOpened?.();
        void channel.closed.then(() => obs.streamClosed?.());
        const ac = new Cancellation();
        const onOuterAbort = () => ac.abort();
        opts.signal?.addEventListener('abort', onOuterAbort, { once: true });
        void channel.closed.then(() => ac.abort());

        let text = '';
        let argsChars = '';
        let target: ResolvedTarget | undefined;
        let answeredBy: ResolvedModel = model;
        let final: StreamChunk | undefined;
        let failure: unknown;
        let release: AttemptOutcome<unknown>['release'] | undefined;
        let stall: NodeJS.Timeout | undefined;
        try {
          const outcome = await executor.run(model, ac.signal, async ({ target: t, model: m, signal, timeoutMs }) => {
            // the executor lets go of its attempt signal once the first chunk is in: keep the stream's own
            // signal on the adapter, so a cancel (or a stall timeout) aborts the upstream at once
            const upstreamSignal = anyOf(signal, ac);
            const iterator = adapterFor(t)
              .stream(withModel(req, t.upstreamModel), { signal: upstreamSignal, timeoutMs, baseUrl: t.provider.baseUrl, apiKey: t.provider.apiKey })
              [Symbol.asyncIterator]();
            // the attempt is committed once the first chunk arrived: no retry or fallback after that
            const first = await iterator.next();
            return { iterator, first, timeoutMs, model: m };
          }, { hold: true, requestId: opts.requestId, invocationId: ev.id }); // held: the target stays busy (LEAST_BUSY) until the stream ends, and is judged by how it ends
          release = outcome.release;
          target = outcome.target;
          answeredBy = outcome.model;
          ev.attempts = outcome.attempts;
          ev.provider = target.provider.name;
          ev.upstreamModel = target.upstreamModel;
          const { iterator, timeoutMs } = outcome.value;
          // one watchdog per stream, re-armed for each upstream read (not while the client is being written to):
          // a stall aborts the attempt's signal, which ends the adapter's pending read;
          // the pending read is also failed directly, so an adapter that ignores its signal cannot hang the stream
          let failRead: ((reason: unknown) => void) | undefined;
          stall = setTimeout(() => {
            if (!failRead) return void stall?.refresh();
            const reason = new TimeoutReason();
            ac.abort(reason);
            failRead(reason);
          }, timeoutMs + 50);
          let next = outcome.value.first;
          ev.ttftMs = Date.now() - started;
          obs.firstToken?.(modelName, ev.ttftMs);
          while (!next.done) {
            const c = next.value;
            if (c.finishReason || c.usage) final = c;
            text += c.delta;
            for (const d of c.toolCalls ?? []) argsChars += (d.name ?? '') + (d.argumentsDelta ?? '');
            if (!c.finishReason) {
              if (c.delta || c.toolCalls?.length) {
                await push({ id, model: modelName, delta: c.delta, toolCalls: c.toolCalls ?? null, finishReason: null, usage: null });
              }
            } else if (c.delta || c.toolCalls?.length) {
              await push({ id, model: modelName, delta: c.delta, toolCalls: c.toolCalls ?? null, finishReason: null, usage: null });
            }
            if (ac.signal.aborted) break;
            stall.refresh();
            next = await new Promise<IteratorResult<StreamChunk>>((resolve, reject) => {
              failRead = reject;
              iterator.next().then(resolve, reject);
            });
            failRead = undefined;
          }
          // an adapter may end quietly when its signal aborts: a stall is still a timeout
          if (isTimeout(ac.signal.reason) && !final?.finishReason) failure = ac.signal.reason;
          if (ac.signal.aborted && !final?.finishReason) {
            await iterator.return?.();
          }
        } catch (err) {
          // a stall may surface as the adapter's own abort error: it is still a timeout
          failure = isTimeout(ac.signal.reason) && !isTimeout(err) ? ac.signal.reason : err;
        } finally {
          clearTimeout(stall);
          opts.signal?.removeEventListener('abort', onOuterAbort);
        }

        const cancelled = ac.signal.aborted && !final?.finishReason && !(failure instanceof AttemptsFailed) && !isTimeout(failure);
        // a stream that broke after its first chunk counts towards the target's cooldown (a cancel does not)
        const broke = !cancelled && (isTimeout(failure) || (isUpstreamError(failure) && failure.retryable) || (!failure && !final?.finishReason));
        release?.(broke ? { retryAfterMs: isUpstreamError(failure) ? failure.retryAfterMs : undefined } : undefined);
        const promptTokens = final?.usage?.promptTokens ?? countMessagesTokens(req.messages);
        const completionTokens = final?.usage?.completionTokens ?? countTextTokens(text) + (argsChars ? countTextTokens(argsChars) : 0);
        const u = usageOut(promptTokens, completionTokens, answeredBy);
        reservation.settle({ tokens: target ? u.totalTokens : 0, costUsd: target ? u.costUsd : 0 });
        Object.assign(ev, {
          latencyMs: Date.now() - started,
          promptTokens: target ? u.promptTokens : 0,
          completionTokens: target ? u.completionTokens : 0,
          costUsd: target ? u.costUsd : 0,
          usageExact: Boolean(final?.usage?.exact),
        });

        if (cancelled) {
          ev.status = 'CANCELLED';
          ev.errorCode = 'CANCELLED';
          if (failure instanceof AttemptsCancelled) {
            // cancelled before the first chunk: name the attempt(s) the client walked away from
            ev.attempts = failure.attempts;
            ev.provider = failure.lastTarget?.provider.name ?? null;
            ev.upstreamModel = failure.lastTarget?.upstreamModel ?? null;
          }
          finish(ev);
          stop();
          return;
        }
        if (failure || !final?.finishReason) {
          const gerr =
            failure instanceof AttemptsFailed ? failure.error
            : isGatewayError(failure) ? failure
            : isUpstreamError(failure) ? toGatewayError(failure, failure.timeout, target?.provider.name)
            : isTimeout(failure) ? new GatewayError('UPSTREAM_TIMEOUT', `Upstream timed out (${target?.provider.name ?? 'unknown'})`, { provider: target?.provider.name ?? null })
            : failure ? (log.error({ err: failure }, 'stream failed unexpectedly'), new GatewayError('UPSTREAM_ERROR', 'The stream failed unexpectedly', { provider: target?.provider.name ?? null }))
            : new GatewayError('UPSTREAM_ERROR', 'The upstream stream ended without a finish reason', { provider: target?.provider.name ?? null });
          if (failure instanceof AttemptsFailed) {
            ev.attempts = failure.attempts;
            ev.provider = failure.lastTarget?.provider.name ?? null;
            ev.upstreamModel = failure.lastTarget?.upstreamModel ?? null;
          }
          ev.status = 'ERROR';
          ev.errorCode = gerr.code;
          finish(ev);
          if (target) {
            // the client already has partial text: end with a final ERROR chunk, then the error
            await push({ id, model: modelName, delta: '', toolCalls: null, finishReason: 'ERROR', usage: u }).catch(() => {});
          }
          stop(gerr);
          return;
        }
        finish(ev);
        await push({ id, model: modelName, delta: '', toolCalls: null, finishReason: final.finishReason, usage: u });
        stop();
      };
      return channel;
    },

    async embed(input: { model: string; input: string[] }, opts: InvocationOptions): Promise<EmbedResult> {
      const started = Date.now();
      const id = timeOrderedId();
      const modelName = String(input.model ?? '');
      obs.invocationStarted?.(modelName);
      const ev = baseEvent(id, modelName, opts, false, opts.metadata ?? null);
      try {
        requireInvoke(opts.principal);
        if (!modelName.trim()) throw badInput('input.model', 'must not be empty');
        if (!Array.isArray(input.input) || !input.input.length) throw badInput('input.input', 'must contain at least one string');
        if (input.input.length > 2048) throw badInput('input.input', 'at most 2048 strings per call');
        const total = input.input.reduce((s, x) => s + x.length, 0);
        if (total > bounds.maxInputChars) throw badInput('input.input', `total input must be at most ${bounds.maxInputChars} characters`);
        const model = await resolveModel(modelName, opts);
        const estimate = needsEstimate(opts.principal) ? input.input.reduce((s, x) => s + countTextTokens(x), 0) : 0;
        const reservation = await limiter.admit({ principal: opts.principal, model: modelName, estimatedTokens: estimate, estimatedCostUsd: costUsd(model.row, estimate, 0) });
        const { outcome, usage: u } = await runUnary(model, reservation, ev, started, opts, async ({ target, signal, timeoutMs }): Promise<EmbedResponse> => {
          const a = adapterFor(target);
          if (!a.embed) throw new UpstreamError({ provider: target.provider.name, message: `${target.provider.kind} providers do not support embeddings`, retryable: false });
          return a.embed({ model: target.upstreamModel, input: input.input }, { signal, timeoutMs, baseUrl: target.provider.baseUrl, apiKey: target.provider.apiKey });
        });
        const res = outcome.value;
        return { model: modelName, provider: outcome.target.provider.name, vectors: res.vectors, usage: u };
      } catch (err) {
        return failWith(ev, err, started);
      }
    },
  };
}

function isTimeout(e: unknown): boolean {
  return e instanceof TimeoutReason || (isUpstreamError(e) && e.timeout);
}
