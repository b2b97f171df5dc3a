/* Bedrock's named errors (HTTP answers and in-stream exception events) → UpstreamError. */
import { UpstreamError } from '../types.js';

export const PROVIDER = 'bedrock';

/**
 * Whether a retry can help, per documented error name. Throttling, a model still loading, a model timeout and
 * the service's own failures pass; a bad request, missing access or a model that failed on this input do not.
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html#API_runtime_Converse_Errors
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html#API_runtime_ConverseStream_Errors
 */
const RETRYABLE: Record<string, boolean> = {
  ThrottlingException: true,
  ModelNotReadyException: true,
  ModelTimeoutException: true,
  ServiceUnavailableException: true,
  InternalServerException: true,
  // "A streaming error occurred. Retry your request." (in-stream only)
  ModelStreamErrorException: true,
  ValidationException: false,
  AccessDeniedException: false,
  ResourceNotFoundException: false,
  ModelErrorException: false,
  ServiceQuotaExceededException: false,
  UnrecognizedClientException: false,
  InvalidSignatureException: false,
  ExpiredTokenException: false,
};

/** The HTTP status each in-stream exception stands for (the stream itself answered 200). */
const STREAM_STATUS: Record<string, number> = {
  ValidationException: 400,
  ModelStreamErrorException: 424,
  ThrottlingException: 429,
  InternalServerException: 500,
  ServiceUnavailableException: 503,
};

/** `ValidationException:http://internal.amazon.com/coral/...` or `validationException` → `ValidationException`. */
function errorName(raw: string | undefined): string | undefined {
  const name = raw?.split(':')[0].trim();
  return name ? name[0].toUpperCase() + name.slice(1) : undefined;
}

function messageOf(text: string): string | undefined {
  try {
    const b = JSON.parse(text) as Record<string, unknown>;
    // AWS JSON errors use `message`, some services `Message`
    const m = b?.message ?? b?.Message;
    if (typeof m === 'string' && m) return m;
  } catch {
    /* not JSON */
  }
  return text.trim() ? text.trim().slice(0, 500) : undefined;
}

/**
 * Reads an HTTP error answer: the error name from `x-amzn-errortype` (or the body's `__type`), the text from the
 * body's `message`. Unknown names fall back to the status (5xx and 429 retryable).
 */
export function describeBedrockError(
  status: number,
  text: string,
  headers: Record<string, string | string[] | undefined>,
): { message: string; retryable: boolean } {
  const header = headers['x-amzn-errortype'];
  let name = errorName(Array.isArray(header) ? header[0] : header);
  if (!name) {
    try {
      name = errorName((JSON.parse(text) as { __type?: string }).__type?.split('#').pop());
    } catch {
      /* no body type either */
    }
  }
  const message = `${name ?? 'Error'}: ${messageOf(text) ?? `HTTP ${status}`}`;
  const known = name !== undefined ? RETRYABLE[name] : undefined;
  return { message, retryable: known ?? (status === 429 || status >= 500 || status === 408) };
}

/**
 * An exception event inside ConverseStream (`:message-type: exception`, name in `:exception-type`).
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStreamOutput.html
 */
export function streamException(type: string | undefined, body: string): UpstreamError {
  const name = errorName(type) ?? 'InternalServerException';
  return new UpstreamError({
    provider: PROVIDER,
    status: STREAM_STATUS[name],
    message: `${PROVIDER} stream error (${name}): ${messageOf(body) ?? 'unknown error'}`,
    retryable: RETRYABLE[name] ?? true,
  });
}

/** A request the adapter cannot send as asked (Bedrock would reject it): not retryable on this target. */
export function badRequest(message: string): UpstreamError {
  return new UpstreamError({ provider: PROVIDER, status: 400, message: `${PROVIDER}: ${message}`, retryable: false });
}
