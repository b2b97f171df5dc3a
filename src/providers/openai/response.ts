/* OpenAI chat completion / embeddings response → unified results. */
import { randomUUID } from 'node:crypto';
import type { ChatRequest, ChatResponse, EmbedRequest, EmbedResponse, ToolCall } from '../types.js';
import { UpstreamError } from '../types.js';
import { findErrorObject, mapErrorObject } from './errors.js';
import { mapFinishReason } from './finish-reason.js';
import { estimateChatUsage, estimateEmbeddingsUsage, mapEmbeddingsUsage, mapUsage, type OpenAIUsage } from './usage.js';

/** A tool call as the API returns it; compatible servers may omit `id` or send `arguments` as an object. */
interface OpenAIResponseToolCall {
  id?: string;
  type?: string;
  function?: { name?: string; arguments?: unknown };
}

export interface OpenAIChatCompletion {
  id?: string;
  object?: string;
  created?: number;
  model?: string;
  choices?: Array<{
    index?: number;
    message?: {
      role?: string;
      content?: string | null;
      refusal?: string | null;
      tool_calls?: OpenAIResponseToolCall[] | null;
    };
    finish_reason?: string | null;
    logprobs?: unknown;
  }> | null;
  usage?: OpenAIUsage | null;
  system_fingerprint?: string | null;
}

export interface OpenAIEmbeddingsResponse {
  object?: string;
  data?: Array<{ object?: string; index?: number; embedding?: number[] }>;
  model?: string;
  usage?: OpenAIUsage | null;
}

export interface ResponseContext {
  provider: string;
  req: ChatRequest;
}

/** An id for providers that send none, so usage records and logs can still refer to the answer. */
function makeResponseId(provider: string): string {
  return `${provider}-${randomUUID()}`;
}

/** Arguments are a JSON string on the wire; a few compatible servers send the parsed object. */
export function argumentsToString(args: unknown): string {
  if (typeof args === 'string') return args;
  if (args === undefined || args === null) return '';
  return JSON.stringify(args);
}

/**
 * Maps `message.tool_calls` (function calls only: we never declare custom tools).
 * @see https://platform.openai.com/docs/api-reference/chat/object#chat/object-choices
 */
function mapToolCalls(calls: OpenAIResponseToolCall[] | null | undefined): ToolCall[] {
  return (calls ?? [])
    .filter((c) => c.function?.name)
    .map((c) => ({ id: c.id || `call_${randomUUID()}`, name: c.function!.name!, arguments: argumentsToString(c.function!.arguments) }));
}

/**
 * Maps a chat completion object to the unified response.
 * @see https://platform.openai.com/docs/api-reference/chat/object
 */
export function mapChatCompletion(body: OpenAIChatCompletion, ctx: ResponseContext): ChatResponse {
  const err = findErrorObject(body);
  if (err) throw mapErrorObject(ctx.provider, err);
  const choice = body.choices?.find((c) => (c.index ?? 0) === 0) ?? body.choices?.[0];
  if (!choice?.message) {
    throw new UpstreamError({ provider: ctx.provider, status: 200, message: `${ctx.provider} returned a completion without choices`, retryable: true });
  }
  const msg = choice.message;
  const toolCalls = mapToolCalls(msg.tool_calls);
  // a refusal is the model's answer in place of content; the unified shape has no separate field for it
  const content = msg.content ?? msg.refusal ?? null;
  return {
    id: body.id || makeResponseId(ctx.provider),
    upstreamModel: body.model || ctx.req.model,
    content,
    toolCalls,
    finishReason: mapFinishReason(choice.finish_reason) ?? (toolCalls.length ? 'TOOL_CALLS' : 'STOP'),
    usage: mapUsage(body.usage) ?? estimateChatUsage(ctx.req, content ?? '', toolCalls),
  };
}

/**
 * Maps an embeddings list to vectors in input order.
 * @see https://platform.openai.com/docs/api-reference/embeddings/object
 */
export function mapEmbeddings(body: OpenAIEmbeddingsResponse, provider: string, req: EmbedRequest): EmbedResponse {
  const err = findErrorObject(body);
  if (err) throw mapErrorObject(provider, err);
  const data = body.data;
  if (!Array.isArray(data) || data.length !== req.input.length || data.some((d) => !Array.isArray(d.embedding))) {
    throw new UpstreamError({
      provider,
      status: 200,
      message: `${provider} returned ${Array.isArray(data) ? data.length : 'no'} embeddings for ${req.input.length} inputs`,
      retryable: true,
    });
  }
  // `index` says which input a vector belongs to; the list order is not promised
  const vectors = data
    .map((d, i) => ({ at: d.index ?? i, v: d.embedding! }))
    .sort((a, b) => a.at - b.at)
    .map((d) => d.v);
  return {
    upstreamModel: body.model || req.model,
    vectors,
    usage: mapEmbeddingsUsage(body.usage) ?? estimateEmbeddingsUsage(req.input),
  };
}
