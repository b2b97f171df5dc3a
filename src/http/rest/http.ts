/* Plumbing shared by the REST routes: reading and validating bodies, auth, JSON answers, OpenAI-style errors. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import type { Services } from '../../context.js';
import { badInput, bodyTooLarge, isGatewayError, toRestError, unauthenticated } from '../../errors.js';
import type { Principal } from '../../services/keys.js';
import { authenticate } from '../auth.js';
import { BodyCutOffError, readBody } from '../request-body.js';
import type { CancelSignal } from '../../util/cancellation.js';
import type { OpenSessions } from '../open-sessions.js';
import type { RequestTrace } from '../../telemetry/request-trace.js';

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
  /** Running streams by key (see open-sessions.ts); absent when nothing revalidates them. */
  sessions?: OpenSessions;
  /** The request's trace, handed to the invocations it starts (InvocationOptions.trace). */
  trace?: RequestTrace;
}

export async function requirePrincipal(ctx: RestContext): Promise<Principal> {
  const principal = await authenticate(ctx.services.keys, ctx.req.headers.authorization);
  if (!principal) throw unauthenticated();
  return principal;
}

/**
 * Reads the body as JSON; chunked bodies are held to the same limit as announced ones. Past the limit the
 * answer is a 413; the rest of the body is read and dropped (server.ts bounds how much), so the client reads it.
 */
export async function readJson(ctx: RestContext): Promise<unknown> {
  const { req, maxBodyBytes } = ctx;
  let body: Buffer | undefined;
  try {
    body = await readBody(req, maxBodyBytes);
  } catch (e) {
    if (e instanceof BodyCutOffError) throw new HttpError(400, e.message, 'BAD_USER_INPUT');
    throw e;
  }
  if (body === undefined) throw bodyTooLarge(maxBodyBytes);
  const raw = body.toString('utf8');
  if (!raw.trim()) throw badInput('body', 'a JSON request body is required');
  try {
    return JSON.parse(raw);
  } catch {
    throw badInput('body', 'malformed JSON');
  }
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

function formatPath(path: readonly PropertyKey[]): string {
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
