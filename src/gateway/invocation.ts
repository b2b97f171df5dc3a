/* One call's life: its id, timing, request, model, reservation, attempts and usage event, finished exactly once. */
import type { ChatRequest, ChatResponse, EmbedResponse } from '../providers/types.js';
import type { ResolvedModel } from '../services/catalogue.js';
import type { ModelPrices } from './pricing.js';
import type { Principal } from '../services/keys.js';
import type { CancelSignal } from '../util/cancellation.js';
import { timeOrderedId } from '../util/time-ordered-id.js';
import type { ChatInput } from './chat-input.js';
import { validEndUser } from './end-user.js';
import { NOOP_RESERVATION, type Reservation } from './limits.js';
import type { Step } from './pipeline.js';
import type { TextFilter } from './stream/text-filter.js';
import type { AttemptObserver, AttemptStart, AttemptWatch } from './attempt.js';
import type { RequestTrace } from '../telemetry/request-trace.js';
import type { CallLogDraft } from '../call-log/draft.js';
import type { InvocationTrace } from '../telemetry/invocation-trace.js';
import type { CacheHitKind, GuardrailEvent, UsageEvent } from './usage-writer.js';

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
  /** Told whether the response cache answered, when it was consulted (REST's x-gateway-cache header). */
  onCacheLookup?: (result: 'HIT-EXACT' | 'HIT-SEMANTIC' | 'MISS') => void;
  /**
   * The operator chose the model, not the caller (the semantic cache's embedding model, embedded on the caller's
   * key): the key's allowedModels does not apply. Never set from what a request carries.
   */
  operatorModel?: boolean;
  /**
   * The surface shows reasoning (Anthropic's /v1/messages, OpenAI's /v1/responses): streams carry reasoning chunks.
   * Elsewhere (GraphQL chatStream, chat completions) there is no field for it, so reasoning is not sent: it would
   * arrive as empty chunks, each using up an index.
   */
  reasoning?: boolean;
  /** The caller's trace (the request's span, or its traceparent to pass on); absent: none. */
  trace?: RequestTrace;
}

export interface EmbedInput {
  model: string;
  input: string[];
  /** The end user the caller serves (OpenAI's `user`). */
  user?: string | null;
}

/**
 * A complete answer: the upstream's, or one a step gave in its place (a cache hit). Steps that run after the call
 * read it, and may replace it, before it is settled, recorded and sent.
 */
export interface Answer<R extends ChatResponse | EmbedResponse = ChatResponse | EmbedResponse> {
  response: R;
  /** The provider and its model id that produced it (for a step's answer: whatever the step says, e.g. the cached call's). */
  provider: string;
  upstreamModel: string;
  /**
   * The prices that apply: the answering target's (a fallback model, or another provider of the same model, may cost
   * more or less than the first choice), or the model's for a step's answer.
   */
  pricedBy: ModelPrices;
  /** Upstream attempts this invocation made for it; 0 when a step answered. */
  attempts: number;
  /** 'upstream', or the name of the step that answered. */
  source: string;
  /**
   * Set when the response cache answered: no upstream was asked, so nothing is charged against token budgets and
   * the record's cost is 0, with what the upstream would have cost as the saving.
   */
  cacheHit?: { kind: CacheHitKind; similarity: number | null };
}

/** What the caller sent, by kind of call: the input steps read it, nothing else does. */
export type InvocationInput = { kind: 'chat' | 'stream'; chat: ChatInput } | { kind: 'embed'; embed: EmbedInput };

