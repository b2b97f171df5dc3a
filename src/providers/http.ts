/* Shared upstream HTTP: one keep-alive undici pool, JSON calls, SSE event iteration, error mapping. */
import type { Agent, Dispatcher } from 'undici';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { UpstreamError, type UpstreamObserver } from './types.js';
import { LRUCache } from 'lru-cache';
import type { CancelSignal } from '../util/cancellation.js';
import { lazyRequire } from '../util/lazy-require.js';

/** Loaded with the first upstream call: nothing before it needs undici. */
const undici = lazyRequire<typeof import('undici')>('undici');

let agent: Agent | undefined;

/** The process-wide keep-alive pool; created lazily so tests that never call upstream open nothing. */
function upstreamAgent(): Agent {
  agent ??= new (undici().Agent)({
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 600_000,
    // no per-origin cap: thousands of concurrent streams to one provider must not queue behind each other
    connections: null,
    pipelining: 1,
    connect: { timeout: 10_000 },
  });
  return agent;
}

export async function closeUpstreamAgent(): Promise<void> {
  const a = agent;
  agent = undefined;
  if (a) await a.close().catch(() => a.destroy());
}

export interface UpstreamCall {
  provider: string;
  url: string;
  method?: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: unknown;
  /** The body already serialized, sent byte for byte (a signed request signs these exact bytes); wins over `body`. */
  rawBody?: string;
  /**
   * The provider's own reading of an error answer (Bedrock names the error in the `x-amzn-errortype` header):
   * its message and whether a retry can help; undefined or absent → the generic reading by status.
   */
  describeError?: (status: number, text: string, headers: Record<string, string | string[] | undefined>) => { message: string; retryable: boolean } | undefined;
  signal: CancelSignal;
  timeoutMs: number;
  /** The attempt's watcher (call log timeline, trace span): headers it adds, and told when the response headers arrive. */
  observe?: UpstreamObserver;
}

/** Retry-After in ms from seconds or an HTTP date (also Anthropic/OpenAI `retry-after-ms`). */
function parseRetryAfter(headers: Record<string, string | string[] | undefined>): number | undefined {
  const ms = headers['retry-after-ms'];
  if (typeof ms === 'string' && ms.trim() !== '' && Number.isFinite(Number(ms))) return Math.max(0, Number(ms));
  const ra = headers['retry-after'];
  if (typeof ra !== 'string' || ra.trim() === '') return undefined;
  const secs = Number(ra);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const at = Date.parse(ra);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

/**
 * Google's retry delay from an error body: `error.details[]` holds a `google.rpc.RetryInfo` whose `retryDelay`
 * is a protobuf Duration in JSON ("34s", "1.5s"). Gemini's 429 carries it there and sends no retry-after header.
 * @see https://ai.google.dev/gemini-api/docs/rate-limits
 * @see https://cloud.google.com/apis/design/errors#retry_info
 */
function retryDelayFromBody(text: string): number | undefined {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return undefined;
  }
  const b = Array.isArray(body) ? body[0] : body;
  const details = (b as { error?: { details?: unknown } } | undefined)?.error?.details;
  if (!Array.isArray(details)) return undefined;
  for (const d of details) {
    const delay = (d as { retryDelay?: unknown } | null)?.retryDelay;
    const m = typeof delay === 'string' ? /^\s*(\d+(?:\.\d+)?)s\s*$/.exec(delay) : null;
    if (m) return Math.round(Number(m[1]) * 1000);
  }
  return undefined;
}

const RETRYABLE_STATUS = new Set([408, 409, 429, 500, 502, 503, 504, 529]);

export function isRetryableStatus(status: number): boolean {
  return RETRYABLE_STATUS.has(status);
}

/** Extracts the provider's own message from an error body (OpenAI, Anthropic and Gemini all nest it under `error`). */
function errorMessageFromBody(text: string): string | undefined {
  try {
    const body = JSON.parse(text) as unknown;
    const b = Array.isArray(body) ? body[0] : body;
    if (b && typeof b === 'object') {
      const err = (b as Record<string, unknown>).error;
      if (typeof err === 'string') return err;
      if (err && typeof err === 'object' && typeof (err as Record<string, unknown>).message === 'string') {
        return (err as Record<string, string>).message;
      }
      if (typeof (b as Record<string, unknown>).message === 'string') return (b as Record<string, string>).message;
      if (typeof (b as Record<string, unknown>).detail === 'string') return (b as Record<string, string>).detail;
    }
  } catch {
    /* not JSON: fall through to the raw text */
  }
  const trimmed = text.trim();
  return trimmed ? trimmed.slice(0, 500) : undefined;
}

