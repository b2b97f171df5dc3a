import { GraphQLError } from 'graphql';

/** The error codes of DESIGN.md; every expected failure carries one in `extensions.code`. */
export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'BAD_USER_INPUT'
  | 'NOT_FOUND'
  | 'MODEL_NOT_FOUND'
  | 'MODEL_RETIRED'
  | 'RATE_LIMITED'
  | 'QUOTA_EXCEEDED'
  | 'UPSTREAM_ERROR'
  | 'UPSTREAM_TIMEOUT'
  | 'SERVICE_UNAVAILABLE'
  | 'GUARDRAIL_BLOCKED';

const HTTP_STATUS: Record<ErrorCode, number> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  BAD_USER_INPUT: 400,
  NOT_FOUND: 404,
  MODEL_NOT_FOUND: 404,
  MODEL_RETIRED: 410,
  RATE_LIMITED: 429,
  QUOTA_EXCEEDED: 429,
  UPSTREAM_ERROR: 502,
  UPSTREAM_TIMEOUT: 504,
  SERVICE_UNAVAILABLE: 503,
  GUARDRAIL_BLOCKED: 400,
};

/** Builds an error that captures no stack frames: an answer to a client, whose stack nobody reads. */
export function withoutStackTrace<T>(make: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return make();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/**
 * An expected failure. Yoga's masking lets GraphQLErrors through, so these reach clients as they are.
 * It carries no stack frames: it is an answer, not a bug, and a burst refuses thousands at once. Capturing a
 * stack, and formatting it through the source maps when graphql-js wraps the error (it reads `stack`), cost
 * more than the rest of a refused call and held the event loop for seconds.
 */
export class GatewayError extends GraphQLError {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      super(message, { extensions: { ...extensions, code } });
    } finally {
      Error.stackTraceLimit = limit;
    }
    this.code = code;
  }
  /** The code's status, unless the error names its own (`extensions.http.status`, which Yoga reads too). */
  get httpStatus(): number {
    const http = this.extensions.http as { status?: number } | undefined;
    return http?.status ?? HTTP_STATUS[this.code];
  }
}

/** What a client reads for any unexpected failure, on every surface: the details go to the log, never out. */
export const UNEXPECTED_ERROR_MESSAGE = 'Unexpected error.';

/** A request body over the limit, on every surface: BAD_USER_INPUT, answered with HTTP 413. */
export const bodyTooLarge = (maxBytes: number) =>
  new GatewayError('BAD_USER_INPUT', `Request body larger than ${maxBytes} bytes`, { http: { status: 413 } });

/**
 * The GraphQL response body for an error answered outside Yoga (before a request reaches it, or when it failed):
 * the same message and extensions.code Yoga's error plugin would give; anything unexpected is masked.
 */
export function toGraphqlErrorBody(
  err: unknown,
  requestId: string,
): { errors: Array<{ message: string; extensions: Record<string, unknown> }>; extensions: { requestId: string } } {
  const ge = isGatewayError(err) ? err : null;
  const message = ge ? ge.message : UNEXPECTED_ERROR_MESSAGE;
  return { errors: [{ message, extensions: { code: ge ? ge.code : 'INTERNAL_SERVER_ERROR', requestId } }], extensions: { requestId } };
}

export const unauthenticated = (message = 'A valid API key is required (Authorization: Bearer gw_...)') =>
  new GatewayError('UNAUTHENTICATED', message);

export const forbidden = (message: string) => new GatewayError('FORBIDDEN', message);

/** A refusal of one input field the caller may not give (or not this way); `field` as for badInput. */
export const forbiddenField = (field: string, message: string) => new GatewayError('FORBIDDEN', `${field}: ${message}`, { field });

/** Invalid input; `field` is the argument path, e.g. `input.messages[0].role`. */
export const badInput = (field: string, message: string) =>
  new GatewayError('BAD_USER_INPUT', `${field}: ${message}`, { field });

export const notFound = (what: string, name: string) =>
  new GatewayError('NOT_FOUND', `${what} "${name}" not found`, { [what.toLowerCase()]: name });

export const modelNotFound = (model: string) =>
  new GatewayError('MODEL_NOT_FOUND', `Model "${model}" not found`, { model });

export const modelRetired = (model: string) =>
  new GatewayError('MODEL_RETIRED', `Model "${model}" is retired and no longer served`, { model });

export const rateLimited = (message: string, retryAfterMs: number) =>
  new GatewayError('RATE_LIMITED', message, { retryAfterMs: Math.max(0, Math.ceil(retryAfterMs)) });

export const quotaExceeded = (message: string) => new GatewayError('QUOTA_EXCEEDED', message);

/** A guardrail policy refused the input or the answer; the policy is named so an operator can find the rule. */
export const guardrailBlocked = (policy: string, reason: string) =>
  new GatewayError('GUARDRAIL_BLOCKED', `Blocked by guardrail policy "${policy}": ${reason}`, { policy });

/**
 * What the answer needs (a key or model lookup) cannot be read: the database is unreachable and nothing usable is
 * cached. Clients retry after `retryAfterMs` (the database pool reconnects within that).
 */
export const serviceUnavailable = (message: string, retryAfterMs = 1000) =>
  new GatewayError('SERVICE_UNAVAILABLE', message, {
    retryAfterMs,
    http: { status: 503, headers: { 'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) } },
  });

export function isGatewayError(e: unknown): e is GatewayError {
  return e instanceof GatewayError;
}

/** OpenAI-style error body and HTTP status for the `/v1` routes. */
export function toRestError(err: unknown): { status: number; headers: Record<string, string>; body: unknown } {
  const ge = isGatewayError(err) ? err : null;
  if (!ge) {
    return {
      status: 500,
      headers: {},
      body: { error: { message: UNEXPECTED_ERROR_MESSAGE, type: 'server_error', param: null, code: 'INTERNAL_SERVER_ERROR' } },
    };
  }
  const headers: Record<string, string> = {};
  const retryAfterMs = ge.extensions.retryAfterMs;
  if (typeof retryAfterMs === 'number') headers['retry-after'] = String(Math.max(1, Math.ceil(retryAfterMs / 1000)));
  const type =
    ge.code === 'BAD_USER_INPUT' ? 'invalid_request_error'
    : ge.code === 'UNAUTHENTICATED' ? 'authentication_error'
    : ge.code === 'FORBIDDEN' ? 'permission_error'
    : ge.code === 'RATE_LIMITED' || ge.code === 'QUOTA_EXCEEDED' ? 'rate_limit_error'
    : ge.code === 'NOT_FOUND' || ge.code === 'MODEL_NOT_FOUND' || ge.code === 'MODEL_RETIRED' ? 'not_found_error'
    : ge.code === 'GUARDRAIL_BLOCKED' ? 'guardrail_error'
    : 'api_error';
  const param = typeof ge.extensions.field === 'string' ? ge.extensions.field : null;
  const error: Record<string, unknown> = { message: ge.message, type, param, code: ge.code };
  // which policy refused: the one thing a client needs to ask an operator about a block
  if (typeof ge.extensions.policy === 'string') error.policy = ge.extensions.policy;
  return { status: ge.httpStatus, headers, body: { error } };
}
