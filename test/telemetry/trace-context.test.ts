/**
 * Issue 26 review 4: the caller's traceparent / tracestate are checked strictly (W3C trace-context) before they are
 * used or passed on, the same way for HTTP headers and graphql-ws extensions; a header value undici refuses is the
 * gateway's fault, not the target's: not retried.
 */
import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { callJson } from '../../src/providers/http.js';
import { UpstreamError } from '../../src/providers/types.js';
import { traceHttpRequest, traceWsOperation } from '../../src/telemetry/server-trace.js';
import { callerTraceContext, validTraceparent, validTracestate } from '../../src/telemetry/trace-context.js';
import { NEVER } from '../../src/util/cancellation.js';

const TRACE = '0af7651916cd43dd8448eb211c80319c';
const PARENT = 'b7ad6b7169203331';
const GOOD = `00-${TRACE}-${PARENT}-01`;

describe('traceparent', () => {
  it('accepts version 00 in its exact form, and a later version read as 00', () => {
    expect(validTraceparent(GOOD)).toBe(true);
    expect(validTraceparent(`01-${TRACE}-${PARENT}-01`)).toBe(true);
    expect(validTraceparent(`01-${TRACE}-${PARENT}-01-more`)).toBe(true);
  });

  it.each([
    ['trailing data on version 00', `${GOOD}-x`],
    ['a control character after it', `${GOOD}-\u0001`],
    ['a later version with a control character', `01-${TRACE}-${PARENT}-01-\u0001`],
    ['version ff', `ff-${TRACE}-${PARENT}-01`],
    ['an all-zero trace id', `00-${'0'.repeat(32)}-${PARENT}-01`],
    ['an all-zero parent id', `00-${TRACE}-${'0'.repeat(16)}-01`],
    ['upper-case hex', GOOD.toUpperCase()],
    ['surrounding space', ` ${GOOD}`],
    ['a short trace id', `00-${TRACE.slice(1)}-${PARENT}-01`],
  ])('refuses %s', (_what, value) => {
    expect(validTraceparent(value)).toBe(false);
  });
});

describe('tracestate', () => {
  it('accepts list members, tenant@system keys, optional white space and empty members', () => {
    expect(validTracestate('vendor=opaque-value,other=1')).toBe(true);
    expect(validTracestate('t1@sys=a b ,\tk/v*_-=x, ,z=')).toBe(true);
  });

  it.each([
    ['a control character', 'vendor=a\u0001'],
    ['a non-ASCII character', 'vendor=é'],
    ['a member without =', 'vendor'],
    ['an upper-case key', 'Vendor=1'],
    ['an = in the value', 'vendor=a=b'],
    ['more than 512 characters', `k=${'x'.repeat(255)},l=${'x'.repeat(255)}`],
    ['more than 32 members', Array.from({ length: 33 }, (_, i) => `k${i}=1`).join(',')],
  ])('refuses %s', (_what, value) => {
    expect(validTracestate(value)).toBe(false);
  });

  it('an invalid tracestate is dropped, the valid traceparent kept; without a valid traceparent nothing is kept', () => {
    expect(callerTraceContext(GOOD, 'v=\u0001')).toEqual({ traceparent: GOOD });
    expect(callerTraceContext(GOOD, 'v=1')).toEqual({ traceparent: GOOD, tracestate: 'v=1' });
    expect(callerTraceContext(`${GOOD}-\u0001`, 'v=1')).toBeUndefined();
    expect(callerTraceContext(42, 'v=1')).toBeUndefined();
  });
});

describe('one rule for HTTP headers and graphql-ws extensions (tracing off: what is passed on)', () => {
  const doc = parse('mutation M { __typename }');
  it.each([
    ['valid', { traceparent: GOOD, tracestate: 'v=1' }, { traceparent: GOOD, tracestate: 'v=1' }],
    ['a control character in traceparent', { traceparent: `${GOOD}-\u0001` }, undefined],
    ['a control character in tracestate', { traceparent: GOOD, tracestate: 'v=\u0001' }, { traceparent: GOOD }],
  ])('%s', (_what, sent, passed) => {
    expect(traceHttpRequest(undefined, sent, 'POST', '/graphql')?.trace.incoming).toEqual(passed);
    expect(traceWsOperation(undefined, sent, undefined, doc, 'M')?.trace.incoming).toEqual(passed);
    expect(traceWsOperation(undefined, undefined, sent, doc, 'M')?.trace.incoming).toEqual(passed);
  });
});

describe('a request undici refuses to send', () => {
  it('is a non-retryable UpstreamError (not the target’s failure)', async () => {
    const err = await callJson({ provider: 'p', url: 'http://127.0.0.1:9/v1/x', headers: { 'x-bad': 'a\u0001b' }, body: {}, signal: NEVER, timeoutMs: 1000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).retryable).toBe(false);
    expect((err as UpstreamError).timeout).toBe(false);
  });
});
