/* The Anthropic adapter: Messages API (POST /v1/messages), plain and streamed. */
import { callJson, callSse } from '../http.js';
import type { CallOptions, ChatRequest, ChatResponse, ProviderAdapter, StreamChunk } from '../types.js';
import { buildAnthropicRequest } from './request.js';
import { parseAnthropicResponse, type AnthropicMessageResponse } from './response.js';
import { anthropicStream, PROVIDER } from './stream.js';

const ANTHROPIC_DEFAULT_BASE_URL = 'https://api.anthropic.com';
/** The API version this adapter speaks; newer versions may change the wire format. */
const ANTHROPIC_VERSION = '2023-06-01';

/**
 * Endpoint of the Messages API under a base URL that carries no `/v1`.
 * @see https://docs.anthropic.com/en/api/messages
 */
function messagesUrl(baseUrl: string | undefined): string {
  return `${(baseUrl ?? ANTHROPIC_DEFAULT_BASE_URL).replace(/\/+$/, '')}/v1/messages`;
}

/**
 * @see https://docs.anthropic.com/en/api/versioning
 */
function headersFor(opts: CallOptions, accept?: string): Record<string, string> {
  const headers: Record<string, string> = { 'anthropic-version': ANTHROPIC_VERSION };
  if (accept) headers.accept = accept;
  if (opts.apiKey) headers['x-api-key'] = opts.apiKey;
  return headers;
}

export function createAnthropicAdapter(): ProviderAdapter {
  return {
    async chat(req: ChatRequest, opts: CallOptions): Promise<ChatResponse> {
      const res = await callJson<AnthropicMessageResponse>({
        provider: PROVIDER,
        url: messagesUrl(opts.baseUrl),
        headers: headersFor(opts),
        body: buildAnthropicRequest(req),
        signal: opts.signal,
        timeoutMs: opts.timeoutMs,
        observe: opts.observe,
      });
      return parseAnthropicResponse(res, req);
    },

    async *stream(req: ChatRequest, opts: CallOptions): AsyncGenerator<StreamChunk> {
      const events = callSse({
        provider: PROVIDER,
        url: messagesUrl(opts.baseUrl),
        headers: headersFor(opts, 'text/event-stream'),
        body: buildAnthropicRequest(req, true),
        signal: opts.signal,
        timeoutMs: opts.timeoutMs,
        observe: opts.observe,
      });
      yield* anthropicStream(events, req);
    },
  };
}
