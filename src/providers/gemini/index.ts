/* The Gemini adapter: generateContent, streamGenerateContent (SSE) and batchEmbedContents. */
import { countTextTokens } from '../count-tokens.js';
import { callJson, callSse } from '../http.js';
import {
  UpstreamError,
  type CallOptions,
  type ChatRequest,
  type ChatResponse,
  type EmbedRequest,
  type EmbedResponse,
  type ProviderAdapter,
  type StreamChunk,
} from '../types.js';
import { buildGeminiRequest } from './request.js';
import { parseGeminiResponse, PROVIDER, type GeminiResponse } from './response.js';
import { geminiStream } from './stream.js';

const GEMINI_DEFAULT_BASE_URL = 'https://generativelanguage.googleapis.com';
/** batchEmbedContents takes at most 100 requests per call. */
const GEMINI_EMBED_BATCH = 100;

/** Model ids are accepted with or without the `models/` resource prefix. */
function modelId(model: string): string {
  return model.replace(/^models\//, '');
}

/**
 * `{base}/v1beta/models/{model}:{method}`; the base URL carries no version. The model is encoded as one path
 * segment: a stored name can never move the call (and the credential) to another path on the provider's host.
 * @see https://ai.google.dev/api/generate-content#endpoint
 */
function methodUrl(baseUrl: string | undefined, model: string, method: string): string {
  return `${(baseUrl ?? GEMINI_DEFAULT_BASE_URL).replace(/\/+$/, '')}/v1beta/models/${encodeURIComponent(modelId(model))}:${method}`;
}

/**
 * The key goes in a header, never in the `?key=` query string, so it stays out of URLs and logs.
 * @see https://ai.google.dev/gemini-api/docs/api-key
 */
function headersFor(opts: CallOptions, accept?: string): Record<string, string> {
  const headers: Record<string, string> = {};
  if (opts.apiKey) headers['x-goog-api-key'] = opts.apiKey;
  if (accept) headers.accept = accept;
  return headers;
}

interface BatchEmbedResponse {
  embeddings?: Array<{ values?: number[] }>;
}

export function createGeminiAdapter(): ProviderAdapter {
  return {
    async chat(req: ChatRequest, opts: CallOptions): Promise<ChatResponse> {
      const res = await callJson<GeminiResponse>({
        provider: PROVIDER,
        url: methodUrl(opts.baseUrl, req.model, 'generateContent'),
        headers: headersFor(opts),
        body: buildGeminiRequest(req),
        signal: opts.signal,
        timeoutMs: opts.timeoutMs,
        observe: opts.observe,
      });
      return parseGeminiResponse(res, req);
    },

    async *stream(req: ChatRequest, opts: CallOptions): AsyncGenerator<StreamChunk> {
      const events = callSse({
        provider: PROVIDER,
        url: methodUrl(opts.baseUrl, req.model, 'streamGenerateContent?alt=sse'),
        headers: headersFor(opts, 'text/event-stream'),
        body: buildGeminiRequest(req),
        signal: opts.signal,
        timeoutMs: opts.timeoutMs,
        observe: opts.observe,
      });
      yield* geminiStream(events, req);
    },

    /**
     * Gemini reports no token usage for embeddings, so usage is counted locally (exact: false).
     * @see https://ai.google.dev/api/embeddings#method:-models.batchembedcontents
     */
    async embed(req: EmbedRequest, opts: CallOptions): Promise<EmbedResponse> {
      const model = `models/${modelId(req.model)}`;
      const vectors: number[][] = [];
      for (let i = 0; i < req.input.length; i += GEMINI_EMBED_BATCH) {
        const batch = req.input.slice(i, i + GEMINI_EMBED_BATCH);
        const res = await callJson<BatchEmbedResponse>({
          provider: PROVIDER,
          url: methodUrl(opts.baseUrl, req.model, 'batchEmbedContents'),
          headers: headersFor(opts),
          body: { requests: batch.map((text) => ({ model, content: { parts: [{ text }] } })) },
          signal: opts.signal,
          timeoutMs: opts.timeoutMs,
          observe: opts.observe,
        });
        const got = res.embeddings ?? [];
        if (got.length !== batch.length || got.some((e) => !Array.isArray(e.values))) {
          throw new UpstreamError({
            provider: PROVIDER,
            message: `${PROVIDER} returned ${got.length} embeddings for ${batch.length} inputs`,
            retryable: true,
          });
        }
        for (const e of got) vectors.push(e.values as number[]);
      }
      const promptTokens = req.input.reduce((n, t) => n + countTextTokens(t), 0);
      return { upstreamModel: req.model, vectors, usage: { promptTokens, completionTokens: 0, totalTokens: promptTokens, exact: false } };
    },
  };
}
