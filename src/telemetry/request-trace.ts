/* What an entry point knows of the caller's trace, handed to the invocations it starts. */
import type { Context } from '@opentelemetry/api';

export interface RequestTrace {
  /** The request's span context (its SERVER span) when tracing is on: invocation spans are its children. */
  readonly context?: Context;
  /** The caller's own W3C traceparent / tracestate, passed upstream as they came when tracing is off. */
  readonly incoming?: Readonly<Record<string, string>>;
}
