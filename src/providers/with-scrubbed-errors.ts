/* The adapter boundary for upstream error text: every error an adapter throws leaves it scrubbed of secrets. */
import { scrubSecrets } from './scrub-secrets.js';
import { UpstreamError, type CallOptions, type ChatRequest, type ProviderAdapter, type StreamChunk } from './types.js';

/** The same error with its message scrubbed; anything else (a bug, an abort) goes through untouched. */
function scrubbed(e: unknown, credential: string | undefined): unknown {
  if (!(e instanceof UpstreamError)) return e;
  const message = scrubSecrets(e.message, credential);
  if (message === e.message) return e;
  const { provider, status, retryable, retryAfterMs, timeout, cause } = e;
  return new UpstreamError({ provider, status, retryable, retryAfterMs, timeout, cause, message });
}

/**
 * Wraps an adapter so that upstream error messages (HTTP error bodies, in-stream error events, network errors) carry
 * neither the call's credential nor anything that looks like a secret, whichever surface or log they reach next.
 */
export function withScrubbedErrors(adapter: ProviderAdapter): ProviderAdapter {
  const wrapped: ProviderAdapter = {
    chat: (req, opts) =>
      adapter.chat(req, opts).catch((e: unknown) => {
        throw scrubbed(e, opts.apiKey);
      }),
    // a plain iterator, not an async generator: return() must reach the adapter at once, even while a read is pending
    stream(req: ChatRequest, opts: CallOptions): AsyncIterable<StreamChunk> {
      return {
        [Symbol.asyncIterator]: () => {
          const inner = adapter.stream(req, opts)[Symbol.asyncIterator]();
          const fail = (e: unknown): never => {
            throw scrubbed(e, opts.apiKey);
          };
          return {
            next: () => inner.next().catch(fail),
            return: (value?: unknown) => inner.return?.(value) ?? Promise.resolve({ value: undefined, done: true as const }),
            throw: (e?: unknown) => inner.throw?.(e) ?? Promise.reject(e),
          };
        },
      };
    },
  };
  const embed = adapter.embed?.bind(adapter);
  if (embed) {
    wrapped.embed = (req, opts) =>
      embed(req, opts).catch((e: unknown) => {
        throw scrubbed(e, opts.apiKey);
      });
  }
  return wrapped;
}
