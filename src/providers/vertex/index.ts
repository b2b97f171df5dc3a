/*
 * The Vertex AI adapter: Gemini models through Google's publisher endpoints (generateContent /
 * streamGenerateContent, the Gemini adapter's request, response and stream modules) and Claude models through
 * Anthropic's (rawPredict / streamRawPredict, the Anthropic adapter's modules), both authenticated with an OAuth
 * access token of the service account whose key file is the provider credential.
 * @see https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/inference
 * @see https://cloud.google.com/vertex-ai/generative-ai/docs/partner-models/claude/use-claude
 */
import { parseAnthropicResponse, type AnthropicMessageResponse } from '../anthropic/response.js';
import { anthropicStream } from '../anthropic/stream.js';
import { buildGeminiRequest } from '../gemini/request.js';
import { parseGeminiResponse, type GeminiResponse } from '../gemini/response.js';
import { geminiStream } from '../gemini/stream.js';
import { callJson, callSse } from '../http.js';
import { UpstreamError, type CallOptions, type ChatRequest, type ChatResponse, type EmbedRequest, type EmbedResponse, type ProviderAdapter, type StreamChunk } from '../types.js';
import { accessToken } from './access-token.js';
import { buildVertexClaudeRequest } from './claude.js';
import { asVertex } from './errors.js';
import { embedBatches, embedUsage, predictBody, readPredictions, type VertexPredictResponse } from './embed.js';
import { methodUrl, publisherOf } from './endpoint.js';
import { parseServiceAccount, PROVIDER } from './service-account.js';

/** The URL and headers of one call: the token is fetched (or taken from the cache) first. */
async function target(model: string, opts: CallOptions, method: string, accept?: string): Promise<{ url: string; headers: Record<string, string> }> {
  const key = parseServiceAccount(opts.apiKey);
  const url = methodUrl(opts, key, model, method);
  const token = await accessToken(key, opts);
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (accept) headers.accept = accept;
  return { url, headers };
}

export function createVertexAdapter(): ProviderAdapter {
  return {
    async chat(req: ChatRequest, opts: CallOptions): Promise<ChatResponse> {
      try {
        if (publisherOf(req.model) === 'anthropic') {
          const res = await callJson<AnthropicMessageResponse>({
            provider: PROVIDER,
            ...(await target(req.model, opts, 'rawPredict')),
            body: buildVertexClaudeRequest(req, false),
            signal: opts.signal,
            timeoutMs: opts.timeoutMs,
            observe: opts.observe,
          });
          return parseAnthropicResponse(res, req);
        }
        const res = await callJson<GeminiResponse>({
          provider: PROVIDER,
          ...(await target(req.model, opts, 'generateContent')),
          body: buildGeminiRequest(req),
          signal: opts.signal,
          timeoutMs: opts.timeoutMs,
          observe: opts.observe,
        });
        return parseGeminiResponse(res, req);
      } catch (e) {
        throw asVertex(e, opts);
      }
    },

    async *stream(req: ChatRequest, opts: CallOptions): AsyncGenerator<StreamChunk> {
      try {
        const claude = publisherOf(req.model) === 'anthropic';
        const events = callSse({
          provider: PROVIDER,
          ...(await target(req.model, opts, claude ? 'streamRawPredict' : 'streamGenerateContent?alt=sse', 'text/event-stream')),
          body: claude ? buildVertexClaudeRequest(req, true) : buildGeminiRequest(req),
          signal: opts.signal,
          timeoutMs: opts.timeoutMs,
          observe: opts.observe,
        });
        yield* claude ? anthropicStream(events, req) : geminiStream(events, req);
      } catch (e) {
        throw asVertex(e, opts);
      }
    },

    /** Google's text embedding models (text-embedding-005, gemini-embedding-001…) through `:predict`. */
    async embed(req: EmbedRequest, opts: CallOptions): Promise<EmbedResponse> {
      try {
        if (publisherOf(req.model) === 'anthropic') {
          throw new UpstreamError({ provider: PROVIDER, message: `${PROVIDER}: Claude models have no embeddings`, retryable: false });
        }
        const vectors: number[][] = [];
        const counted: Array<number | undefined> = [];
        // one request at a time: gemini-embedding-001 takes one text per request, and a burst would hit the per-minute quota
        for (const batch of embedBatches(req)) {
          const res = await callJson<VertexPredictResponse>({
            provider: PROVIDER,
            ...(await target(req.model, opts, 'predict')),
            body: predictBody(batch),
            signal: opts.signal,
            timeoutMs: opts.timeoutMs,
            observe: opts.observe,
          });
          const got = readPredictions(res, batch);
          vectors.push(...got.vectors);
          counted.push(got.tokens);
        }
        return { upstreamModel: req.model, vectors, usage: embedUsage(req.input, counted) };
      } catch (e) {
        throw asVertex(e, opts);
      }
    },
  };
}
