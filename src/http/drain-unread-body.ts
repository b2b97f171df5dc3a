/* An answer sent before its request body was fully received (a 413, a 401 before reading): the rest is read and
 * dropped, within bounds, before the connection may close. */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

export interface DrainBounds {
  /** Bytes read and dropped after the answer before the connection is cut. @default 32 MiB */
  maxBytes: number;
  /** Time given to the rest of the body before the connection is cut, ms. @default 5000 */
  maxMs: number;
}

export const DEFAULT_DRAIN_BOUNDS: DrainBounds = { maxBytes: 32 * 1024 * 1024, maxMs: 5_000 };

const draining = new WeakSet<IncomingMessage>();

/**
 * Closing a socket the client is still writing to resets it: the client's next write fails (EPIPE, ECONNRESET)
 * and most clients (Node's fetch, the SDKs built on it) report that instead of the answer already sent. So the
 * connection stays open and the rest is read and dropped; when the body ends the connection is clean and can
 * carry the next request. A body that goes on past `maxBytes`, or longer than `maxMs`, has its connection cut.
 *
 * Call it before the answer is finished where possible: node drops the unread body of a finished answer (or of
 * a request stream a reader destroyed) without handing it to the stream, and then only the time bound applies.
 */
export function drainUnreadBody(req: IncomingMessage, socket: Socket, bounds: DrainBounds): void {
  if (req.complete || socket.destroyed || draining.has(req)) return;
  draining.add(req);
  let left = bounds.maxBytes;
  const cleanup = () => {
    clearTimeout(timer);
    req.off('data', onData);
    req.off('end', cleanup);
  };
  const cut = () => {
    cleanup();
    socket.destroy();
  };
  const onData = (chunk: Buffer) => {
    left -= chunk.length;
    if (left < 0) cut();
  };
  // by then the socket may carry the next request: only a body still not complete is cut
  const timer = setTimeout(() => !req.complete && cut(), bounds.maxMs);
  timer.unref();
  if (req.destroyed) return;
  req.on('data', onData);
  req.once('end', cleanup);
  // a reader that stopped at the limit may have paused the stream
  req.resume();
}
