/* GraphQL over SSE for tests: raw fetch with Accept: text/event-stream ("distinct connections" mode, as Yoga serves it). */
import type { AnyJson } from './json.js';

export interface SseEvent {
  event: string;
  data: string;
}

export interface ExecResult<T = AnyJson> {
  data?: T | null;
  errors?: Array<{ message: string; path?: string[]; extensions?: Record<string, AnyJson> }>;
  extensions?: Record<string, AnyJson>;
}

export interface SseSubscription<T = AnyJson> {
  /** HTTP status of the response (resolves once headers arrived). */
  status: Promise<number>;
  /** `next` payloads as they arrive; ends on `complete`, on abort, or when the server closes the stream. */
  results: AsyncIterable<ExecResult<T>>;
  /** Every raw event seen so far (next, complete, and any other). */
  events: SseEvent[];
  /** Closes the connection (the client goes away). */
  abort(): void;
}

/** Splits a text/event-stream body into events; comment lines (keep-alive pings) are skipped. */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true }).replace(/\r\n/g, '\n');
      let at: number;
      while ((at = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, at);
        buf = buf.slice(at + 2);
        let event = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (!line || line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'event') event = value;
          else if (field === 'data') data.push(value);
        }
        if (data.length || event !== 'message') yield { event, data: data.join('\n') };
      }
    }
  } finally {
    reader.releaseLock();
  }
}

/** Starts a subscription (or any operation) over SSE. */
export function sseSubscribe<T = AnyJson>(
  baseUrl: string,
  query: string,
  variables?: Record<string, unknown>,
  key?: string | null,
): SseSubscription<T> {
  const ac = new AbortController();
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'text/event-stream' };
  if (key) headers.authorization = `Bearer ${key}`;
  const response = fetch(`${baseUrl}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query, variables }), signal: ac.signal });
  const events: SseEvent[] = [];
  async function* results(): AsyncGenerator<ExecResult<T>> {
    let res: Response;
    try {
      res = await response;
    } catch (e) {
      if (ac.signal.aborted) return;
      throw e;
    }
    if (!res.body) return;
    const ct = res.headers.get('content-type') ?? '';
    if (!ct.includes('text/event-stream')) {
      // a plain JSON error answer (e.g. a request error before the stream started)
      yield JSON.parse(await res.text()) as ExecResult<T>;
      return;
    }
    try {
      for await (const e of readSse(res.body)) {
        events.push(e);
        if (e.event === 'complete') return;
        if (e.event === 'next') yield JSON.parse(e.data) as ExecResult<T>;
      }
    } catch (e) {
      if (ac.signal.aborted) return;
      throw e;
    } finally {
      ac.abort();
    }
  }
  return {
    status: response.then((r) => r.status),
    results: results(),
    events,
    abort: () => ac.abort(),
  };
}

/** Runs an operation over SSE to the end and returns every `next` payload. */
export async function sseCollect<T = AnyJson>(
  baseUrl: string,
  query: string,
  variables?: Record<string, unknown>,
  key?: string | null,
  timeoutMs = 10_000,
): Promise<ExecResult<T>[]> {
  const sub = sseSubscribe<T>(baseUrl, query, variables, key);
  const timer = setTimeout(() => sub.abort(), timeoutMs);
  const out: ExecResult<T>[] = [];
  try {
    for await (const r of sub.results) out.push(r);
  } finally {
    clearTimeout(timer);
  }
  if (!sub.events.some((e) => e.event === 'complete') && !out.some((r) => r.errors)) {
    throw new Error(`SSE stream did not complete within ${timeoutMs} ms (${out.length} results)`);
  }
  return out;
}