/** Maps a thrown fetch/undici error (network, timeout, abort) to an UpstreamError. */
function toUpstreamError(provider: string, e: unknown, signal?: CancelSignal): UpstreamError {
  if (e instanceof UpstreamError) return e;
  const undiciErrors = undici().errors;
  if (
    e instanceof undiciErrors.HeadersTimeoutError ||
    e instanceof undiciErrors.BodyTimeoutError ||
    e instanceof undiciErrors.ConnectTimeoutError ||
    (signal?.aborted && isTimeoutReason(signal.reason))
  ) {
    return new UpstreamError({ provider, message: `${provider}: upstream timed out`, retryable: true, timeout: true, cause: e });
  }
  if (signal?.aborted) {
    return new UpstreamError({ provider, message: `${provider}: request aborted`, retryable: false, cause: e });
  }
  // undici refused to send the request as built (a header value, say): no target would take it, and this one is not
  // at fault, so it is neither retried nor counted against the target
  if (e instanceof undiciErrors.InvalidArgumentError) {
    return new UpstreamError({ provider, message: `${provider}: the gateway could not build the request (${e.message})`, retryable: false, cause: e });
  }
  const msg = e instanceof Error ? (e.cause instanceof Error ? `${e.message}: ${e.cause.message}` : e.message) : String(e);
  return new UpstreamError({ provider, message: `${provider}: ${msg}`, retryable: true, cause: e });
}

function isTimeoutReason(reason: unknown): boolean {
  return reason instanceof Error && (reason.name === 'TimeoutError' || (reason as { timeout?: boolean }).timeout === true);
}

/** Origin and path of each upstream URL, parsed once: a gateway calls a handful of endpoints over and over. */
const targets = new LRUCache<string, { origin: string; path: string }>({
  max: 1000,
  memoMethod: (url) => {
    const u = new URL(url); // a malformed base URL throws here, inside the callers' error mapping (nothing is cached)
    return { origin: u.origin, path: `${u.pathname}${u.search}` };
  },
});

/**
 * The dispatch options of a call: URL split once per URL, body serialized, content type added. The caller's
 * headers object is never changed: adapters may hand the same one to every call. A malformed base URL throws.
 */
function requestOptions(call: UpstreamCall, signal?: CancelSignal) {
  let headers = call.headers;
  if (call.observe?.headers) headers = { ...headers, ...call.observe.headers };
  let body: string | undefined;
  if (call.rawBody !== undefined || call.body !== undefined) {
    body = call.rawBody ?? JSON.stringify(call.body);
    // the added key goes first: a spread followed by a new key builds a new hidden class per call (see withModel)
    if (!headers['content-type']) headers = { 'content-type': 'application/json', ...headers };
  }
  // the agent's own request()/dispatch(): undici's top-level request() parses the URL again on every call
  const { origin, path } = targets.memo(call.url);
  call.observe?.sending?.(origin);
  return {
    origin,
    path,
    method: call.method ?? (body === undefined ? 'GET' : 'POST'),
    headers,
    body,
    headersTimeout: call.timeoutMs,
    bodyTimeout: call.timeoutMs,
    signal,
  } as const;
}

/** The UpstreamError for a non-2xx answer, with the provider's own message and its retry hint. */
function statusError(call: UpstreamCall, status: number, text: string, headers: () => Record<string, string | string[] | undefined>): UpstreamError {
  const own = call.describeError?.(status, text, headers());
  const message = own?.message ?? errorMessageFromBody(text) ?? `HTTP ${status}`;
  return new UpstreamError({
    provider: call.provider,
    status,
    message: `${call.provider} returned ${status}: ${message}`,
    retryable: own?.retryable ?? isRetryableStatus(status),
    retryAfterMs: parseRetryAfter(headers()) ?? retryDelayFromBody(text),
  });
}

async function send(call: UpstreamCall): Promise<Dispatcher.ResponseData> {
  try {
    const res = await upstreamAgent().request(requestOptions(call, call.signal));
    call.observe?.responded?.(res.statusCode);
    return res;
  } catch (e) {
    throw toUpstreamError(call.provider, e, call.signal);
  }
}

async function throwForStatus(call: UpstreamCall, res: Dispatcher.ResponseData): Promise<void> {
  if (res.statusCode < 400) return;
  let text = '';
  try {
    text = await res.body.text();
  } catch {
    /* the body is informative only */
  }
  throw statusError(call, res.statusCode, text, () => res.headers);
}

/** What a unary call brings back: the status, the raw header list (parsed only on errors) and the whole body. */
interface TextResponse {
  statusCode: number;
  rawHeaders: Buffer[];
  text: string;
}

