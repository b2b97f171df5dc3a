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
    stream: (req: ChatRequest, opts: CallOptions): AsyncIterable<StreamChunk> => ({
      [Symbol.asyncIterator]: () => new ScrubbedStream(adapter.stream(req, opts)[Symbol.asyncIterator](), opts.apiKey),
    }),
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

/** The adapter's stream with every error it fails with scrubbed; one object per stream, its methods shared. */
class ScrubbedStream implements AsyncIterator<StreamChunk> {
  constructor(
    private readonly inner: AsyncIterator<StreamChunk>,
    private readonly credential: string | undefined,
  ) {}

  next(): Promise<IteratorResult<StreamChunk>> {
    return this.inner.next().catch((e: unknown) => {
      throw scrubbed(e, this.credential);
    });
  }

  return(value?: unknown): Promise<IteratorResult<StreamChunk>> {
    return this.inner.return?.(value) ?? Promise.resolve({ value: undefined, done: true as const });
  }

  throw(e?: unknown): Promise<IteratorResult<StreamChunk>> {
    return this.inner.throw?.(e) ?? Promise.reject(e);
  }
}
