/*
 * Errors in Anthropic's shape, `{"type": "error", "error": {"type", "message"}}`, with the status Anthropic uses for
 * each type, so its SDK raises the same error classes (BadRequestError, AuthenticationError, RateLimitError…).
 * @see https://docs.anthropic.com/en/api/errors
 */
import { isGatewayError, UNEXPECTED_ERROR_MESSAGE, type ErrorCode } from '../../../errors.js';
import { HttpError, errorResponse } from '../http.js';

type AnthropicErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'permission_error'
  | 'not_found_error'
  | 'request_too_large'
  | 'rate_limit_error'
  | 'api_error'
  | 'timeout_error'
  | 'overloaded_error';

export interface AnthropicErrorBody {
  type: 'error';
  error: { type: AnthropicErrorType; message: string };
}

/**
 * The gateway's codes as Anthropic's types. Statuses stay DESIGN.md's (502 for an upstream failure, 504 for its
 * timeout, 410 for a retired model) except SERVICE_UNAVAILABLE, which is Anthropic's 529 overloaded_error.
 */
const TYPE: Record<ErrorCode, AnthropicErrorType> = {
  BAD_USER_INPUT: 'invalid_request_error',
  GUARDRAIL_BLOCKED: 'invalid_request_error',
  UNAUTHENTICATED: 'authentication_error',
  FORBIDDEN: 'permission_error',
  NOT_FOUND: 'not_found_error',
  MODEL_NOT_FOUND: 'not_found_error',
  MODEL_RETIRED: 'not_found_error',
  RATE_LIMITED: 'rate_limit_error',
  QUOTA_EXCEEDED: 'rate_limit_error',
  UPSTREAM_ERROR: 'api_error',
  UPSTREAM_TIMEOUT: 'timeout_error',
  SERVICE_UNAVAILABLE: 'overloaded_error',
};

export function anthropicError(err: unknown): { status: number; headers: Record<string, string>; body: AnthropicErrorBody } {
  // the status and headers (retry-after, allow) as every REST route answers them
  const { status, headers } = errorResponse(err);
  if (err instanceof HttpError) {
    const type: AnthropicErrorType = status === 404 ? 'not_found_error' : 'invalid_request_error';
    return { status, headers, body: { type: 'error', error: { type, message: err.message } } };
  }
  if (!isGatewayError(err)) return { status: 500, headers: {}, body: { type: 'error', error: { type: 'api_error', message: UNEXPECTED_ERROR_MESSAGE } } };
  let type = TYPE[err.code];
  if (status === 413) type = 'request_too_large';
  const overloaded = err.code === 'SERVICE_UNAVAILABLE';
  return { status: overloaded ? 529 : status, headers, body: { type: 'error', error: { type, message: err.message } } };
}
