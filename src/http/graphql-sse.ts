/*
 * A GraphQL result as GraphQL over SSE (distinct connections mode), written straight to node's response: the bytes
 * Yoga's SSE result processor writes (a `:` comment first, `event: next` per result, `event: complete` at the end,
 * a `:` comment every 12 s while idle), for the fast path. Through Yoga each event passed a Fetch-API ReadableStream
 * (a controller, two encoded strings and a concatenation per event) and node's stream machinery on its way to the
 * socket: more CPU per event than graphql-ws spends, and with streams in flight a first token waited behind that
 * work (figures in bench/README.md).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ExecutionResult } from 'graphql';
import { isAsyncIterable } from 'graphql-yoga';

/** Yoga's SSE headers (its result processor's), besides those the result's errors ask for (a retry-after). */
const SSE_HEADERS = { 'Content-Type': 'text/event-stream', Connection: 'keep-alive', 'Cache-Control': 'no-cache', 'Content-Encoding': 'none' };
const PING = ':\n\n';
const COMPLETE = 'event: complete\ndata:\n\n';
/** Yoga's keep-alive comment interval: proxies close a connection that carried nothing for a while. */
const PING_INTERVAL_MS = 12_000;

export interface SseAnswer {
  status: number;
  headers: Record<string, string>;
}

/** Whether the request asks for GraphQL over SSE first (Yoga picks the first listed type it can answer with). */
export function wantsEventStream(accept: string | undefined): boolean {
  if (!accept?.startsWith('text/event-stream')) return false;
  const rest = accept.charCodeAt('text/event-stream'.length);
  // end of header, `,` or `;` or a space: not some longer type name
  return Number.isNaN(rest) || rest === 44 || rest === 59 || rest === 32;
}

/**
 * Writes `result` (one result, or a subscription's stream of them) until it ends or the client goes away, which
 * ends the stream. `toJson` turns a result into its `data:` line; `init` is the status and headers for the answer.
 */
export async function writeSse(
  req: IncomingMessage,
  res: ServerResponse,
  result: ExecutionResult | AsyncIterable<ExecutionResult>,
  init: SseAnswer,
  toJson: (r: ExecutionResult) => string,
): Promise<void> {
  // as Yoga's node adapter does for a streamed body: no idle timeout, no Nagle delay on small events
  req.socket.setTimeout(0);
  req.socket.setNoDelay(true);
  req.socket.setKeepAlive(true);
  res.writeHead(init.status, { ...SSE_HEADERS, ...init.headers });
  // the headers and a first comment go out at once: some clients wait for a first byte before they report the answer
  res.write(PING);
  if (!isAsyncIterable(result)) {
    res.write(`event: next\ndata: ${toJson(result)}\n\n`);
    res.end(COMPLETE);
    return;
  }
  const it = result[Symbol.asyncIterator]();
  let closed = false;
  const ping = setInterval(() => {
    if (!res.writableNeedDrain) res.write(PING);
  }, PING_INTERVAL_MS);
  const onClose = () => {
    closed = true;
    clearInterval(ping);
    void Promise.resolve(it.return?.()).catch(() => {});
  };
  res.once('close', onClose);
  try {
    for (;;) {
      const r = await it.next();
      if (closed) return;
      if (r.value != null) res.write(`event: next\ndata: ${toJson(r.value)}\n\n`);
      if (r.done) {
        res.off('close', onClose);
        res.end(COMPLETE);
        return;
      }
      // a slow client holds the stream (and so the upstream read) instead of buffering its events here
      if (res.writableNeedDrain) await drainedOrClosed(res);
    }
  } finally {
    // a stream that failed (a source error is a last `next` event, see useStreamErrors) reaches the caller, which
    // logs it and ends the answer without `complete`
    clearInterval(ping);
  }
}

/** Resolves when the response can take more, or is gone; removes both listeners either way (a long stream to a slow
 * client waits here many times). */
function drainedOrClosed(res: ServerResponse): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      res.off('drain', done).off('close', done);
      resolve();
    };
    res.on('drain', done).on('close', done);
  });
}
