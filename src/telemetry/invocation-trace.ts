/* An invocation's spans when tracing is on (filled in by the tracing work). */

export interface InvocationTrace {
  /** The trace id (32 hex digits), kept on the call log. */
  readonly traceId: string;
}
