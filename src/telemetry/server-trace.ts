/*
 * What an entry point (an HTTP request on /graphql or /v1/*, a graphql-ws operation) knows of the caller's trace:
 * with tracing on, its SERVER span, parent of the invocations it starts; with tracing off, only the caller's own
 * traceparent, passed upstream as it came.
 */
import { getOperationAST, type DocumentNode } from 'graphql';
import { SpanKind, SpanStatusCode, trace, type Context, type Span } from '@opentelemetry/api';
import {
  ERROR_TYPE,
  GRAPHQL_OPERATION_NAME,
  GRAPHQL_OPERATION_TYPE,
  HTTP_REQUEST_METHOD,
  HTTP_RESPONSE_STATUS_CODE,
  HTTP_ROUTE,
} from './genai.js';
import type { RequestTrace } from './request-trace.js';
import { callerTraceContext } from './trace-context.js';
import type { HeaderCarrier, Tracing } from './tracing.js';

export interface ServerTrace {
  /** Handed to the invocations (InvocationOptions.trace). */
  readonly trace: RequestTrace;
  /** A GraphQL request: the SERVER span is named after its operation (`mutation Chat`). */
  operation(type: string, name: string | undefined): void;
  /** The request was answered (`status`: the HTTP status; absent on graphql-ws), or `failed` with an error type. */
  end(status?: number, failed?: string): void;
}

function header(headers: HeaderCarrier, name: string): string | undefined {
  const v = headers[name];
  return typeof v === 'string' ? v : undefined;
}

/** Tracing off: nothing to name or end, the caller's headers to pass on. */
class PassThrough implements ServerTrace {
  constructor(readonly trace: RequestTrace) {}
  operation(): void {}
  end(): void {}
}

class SpanTrace implements ServerTrace {
  readonly trace: RequestTrace;
  private ended = false;
  constructor(
    private readonly span: Span,
    parent: Context,
  ) {
    this.trace = { context: trace.setSpan(parent, span) };
  }
  operation(type: string, name: string | undefined): void {
    this.span.updateName(name ? `${type} ${name}` : type);
    this.span.setAttribute(GRAPHQL_OPERATION_TYPE, type);
    if (name) this.span.setAttribute(GRAPHQL_OPERATION_NAME, name);
  }
  end(status?: number, failed?: string): void {
    if (this.ended) return;
    this.ended = true;
    if (status !== undefined) this.span.setAttribute(HTTP_RESPONSE_STATUS_CODE, status);
    // a SERVER span is an error when the server failed (5xx), not when it refused the caller (4xx)
    const error = failed ?? (status !== undefined && status >= 500 ? String(status) : undefined);
    if (error) {
      this.span.setAttribute(ERROR_TYPE, error);
      this.span.setStatus({ code: SpanStatusCode.ERROR });
    }
    this.span.end();
  }
}

/**
 * An HTTP request's trace: its SERVER span (child of the caller's `traceparent`) when tracing is on, the caller's
 * headers to pass on when it is off, undefined when off and the caller sent none (nothing allocated).
 */
export function traceHttpRequest(tracing: Tracing | undefined, headers: HeaderCarrier, method: string, route: string): ServerTrace | undefined {
  const caller = callerTraceContext(header(headers, 'traceparent'), header(headers, 'tracestate'));
  if (!tracing) return caller ? new PassThrough({ incoming: caller }) : undefined;
  const parent = tracing.extract(caller ?? {});
  const span = tracing.tracer.startSpan(`${method} ${route}`, { kind: SpanKind.SERVER, attributes: { [HTTP_REQUEST_METHOD]: method, [HTTP_ROUTE]: route } }, parent);
  return new SpanTrace(span, parent);
}

/**
 * A graphql-ws operation's trace: `traceparent` from the subscribe message's extensions, else the upgrade
 * request's headers. Named after the operation from the start (it is known by then); with tracing off the document
 * is not looked at.
 */
export function traceWsOperation(
  tracing: Tracing | undefined,
  extensions: Readonly<Record<string, unknown>> | null | undefined,
  upgradeHeaders: HeaderCarrier | undefined,
  document: DocumentNode,
  operationName: string | null | undefined,
): ServerTrace | undefined {
  // the message's traceparent, when it has one, wins even when it is invalid: it is what this operation was sent with
  const caller =
    extensions?.traceparent !== undefined
      ? callerTraceContext(extensions.traceparent, extensions.tracestate)
      : upgradeHeaders && callerTraceContext(header(upgradeHeaders, 'traceparent'), header(upgradeHeaders, 'tracestate'));
  if (!tracing) return caller ? new PassThrough({ incoming: caller }) : undefined;
  const op = getOperationAST(document, operationName);
  if (!op) return undefined;
  const parent = tracing.extract(caller ?? {});
  const span = tracing.tracer.startSpan(op.operation, { kind: SpanKind.SERVER }, parent);
  const out = new SpanTrace(span, parent);
  out.operation(op.operation, op.name?.value);
  return out;
}
