/*
 * The caller's W3C trace context (https://www.w3.org/TR/trace-context/), checked strictly before anything of it is
 * used: an HTTP request's headers and a graphql-ws subscribe message's extensions both come through here. A value the
 * gateway passes on goes into an upstream request's headers, where a control character would make the HTTP client
 * refuse the whole request.
 */

/** Version 00: exactly version-traceid-parentid-flags. */
const TRACEPARENT_00 = /^00-[\da-f]{32}-[\da-f]{16}-[\da-f]{2}$/;
/** A later version is read as 00 reads it: the same four fields, then possibly `-` and more (visible ASCII). */
const TRACEPARENT_LATER = /^(?!ff|00)[\da-f]{2}-[\da-f]{32}-[\da-f]{16}-[\da-f]{2}(-[\x21-\x7e]*)?$/;
const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_PARENT_ID = '0'.repeat(16);
const MAX_TRACEPARENT = 256;

/** A list member's key (simple or tenant@system) and value (printable ASCII but `,` and `=`, not ending in a space). */
const MEMBER = /^(?:[a-z][\w\-*/]{0,255}|[a-z\d][\w\-*/]{0,240}@[a-z][\w\-*/]{0,13})=[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}$/;
const MAX_TRACESTATE = 512;
const MAX_MEMBERS = 32;

export function validTraceparent(value: string | undefined): value is string {
  if (!value || value.length > MAX_TRACEPARENT) return false;
  if (!TRACEPARENT_00.test(value) && !TRACEPARENT_LATER.test(value)) return false;
  return value.slice(3, 35) !== ZERO_TRACE_ID && value.slice(36, 52) !== ZERO_PARENT_ID;
}

export function validTracestate(value: string | undefined): value is string {
  if (!value || value.length > MAX_TRACESTATE) return false;
  let members = 0;
  for (const raw of value.split(',')) {
    // optional white space around members; an empty member is allowed and skipped
    const member = raw.replace(/^[ \t]+|[ \t]+$/g, '');
    if (!member) continue;
    if (++members > MAX_MEMBERS || !MEMBER.test(member)) return false;
  }
  return members > 0;
}

/**
 * The caller's traceparent (and tracestate, when it is valid too) when it sent a valid traceparent; undefined
 * otherwise. A tracestate without a valid traceparent means nothing and is dropped.
 */
export function callerTraceContext(traceparent: unknown, tracestate: unknown): { traceparent: string; tracestate?: string } | undefined {
  if (typeof traceparent !== 'string' || !validTraceparent(traceparent)) return undefined;
  return typeof tracestate === 'string' && validTracestate(tracestate) ? { traceparent, tracestate } : { traceparent };
}
