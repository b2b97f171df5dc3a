/* Reading a request body whole, for the GraphQL fast path and the REST routes: one reader, one limit rule. */
import type { IncomingMessage } from 'node:http';

/** The client went away (or the stream failed) before the body was complete. */
export class BodyCutOffError extends Error {
  constructor() {
    super('The request body was cut off');
  }
}

/**
 * A small request's body has usually been parsed and buffered by the time its handler runs: it came in the
 * same packets as the headers, and node's HTTP parser pushes it into the request stream in the same pass.
 * Taking it synchronously skips four stream listeners per request. Null: still arriving.
 */
function takeBuffered(req: IncomingMessage, max: number): Buffer | undefined | null {
  if (!req.complete || req.readableFlowing !== null || req.readableEncoding) return null;
  if (req.readableLength > max) return undefined;
  return (req.read() as Buffer | null) ?? Buffer.alloc(0);
}

/**
 * The whole body (empty when there is none), or undefined when it is larger than `max`, chunked bodies
 * included. Past the limit the rest is read and dropped, so the caller's 413 still reaches a client that is busy
 * uploading (server.ts cuts the connection if the rest goes on too long: drainUnreadBody). Rejects with BodyCutOffError if the body never completes.
 */
export function readBody(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  const buffered = takeBuffered(req, max);
  if (buffered !== null) return Promise.resolve(buffered);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    const onData = (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > max) {
        over = true;
        chunks.length = 0;
        resolve(undefined);
        return;
      }
      chunks.push(c);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
    };
    const onFail = () => {
      cleanup();
      reject(new BodyCutOffError());
    };
    const onClose = () => {
      if (!req.complete) onFail();
    };
    const cleanup = () => {
      req.off('end', onEnd);
      req.off('error', onFail);
      req.off('close', onClose);
      // data keeps flowing (and is dropped) after the limit
      if (!over) req.off('data', onData);
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onFail);
    req.once('close', onClose);
  });
}
