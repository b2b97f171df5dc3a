/* Vertex's errors: under the provider name 'vertex', and never with any part of the service account's private key. */
import { UpstreamError, type CallOptions } from '../types.js';
import { PROVIDER } from './service-account.js';

/**
 * The private key's base64 lines, for scrubbing: the registry's scrubbing removes the credential as a whole (the
 * key file), but an upstream could quote the PEM alone, or a part of it.
 */
function keyParts(credential: string | undefined): string[] {
  try {
    const pem = (JSON.parse(credential ?? '') as { private_key?: unknown }).private_key;
    if (typeof pem !== 'string') return [];
    return [pem, ...pem.split(/\r?\n/).filter((line) => line.length >= 16 && !line.startsWith('-----'))];
  } catch {
    return [];
  }
}

/**
 * Errors the reused Gemini / Anthropic modules raise under their own name become Vertex's, and no error message
 * carries any part of the service account's private key.
 */
export function asVertex(e: unknown, opts: CallOptions): unknown {
  if (!(e instanceof UpstreamError)) return e;
  let message = e.provider === PROVIDER ? e.message : `${PROVIDER}: ${e.message}`;
  for (const part of keyParts(opts.apiKey)) message = message.split(part).join('[redacted]');
  if (message === e.message && e.provider === PROVIDER) return e;
  const { status, retryable, retryAfterMs, timeout } = e;
  return new UpstreamError({ provider: PROVIDER, status, retryable, retryAfterMs, timeout, message, cause: e });
}