export class Invocation {
  readonly id = timeOrderedId();
  readonly started = Date.now();
  readonly modelName: string;
  readonly event: UsageEvent;
  /** The validated chat request (chat and stream), set by the read-input step. */
  request: Omit<ChatRequest, 'model'> | undefined;
  /** Set by the resolve-model step. */
  model: ResolvedModel | undefined;
  /** Set by the reserve step; settled exactly once by settle(). */
  reservation: Reservation = NOOP_RESERVATION;
  /** Set by a step that answers instead of the upstream, or by the call once the upstream's answer is complete. */
  answer: Answer | undefined;
  /** The steps whose `before` ran, in order: theirs are the `after`s to run. */
  stepsRun: readonly Step[] = [];
  /** What a stream's text passes through on its way to the client (guardrails on output), in order; see text-filter.ts. */
  outputFilters: TextFilter[] = [];
  /**
   * Set with output filters that must also judge tool calls: a stream then holds its tool calls back and sends them
   * whole, each one's arguments through this, with the last text (text-filter.ts).
   */
  guardToolArguments: ((args: string) => string) | undefined;
  /** The call log kept for this invocation; set (by the call-log step) only when its level is not NONE. */
  callLog: CallLogDraft | undefined;
  /** The invocation's span and its children; set only when tracing is on. */
  trace: InvocationTrace | undefined;
  /** What watches the upstream attempts (call log, trace); undefined on most calls, so attempts allocate nothing. */
  attemptObserver: AttemptObserver | undefined;
  private finished = false;
  private settled = false;

  constructor(
    readonly input: InvocationInput,
    readonly options: InvocationOptions,
  ) {
    this.modelName = String((input.kind === 'embed' ? input.embed.model : input.chat.model) ?? '');
    this.event = {
      id: this.id,
      createdAt: new Date(this.started),
      apiKeyId: options.principal.key.id,
      model: this.modelName,
      provider: null,
      upstreamModel: null,
      promptTokens: 0,
      completionTokens: 0,
      cachedReadTokens: 0,
      cacheWriteTokens: 0,
      reasoningTokens: 0,
      costUsd: 0,
      latencyMs: 0,
      ttftMs: null,
      status: 'OK',
      errorCode: null,
      streamed: input.kind === 'stream',
      attempts: 0,
      usageExact: true,
      metadata: options.metadata ?? null,
      cacheHit: null,
      costSavedUsd: 0,
      cacheSimilarity: null,
      guardrails: null,
      teamId: options.principal.key.teamId,
      // read-input checks it; until then (a call refused before) only a valid one is kept
      endUser: validEndUser(input.kind === 'embed' ? input.embed.user : input.chat.user),
    };
  }

  get principal(): Principal {
    return this.options.principal;
  }

  /** The resolved model; a step that runs after resolve-model may rely on it. */
  get resolved(): ResolvedModel {
    if (!this.model) throw new Error('invocation step order: the model is not resolved yet');
    return this.model;
  }

  /** A guardrail rule acted on this call: kept on its usage record. */
  noteGuardrail(e: GuardrailEvent): void {
    (this.event.guardrails ??= []).push(e);
  }

  elapsedMs(): number {
    return Date.now() - this.started;
  }

  /** Replaces the reservation's estimate with what was used; later calls are ignored (a failure after success must not refund). */
  settle(tokens: number, costUsd: number): void {
    if (this.settled) return;
    this.settled = true;
    this.reservation.settle({ tokens, costUsd });
  }

  /** Adds a watcher of the upstream attempts; with two, each attempt is shown to both. */
  watchAttempts(o: AttemptObserver): void {
    const first = this.attemptObserver;
    this.attemptObserver = first ? bothObservers(first, o) : o;
  }

  /** Marks the invocation finished; true the first time only, so a record is written once whatever path ends it. */
  finishOnce(): boolean {
    if (this.finished) return false;
    this.finished = true;
    return true;
  }
}

function bothObservers(a: AttemptObserver, b: AttemptObserver): AttemptObserver {
  return {
    attemptStarted(start: AttemptStart): AttemptWatch {
      const wa = a.attemptStarted(start);
      const wb = b.attemptStarted(start);
      const ua = wa.upstream;
      const ub = wb.upstream;
      return {
        upstream:
          ua && ub
            ? {
                headers: ua.headers || ub.headers ? { ...ua.headers, ...ub.headers } : undefined,
                sending(origin) {
                  ua.sending?.(origin);
                  ub.sending?.(origin);
                },
                responded(status) {
                  ua.responded?.(status);
                  ub.responded?.(status);
                },
              }
            : (ua ?? ub),
        ended(outcome) {
          wa.ended(outcome);
          wb.ended(outcome);
        },
      };
    },
  };
}