function headersOf(raw: Buffer[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) out[raw[i].toString('latin1').toLowerCase()] = raw[i + 1].toString('latin1');
  return out;
}

/**
 * One request, the whole body as text, straight on undici's dispatcher. `request()` would wrap every call in
 * an AsyncResource, a Readable body stream and a consumer for `.text()`: for a reply of a few hundred bytes
 * that machinery cost more CPU than the rest of the upstream call.
 */
function sendForText(call: UpstreamCall): Promise<TextResponse> {
  const { signal } = call;
  return new Promise<TextResponse>((resolve, reject) => {
    let abortUpstream: ((reason?: Error) => void) | undefined;
    let statusCode = 0;
    let rawHeaders: Buffer[] = [];
    const chunks: Buffer[] = [];
    let settled = false;
    const onAbort = () => abortUpstream?.(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    const done = (err: unknown, res?: TextResponse) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      if (err) reject(toUpstreamError(call.provider, err, signal));
      else resolve(res!);
    };
    if (signal.aborted) return done(signal.reason ?? new Error('aborted'));
    signal.addEventListener('abort', onAbort);
    try {
      upstreamAgent().dispatch(requestOptions(call), {
        onConnect(abort: (reason?: Error) => void) {
          abortUpstream = abort;
          if (signal.aborted) onAbort();
        },
        onHeaders(status: number, raw: Buffer[]) {
          // 1xx informational answers come first and are not the response
          if (status < 200) return true;
          statusCode = status;
          rawHeaders = raw;
          call.observe?.responded?.(status);
          return true;
        },
        onData(chunk: Buffer) {
          chunks.push(chunk);
          return true;
        },
        onComplete() {
          let text = chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks).toString('utf8');
          // a UTF-8 byte-order mark is not JSON (fetch's .text() drops it too)
          if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
          done(undefined, { statusCode, rawHeaders, text });
        },
        onError(err: Error) {
          done(err);
        },
      } as unknown as Dispatcher.DispatchHandler);
    } catch (e) {
      // a malformed base URL throws in requestOptions()
      done(e);
    }
  });
}

/** A JSON request/response call; non-2xx and malformed bodies become UpstreamErrors. */
export async function callJson<T>(call: UpstreamCall): Promise<T> {
  const res = await sendForText(call);
  if (res.statusCode >= 400) throw statusError(call, res.statusCode, res.text, () => headersOf(res.rawHeaders));
  try {
    return JSON.parse(res.text) as T;
  } catch {
    throw new UpstreamError({
      provider: call.provider,
      status: res.statusCode,
      message: `${call.provider} returned a malformed body (not JSON)`,
      retryable: true,
    });
  }
}

/**
 * Opens a streaming call and yields the raw body bytes as they arrive, for binary stream formats (Bedrock's
 * application/vnd.amazon.eventstream) and as the transport of callSse. Non-2xx answers, read errors, timeouts and
 * abort become UpstreamErrors; a consumer that stops early has the socket destroyed, not left half-read.
 */
export async function* callBytes(call: UpstreamCall): AsyncGenerator<Uint8Array> {
  const res = await send(call);
  await throwForStatus(call, res);
  try {
    for await (const buf of res.body) yield buf as Buffer;
  } catch (e) {
    throw toUpstreamError(call.provider, e, call.signal);
  } finally {
    if (!res.body.destroyed) res.body.destroy();
  }
}

/**
 * Opens a streaming call and yields each SSE event as it arrives. The caller parses `data` as it needs.
 * Built on callBytes (errors, timeouts, abort and early stops behave the same); aborting `call.signal` rejects the
 * pending read, so the generator ends at once.
 */
export async function* callSse(call: UpstreamCall): AsyncGenerator<EventSourceMessage> {
  const queue: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (ev) => queue.push(ev) });
  const decoder = new TextDecoder();
  // leaving this loop early (the consumer stopped) returns callBytes, whose finally destroys the socket
  for await (const buf of callBytes(call)) {
    parser.feed(decoder.decode(buf, { stream: true }));
    while (queue.length) yield queue.shift()!;
  }
  parser.feed(decoder.decode());
  parser.feed('\n\n');
  while (queue.length) yield queue.shift()!;
}

/** Parses one SSE `data:` payload; a malformed one is a retryable upstream error. */
export function parseEventData<T>(provider: string, data: string): T {
  try {
    return JSON.parse(data) as T;
  } catch {
    throw new UpstreamError({ provider, message: `${provider} sent a malformed stream event`, retryable: true });
  }
}
