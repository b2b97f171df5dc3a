/*
 * The part every streamed REST answer shares (/v1/chat/completions, /v1/messages, /v1/responses): the gateway's
 * chunks to server-sent events, with the same rules on each surface. Nothing is sent before the first chunk, so a
 * failure before it (no target answered, limits) still gets its HTTP status; the core ends a failed stream with
 * an ERROR chunk then the error, so leading ERROR chunks are skipped to let that error through. Once started, the
 * stream is listed as a chatStream session (same rule as the GraphQL subscription: INVOKE, the model on the
 * allow-list): a key change that no longer allows it ends it. The client going away ends the gateway stream,
 * which aborts the upstream. Each surface gives only its own events (StreamSurface).
 */
import type { GatewayError } from '../../errors.js';
import type { ChatChunk } from '../../gateway/results.js';
import type { Principal } from '../../services/keys.js';
import type { RestContext } from './http.js';
import { SseWriter } from './sse.js';

/** One surface's events for one stream. */
export interface StreamSurface {
  /** The first events, once the headers went out. */
  start(): Promise<void>;
  /** A chunk of the answer (never an ERROR chunk). */
  chunk(c: ChatChunk): Promise<void>;
  /** The gateway stream ran out; `endedBy` is the key change that ended it, if one did. The stream ends after. */
  end(endedBy: GatewayError | undefined): Promise<void>;
  /** A failure after the headers went out: the surface's in-stream error event. The stream ends after. */
  error(err: unknown): Promise<void>;
}

export async function relayStream(
  ctx: RestContext,
  stream: AsyncIterable<ChatChunk>,
  opts: {
    headers: Record<string, string>;
    principal: Principal;
    /** The model the request named (what the session's allow-list check looks at). */
    model: string;
    /** The surface's events, made from the first chunk (its invocation id and model) before the headers go out. */
    open: (first: ChatChunk, sse: SseWriter) => StreamSurface;
    /** A failure before anything was sent, answered with its HTTP status in the surface's error shape. */
    sendError: (err: unknown) => void;
  },
): Promise<void> {
  const { res } = ctx;
  const it = stream[Symbol.asyncIterator]();
  const onClose = () => {
    if (!res.writableFinished) void it.return?.();
  };
  res.once('close', onClose);
  const sse = new SseWriter(res);
  let endedBy: GatewayError | undefined;
  let unlist: (() => void) | undefined;
  let surface: StreamSurface | undefined;
  try {
    let next = await it.next();
    while (!next.done && next.value.finishReason === 'ERROR') next = await it.next();
    if (next.done || res.destroyed) return;

    surface = opts.open(next.value, sse);
    sse.start(opts.headers);
    unlist = ctx.sessions?.add({
      principal: opts.principal,
      field: 'chatStream',
      args: { input: { model: opts.model } },
      end: (reason) => {
        endedBy = reason;
        void it.return?.();
      },
    });
    await surface.start();
    while (!next.done) {
      if (next.value.finishReason !== 'ERROR') await surface.chunk(next.value);
      if (sse.closed) return;
      next = await it.next();
    }
    await surface.end(endedBy);
    sse.end();
  } catch (err) {
    if (!res.headersSent) return opts.sendError(err);
    await surface?.error(err);
    sse.end();
  } finally {
    unlist?.();
    res.off('close', onClose);
  }
}
