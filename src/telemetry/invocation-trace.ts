/*
 * An invocation's spans when tracing is on: the invocation span (`chat gpt-x`, child of the request's SERVER span),
 * and its children: one per pipeline step hook that runs, one CLIENT span per upstream attempt (whose traceparent
 * the upstream gets), and the usage write, which ends when the usage record is durably written.
 * Only made when `services.tracing` is set: with tracing off, Invocation.trace stays undefined and none of this runs.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span } from '@opentelemetry/api';
import { isGatewayError } from '../errors.js';
import type { AttemptEnd, AttemptObserver, AttemptStart, AttemptWatch } from '../gateway/attempt.js';
import type { Invocation } from '../gateway/invocation.js';
import type { UsageEvent } from '../gateway/usage-writer.js';
import type { ChatResponse } from '../providers/types.js';
import {
  ERROR_TYPE,
  GEN_AI_OPERATION_NAME,
  GEN_AI_PROVIDER_BY_KIND,
  GEN_AI_PROVIDER_NAME,
  GEN_AI_REQUEST_MAX_TOKENS,
  GEN_AI_REQUEST_MODEL,
  GEN_AI_REQUEST_TEMPERATURE,
  GEN_AI_REQUEST_TOP_P,
  GEN_AI_RESPONSE_FINISH_REASONS,
  GEN_AI_RESPONSE_ID,
  GEN_AI_RESPONSE_MODEL,
  GEN_AI_USAGE_INPUT_TOKENS,
  GEN_AI_USAGE_OUTPUT_TOKENS,
  HTTP_RESPONSE_STATUS_CODE,
  SERVER_ADDRESS,
  SERVER_PORT,
  type GenAiOperation,
} from './genai.js';
import type { Tracing } from './tracing.js';

export interface InvocationTrace {
  /** The trace id (32 hex digits), kept on the call log. */
  readonly traceId: string;
  /** The invocation span, ended by record(). */
  readonly span: Span;
  /** A context holding the invocation span: the parent of its children. */
  readonly context: Context;
  readonly tracing: Tracing;
  /** gen_ai.provider.name of the last attempt's target: the one that answered, or the last that failed. */
  lastProvider?: string;
}

/** Span names carry the model name the caller sent: bounded, so a long made-up name cannot bloat every export. */
const MAX_NAME = 128;

/** The GenAI semconv's name for a provider kind. */
function genAiProvider(kind: string): string {
  return GEN_AI_PROVIDER_BY_KIND[kind as keyof typeof GEN_AI_PROVIDER_BY_KIND] ?? kind.toLowerCase();
}

/**
 * The invocation's provider: its last attempt's target; with no attempt (a cache hit), the target of the model that
 * is named as having answered.
 */
function providerOf(t: InvocationTrace, inv: Invocation, provider: string | null): string | undefined {
  if (t.lastProvider) return t.lastProvider;
  if (!provider || !inv.model) return undefined;
  const target = inv.model.targets.find((x) => x.provider.name === provider);
  return target && genAiProvider(target.provider.kind);
}

function operationOf(inv: Invocation): GenAiOperation {
  return inv.input.kind === 'embed' ? 'embeddings' : 'chat';
}

/** Starts the invocation span and watches its attempts; sets `inv.trace`. */
export function startInvocationTrace(tracing: Tracing, inv: Invocation): void {
  const op = operationOf(inv);
  const parent = inv.options.trace?.context ?? ROOT_CONTEXT;
  const model = inv.modelName.slice(0, MAX_NAME);
  const span = tracing.tracer.startSpan(
    `${op} ${model}`,
    {
      kind: SpanKind.INTERNAL,
      attributes: {
        [GEN_AI_OPERATION_NAME]: op,
        [GEN_AI_REQUEST_MODEL]: model,
        'gateway.invocation_id': inv.id,
        'gateway.api_key.id': inv.principal.key.id,
        'gateway.streamed': inv.input.kind === 'stream',
        ...(inv.options.requestId ? { 'gateway.request_id': inv.options.requestId } : {}),
      },
    },
    parent,
  );
  const t: InvocationTrace = { traceId: span.spanContext().traceId, span, context: trace.setSpan(parent, span), tracing };
  inv.trace = t;
  inv.watchAttempts(attemptSpans(t, op));
}

