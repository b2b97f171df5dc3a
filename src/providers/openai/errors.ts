/* Error objects that arrive inside a 200 body or an SSE stream (HTTP errors are mapped in ../http.ts). */
import { isRetryableStatus } from '../http.js';
import { UpstreamError } from '../types.js';

/** OpenAI's error object; compatible servers put an HTTP status number in `code` (vLLM, OpenRouter). */
export interface OpenAIErrorObject {
  message?: string;
  type?: string | null;
  param?: string | null;
  code?: string | number | null;
}

/** Error kinds that say the request itself is at fault, so sending it again cannot help. */
const CLIENT_FAULTS = new Set([
  'invalid_request_error',
  'authentication_error',
  'permission_error',
  'not_found_error',
  'invalid_api_key',
  'model_not_found',
  'context_length_exceeded',
  'insufficient_quota',
  'content_policy_violation',
  'BadRequestError',
  // Azure OpenAI: the prompt or the answer was blocked by the deployment's content filter
  'content_filter',
]);

/** Returns the error object when a parsed body or event is an error envelope (`{ error: … }`). */
export function findErrorObject(payload: unknown): OpenAIErrorObject | undefined {
  if (!payload || typeof payload !== 'object') return undefined;
  const err = (payload as { error?: unknown }).error;
  if (typeof err === 'string') return { message: err };
  if (err && typeof err === 'object') return err as OpenAIErrorObject;
  return undefined;
}

/**
 * Maps an error object received with a 200 (mid-stream or in a body) to an UpstreamError; only a
 * fault of the request is final, anything else (server_error, rate limits, unknown) may be retried.
 * @see https://platform.openai.com/docs/guides/error-codes
 */
export function mapErrorObject(provider: string, err: OpenAIErrorObject): UpstreamError {
  const status = typeof err.code === 'number' && err.code >= 400 && err.code < 600 ? err.code : undefined;
  const kind = [err.type, typeof err.code === 'string' ? err.code : undefined].filter((k): k is string => !!k);
  const retryable = status !== undefined ? isRetryableStatus(status) : !kind.some((k) => CLIENT_FAULTS.has(k));
  const detail = err.message || kind.join('/') || 'unknown error';
  return new UpstreamError({ provider, status, message: `${provider} reported an error: ${detail}`, retryable });
}
