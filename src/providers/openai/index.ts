/* The OpenAI adapter (Chat Completions + Embeddings); openai-compatible servers reuse it. */
import { LRUCache } from 'lru-cache';
import { callJson, callSse } from '../http.js';
import type { CallOptions, ChatRequest, ChatResponse, EmbedRequest, EmbedResponse, ProviderAdapter, StreamChunk } from '../types.js';
import { UpstreamError } from '../types.js';
import { toChatBody, toEmbeddingsBody } from './request.js';
import { mapChatCompletion, mapEmbeddings, type OpenAIChatCompletion, type OpenAIEmbeddingsResponse } from './response.js';
import { mapChatStream } from './stream.js';

/** @see https://platform.openai.com/docs/api-reference/introduction */
const OPENAI_BASE_URL = 'https://api.openai.com/v1';

export interface OpenAIAdapterOptions {
  /**
   * Name reported in UpstreamError.provider and used in made-up response ids.
   * @default 'openai', or 'openai-compatible' when `compatible`
   */
  provider?: string;
  /**
   * Talk to an OpenAI-compatible server: `max_tokens` instead of `max_completion_tokens`, and no
   * fallback to api.openai.com when the call has no base URL (that would send a foreign credential to OpenAI).
   * @default false
   */
  compatible?: boolean;
  /**
   * Where the calls go and how they are authenticated, for services that speak OpenAI's wire format under other
   * URLs and headers (Azure OpenAI's deployments). Unset: `{baseUrl}/chat/completions` with `Authorization: Bearer`.
   */
  endpoint?: OpenAIEndpoint;
}

/** The operations this adapter calls. */
export type OpenAIOperation = 'chat/completions' | 'embeddings';

/** A call's URL and credential headers; may throw an UpstreamError (e.g. no base URL configured). */
export interface OpenAIEndpoint {
  url(op: OpenAIOperation, model: string, opts: CallOptions): string;
  /** The credential header(s) only; accept and content-type are added by the adapter. */
  auth(opts: CallOptions): Record<string, string>;
}

export function createOpenAIAdapter(options: OpenAIAdapterOptions = {}): ProviderAdapter {
  const compatible = options.compatible ?? false;
  const provider = options.provider ?? (compatible ? 'openai-compatible' : 'openai');

  function baseUrl(opts: Pick<CallOptions, 'baseUrl'>): string {
    const url = opts.baseUrl?.trim() || (compatible ? undefined : OPENAI_BASE_URL);
    if (!url) throw new UpstreamError({ provider, message: `${provider}: no base URL configured`, retryable: false });
    return url.replace(/\/+$/, '');
  }

  /** The chat URL per configured base URL ('' for none): built once, not trimmed and joined on every call. */
  const chatUrls = new LRUCache<string, string>({ max: 1000, memoMethod: (base) => `${baseUrl({ baseUrl: base })}/chat/completions` });

  function headers(opts: Pick<CallOptions, 'apiKey'>, accept: string): Record<string, string> {
    // local servers (Ollama, llama.cpp) run without a key
    return opts.apiKey ? { accept, authorization: `Bearer ${opts.apiKey}` } : { accept };
  }

  /** The JSON chat call's headers per API key ('' for none), shared by every call (the HTTP layer never changes them). */
  const jsonHeaders = new LRUCache<string, Record<string, string>>({
    max: 1000,
    memoMethod: (apiKey) => Object.freeze({ ...headers({ apiKey }, 'application/json'), 'content-type': 'application/json' }) as Record<string, string>,
  });

  const endpoint = options.endpoint;
  // the default endpoint keeps its memoized URLs and frozen headers: they are on OpenAI's hot path
  const chatUrl = (req: ChatRequest, opts: CallOptions): string =>
    endpoint ? endpoint.url('chat/completions', req.model, opts) : chatUrls.memo(opts.baseUrl ?? '');
  const embeddingsUrl = (req: EmbedRequest, opts: CallOptions): string =>
    endpoint ? endpoint.url('embeddings', req.model, opts) : `${baseUrl(opts)}/embeddings`;
  const callHeaders = (opts: CallOptions, accept: string): Record<string, string> =>
    endpoint ? { accept, ...endpoint.auth(opts) } : headers(opts, accept);
  const chatJsonHeaders = (opts: CallOptions): Record<string, string> =>
    endpoint ? { 'content-type': 'application/json', ...callHeaders(opts, 'application/json') } : jsonHeaders.memo(opts.apiKey ?? '');

  return {
    async chat(req: ChatRequest, opts: CallOptions): Promise<ChatResponse> {
      const body = await callJson<OpenAIChatCompletion>({
        provider,
        url: chatUrl(req, opts),
        headers: chatJsonHeaders(opts),
        body: toChatBody(req, { stream: false, compatible }),
        signal: opts.signal,
        timeoutMs: opts.timeoutMs,
        observe: opts.observe,
      });
      return mapChatCompletion(body, { provider, req });
    },

    async *stream(req: ChatRequest, opts: CallOptions): AsyncGenerator<StreamChunk> {
      const events = callSse({
        provider,
        url: chatUrl(req, opts),
        headers: callHeaders(opts, 'text/event-stream'),
        body: toChatBody(req, { stream: true, compatible }),
        signal: opts.signal,
        timeoutMs: opts.timeoutMs,
        observe: opts.observe,
      });
      yield* mapChatStream(events, { provider, req });
    },

    async embed(req: EmbedRequest, opts: CallOptions): Promise<EmbedResponse> {
      const body = await callJson<OpenAIEmbeddingsResponse>({
        provider,
        url: embeddingsUrl(req, opts),
        headers: callHeaders(opts, 'application/json'),
        body: toEmbeddingsBody(req),
        signal: opts.signal,
        timeoutMs: opts.timeoutMs,
        observe: opts.observe,
      });
      return mapEmbeddings(body, provider, req);
    },
  };
}