/** The invocation is recorded: its span gets the usage event's numbers and ends; the usage write span starts. */
export function endInvocationTrace(t: InvocationTrace, inv: Invocation, ev: UsageEvent): void {
  const { span } = t;
  const write = t.tracing.tracer.startSpan('gateway.usage.write', { kind: SpanKind.INTERNAL, attributes: { 'gateway.usage.id': ev.id } }, t.context);
  // the usage writer tells one of them: the record's batch is written, or the record will never be
  ev.onDurable = () => write.end();
  ev.onDropped = (reason) => {
    // spooled: left memory for the spool, written later by its replay, outside this trace; not an error
    if (reason === 'spooled') {
      write.setAttribute('gateway.usage.spooled', true);
      write.end();
      return;
    }
    write.setAttribute(ERROR_TYPE, reason);
    write.setStatus({ code: SpanStatusCode.ERROR });
    write.end();
  };

  const req = inv.request;
  if (req?.temperature !== undefined) span.setAttribute(GEN_AI_REQUEST_TEMPERATURE, req.temperature);
  if (req?.maxTokens !== undefined) span.setAttribute(GEN_AI_REQUEST_MAX_TOKENS, req.maxTokens);
  if (req?.topP !== undefined) span.setAttribute(GEN_AI_REQUEST_TOP_P, req.topP);
  if (ev.upstreamModel) span.setAttribute(GEN_AI_RESPONSE_MODEL, ev.upstreamModel);
  if (ev.provider) span.setAttribute('gateway.provider', ev.provider);
  const genAiName = providerOf(t, inv, ev.provider);
  if (genAiName) span.setAttribute(GEN_AI_PROVIDER_NAME, genAiName);
  const finish = (inv.answer?.response as Partial<ChatResponse> | undefined)?.finishReason;
  if (finish && ev.status === 'OK') span.setAttribute(GEN_AI_RESPONSE_FINISH_REASONS, [finish.toLowerCase()]);
  if (ev.status === 'OK') span.setAttribute(GEN_AI_RESPONSE_ID, inv.id);
  span.setAttributes({
    [GEN_AI_USAGE_INPUT_TOKENS]: ev.promptTokens,
    [GEN_AI_USAGE_OUTPUT_TOKENS]: ev.completionTokens,
    'gateway.status': ev.status,
    'gateway.attempts': ev.attempts,
    'gateway.cost_usd': ev.costUsd,
    'gateway.cache.result': ev.cacheHit ? ev.cacheHit.toLowerCase() : 'none',
  });
  if (ev.status !== 'OK') {
    span.setAttribute(ERROR_TYPE, ev.errorCode ?? ev.status);
    span.setStatus({ code: SpanStatusCode.ERROR });
  }
  span.end();
}

/**
 * Runs one step hook, under a `gateway.step {name}` span when it waited on something (returned a promise: a
 * database, Redis, the cache, a scan) or refused the call. A step that decided at once gets no span: most steps on
 * most calls do, and a span each would cost more than the step. A hook that answers at once stays synchronous, as
 * runBefore/runAfter expect.
 */
export function traceStep(t: InvocationTrace, name: string, phase: 'before' | 'after', run: () => void | Promise<void>): void | Promise<void> {
  // performance.now() is a start time the SDK reads as relative to the time origin
  const startTime = performance.now();
  const open = () => t.tracing.tracer.startSpan(`gateway.step ${name}`, { kind: SpanKind.INTERNAL, startTime, attributes: { 'gateway.step': name, 'gateway.step.phase': phase } }, t.context);
  let pending: void | Promise<void>;
  try {
    pending = run();
  } catch (err) {
    endStep(open(), err);
    throw err;
  }
  if (!pending) return;
  const span = open();
  return pending.then(
    () => endStep(span),
    (err: unknown) => {
      endStep(span, err);
      throw err;
    },
  );
}

function endStep(span: Span, err?: unknown): void {
  if (err !== undefined) {
    span.setAttribute(ERROR_TYPE, isGatewayError(err) ? err.code : err instanceof Error ? err.name : 'Error');
    span.setStatus({ code: SpanStatusCode.ERROR });
  }
  span.end();
}

/** A CLIENT span per upstream attempt; the upstream is told (traceparent) that this span is its parent. */
function attemptSpans(t: InvocationTrace, op: GenAiOperation): AttemptObserver {
  return {
    attemptStarted(a: AttemptStart): AttemptWatch {
      const { provider, upstreamModel } = a.target;
      t.lastProvider = genAiProvider(provider.kind);
      const span = t.tracing.tracer.startSpan(
        `${op} ${upstreamModel.slice(0, MAX_NAME)}`,
        {
          kind: SpanKind.CLIENT,
          attributes: {
            [GEN_AI_OPERATION_NAME]: op,
            [GEN_AI_PROVIDER_NAME]: t.lastProvider,
            [GEN_AI_REQUEST_MODEL]: upstreamModel,
            'gateway.provider': provider.name,
            'gateway.model': a.model.row.name,
            'gateway.attempt': a.attempt,
            'gateway.retry_wait_ms': a.waitedMs,
          },
        },
        t.context,
      );
      return {
        upstream: {
          headers: t.tracing.headersFor(span),
          // the origin the adapter really calls: its default, a configured base URL, or one built from settings
          sending: (origin) => span.setAttributes(serverOf(origin)),
          responded: (status) => span.setAttribute(HTTP_RESPONSE_STATUS_CODE, status),
        },
        ended: (outcome) => endAttempt(span, outcome),
      };
    },
  };
}

function endAttempt(span: Span, { error, cancelled, timeout, failed }: AttemptEnd): void {
  if (cancelled) span.setAttribute('gateway.cancelled', true);
  else if (error) {
    if (error.status !== undefined) span.setAttribute(HTTP_RESPONSE_STATUS_CODE, error.status);
    // the status, not the message: an upstream's error text may echo what the caller sent
    span.setAttribute(ERROR_TYPE, error.timeout || timeout ? 'timeout' : error.status !== undefined ? String(error.status) : error.name);
    span.setStatus({ code: SpanStatusCode.ERROR });
  } else if (timeout || failed) {
    // a stream that stalled or closed without a finish reason: no UpstreamError says more
    span.setAttribute(ERROR_TYPE, timeout ? 'timeout' : '_OTHER');
    span.setStatus({ code: SpanStatusCode.ERROR });
  }
  span.end();
}

/** server.address / server.port of an origin. */
function serverOf(origin: string): Record<string, string | number> {
  try {
    const u = new URL(origin);
    const port = u.port ? Number(u.port) : u.protocol === 'http:' ? 80 : 443;
    return { [SERVER_ADDRESS]: u.hostname, [SERVER_PORT]: port };
  } catch {
    return {};
  }
}
