/* Plumbing shared by the REST routes: reading and validating bodies, auth, JSON answers, OpenAI-style errors. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import type { Services } from '../../context.js';
import { badInput, isGatewayError, toRestError, unauthenticated } from '../../errors.js';
import type { Principal } from '../../services/keys.js';
import { authenticate } from '../auth.js';
import { takeBufferedBody } from '../buffered-body.js';
import type { CancelSignal } from '../../util/cancellation.js';

/** A failure that is about HTTP itself (body too large, wrong method), not a gateway error code. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** What one REST request carries through its handler. */
export interface RestContext {
  req: IncomingMessage;
  res: ServerResponse;
  requestId: string;
  services: Services;
  /** Aborts when the client goes away before the answer is complete. */
  signal: CancelSignal;
  maxBodyBytes: number;
}

export async function requirePrincipal(ctx: RestContext): Promise<Principal> {
  const principal = await authenticate(ctx.services.keys, ctx.req.headers.authorization);
  if (!principal) throw unauthenticated();
  return principal;
}

/**
 * Reads the body as JSON; chunked bodies are held to the same limit as announced ones. Past the limit
 * the rest is read and dropped (the 413 goes out with `connection: close`), so the answer still reaches
 * a client that is busy uploading.
 */
export function readJson(ctx: RestContext): Promise<unknown> {
  const { req, maxBodyBytes } = ctx;
  const buffered = takeBufferedBody(req, maxBodyBytes);
  if (buffered === undefined) {
    // past the limit: the 413 goes out with `connection: close`, so nothing more is read
    return Promise.reject(new HttpError(413, `Request body larger than ${maxBodyBytes} bytes`, 'BAD_USER_INPUT', { connection: 'close' }));
  }
  if (buffered) {
    const raw = buffered.toString('utf8');
    if (!raw.trim()) return Promise.reject(badInput('body', 'a JSON request body is required'));
    try {
      return Promise.resolve(JSON.parse(raw));
    } catch {
      return Promise.reject(badInput('body', 'malformed JSON'));
    }
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    const onData = (c: Buffer) => {
      if (over) return;
      size += c.length;
      if (size > maxBodyBytes) {
        over = true;
        chunks.length = 0;
        reject(new HttpError(413, `Request body larger than ${maxBodyBytes} bytes`, 'BAD_USER_INPUT', { connection: 'close' }));
        return;
      }
      chunks.push(c);
    };
    const onEnd = () => {
      cleanup();
      if (over) return;
      const raw = Buffer.concat(chunks).toString('utf8');
      if (!raw.trim()) return reject(badInput('body', 'a JSON request body is required'));
      try {
        resolve(JSON.parse(raw));
      } catch {
        reject(badInput('body', 'malformed JSON'));
      }
    };
    const onFail = () => {
      cleanup();
      reject(new HttpError(400, 'The request body was cut off', 'BAD_USER_INPUT'));
    };
    const onClose = () => {
      if (!req.complete) onFail();
    };
    const cleanup = () => {
      req.off('end', onEnd);
      req.off('error', onFail);
      req.off('close', onClose);
      // data keeps flowing (and is dropped) after a 413
      if (!over) req.off('data', onData);
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onFail);
    req.once('close', onClose);
  });
}

type Issue = { code: string; path: PropertyKey[]; message: string; errors?: Issue[][] };

/** The innermost issue of a union: the branch that got furthest names the field. */
function deepest(issue: Issue): { path: PropertyKey[]; message: string } {
  if (issue.code === 'invalid_union' && issue.errors?.length) {
    let best: { path: PropertyKey[]; message: string } | undefined;
    for (const branch of issue.errors) {
      if (!branch[0]) continue;
      const d = deepest(branch[0]);
      if (!best || d.path.length > best.path.length) best = d;
    }
    if (best && best.path.length) return { path: [...issue.path, ...best.path], message: best.message };
  }
  return { path: issue.path, message: issue.message };
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out;
}

/** Validates with zod; the first problem becomes BAD_USER_INPUT with `param` naming the field. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const d = deepest(r.error.issues[0] as unknown as Issue);
  throw badInput(formatPath(d.path) || 'body', d.message);
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.destroyed || res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** OpenAI's error envelope: `{"error": {message, type, param, code}}`, status and headers from DESIGN.md. */
export function errorResponse(err: unknown): { status: number; headers: Record<string, string>; body: { error: { message: string; type: string; param: string | null; code: string | null } } } {
  if (err instanceof HttpError) {
    return { status: err.status, headers: err.headers, body: { error: { message: err.message, type: 'invalid_request_error', param: null, code: err.code } } };
  }
  const r = toRestError(err) as { status: number; headers: Record<string, string>; body: { error: { message: string; type: string; param: string | null; code: string | null } } };
  return r;
}

export function sendError(ctx: RestContext, err: unknown): void {
  if (!(err instanceof HttpError) && !isGatewayError(err)) {
    ctx.services.log.error({ err, requestId: ctx.requestId, path: ctx.req.url }, 'REST request failed unexpectedly');
  }
  const { status, headers, body } = errorResponse(err);
  sendJson(ctx.res, status, body, headers);
}

/** The warnings of an invocation as response headers: `Deprecation` for a deprecated model, the texts in `x-gateway-warning`. */
export function warningHeaders(warnings: string[]): Record<string, string> {
  if (!warnings.length) return {};
  const texts = [...new Set(warnings)].map((w) => w.replace(/[^\x20-\x7e]/g, '?'));
  const headers: Record<string, string> = { 'x-gateway-warning': texts.join('; ') };
  if (warnings.some((w) => /deprecated/i.test(w))) headers.deprecation = 'true';
  return headers;
}
