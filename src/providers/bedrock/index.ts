/* The Bedrock adapter: Converse and ConverseStream on bedrock-runtime, SigV4-signed. */
import { callBytes, callJson, type UpstreamCall } from '../http.js';
import type { CallOptions, ChatRequest, ChatResponse, ProviderAdapter, StreamChunk } from '../types.js';
import { badRequest, describeBedrockError, PROVIDER } from './errors.js';
import { eventStreamMessages } from './eventstream.js';
import { buildConverseRequest } from './request.js';
import { parseConverseResponse, type ConverseResponse } from './response.js';
import { parseCredential, signedHeaders, signingRegion } from './sign.js';
import { converseStream } from './stream.js';

const EVENT_STREAM = 'application/vnd.amazon.eventstream';

/**
 * `{base}/model/{modelId}/converse[-stream]`, base `https://bedrock-runtime.{region}.amazonaws.com` by default.
 * The model id (`anthropic.claude-…-v1:0`, an inference profile or an ARN with '/') is one encoded path segment.
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html
 */
function endpoint(opts: CallOptions, model: string, action: 'converse' | 'converse-stream'): URL {
  const region = opts.settings?.region;
  if (!opts.baseUrl && !region) throw badRequest('settings.region is required (the AWS region the requests are signed for)');
  const base = (opts.baseUrl ?? `https://bedrock-runtime.${region}.amazonaws.com`).replace(/\/+$/, '');
  try {
    return new URL(`${base}/model/${encodeURIComponent(model)}/${action}`);
  } catch {
    throw badRequest('the provider base URL is not a valid URL');
  }
}

/** The signed call: the exact body bytes that were signed travel as `rawBody`. */
async function signedCall(req: ChatRequest, opts: CallOptions, action: 'converse' | 'converse-stream'): Promise<UpstreamCall> {
  const url = endpoint(opts, req.model, action);
  const credential = parseCredential(opts.apiKey);
  const region = signingRegion(opts.settings?.region, url.host);
  const rawBody = JSON.stringify(buildConverseRequest(req));
  const accept = action === 'converse' ? 'application/json' : EVENT_STREAM;
  return {
    provider: PROVIDER,
    url: url.href,
    headers: await signedHeaders(url, rawBody, credential, region, accept),
    rawBody,
    describeError: describeBedrockError,
    signal: opts.signal,
    timeoutMs: opts.timeoutMs,
    observe: opts.observe,
  };
}

export function createBedrockAdapter(): ProviderAdapter {
  return {
    async chat(req: ChatRequest, opts: CallOptions): Promise<ChatResponse> {
      const res = await callJson<ConverseResponse>(await signedCall(req, opts, 'converse'));
      return parseConverseResponse(res, req);
    },

    async *stream(req: ChatRequest, opts: CallOptions): AsyncGenerator<StreamChunk> {
      const call = await signedCall(req, opts, 'converse-stream');
      yield* converseStream(eventStreamMessages(callBytes(call)), req);
    },
  };
}
