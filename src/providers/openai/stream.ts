/* OpenAI chat completion chunks (SSE) → unified stream chunks. */
import { randomUUID } from 'node:crypto';
import type { EventSourceMessage } from 'eventsource-parser';
import { parseEventData } from '../http.js';
import type { ChatRequest, FinishReason, StreamChunk, ToolCallDelta, Usage } from '../types.js';
import { UpstreamError } from '../types.js';
import { findErrorObject, mapErrorObject, type OpenAIErrorObject } from './errors.js';
import { mapFinishReason } from './finish-reason.js';
import { argumentsToString } from './response.js';
import { estimateChatUsage, mapUsage, type OpenAIUsage } from './usage.js';

/** A tool call fragment; compatible servers may omit `index` and `id`, or send `arguments` as an object. */
interface OpenAIToolCallDelta {
  index?: number;
  id?: string | null;
  type?: string;
  function?: { name?: string | null; arguments?: unknown };
}

export interface OpenAIChatCompletionChunk {
  id?: string;
  object?: string;
  created?: number;
  model?: string;
  system_fingerprint?: string | null;
  /** Empty in the usage-only chunk; vLLM sends null or leaves it out. */
  choices?: Array<{
    index?: number;
    delta?: { role?: string; content?: string | null; refusal?: string | null; tool_calls?: OpenAIToolCallDelta[] | null };
    finish_reason?: string | null;
    logprobs?: unknown;
  }> | null;
  /** null on every chunk but the last when `stream_options.include_usage` is set. */
  usage?: OpenAIUsage | null;
}

export interface StreamContext {
  provider: string;
  req: ChatRequest;
}

/**
 * Maps the tool call fragments of one delta. Ids are made up for calls that start without one, so
 * consumers can always key a call by its first fragment's id.
 * @see https://platform.openai.com/docs/api-reference/chat-streaming/streaming#chat-streaming/streaming-choices
 */
function mapToolCallDeltas(calls: OpenAIToolCallDelta[] | null | undefined, started: Set<number>): ToolCallDelta[] {
  const out: ToolCallDelta[] = [];
  (calls ?? []).forEach((c, i) => {
    const index = typeof c.index === 'number' ? c.index : i;
    const d: ToolCallDelta = { index };
    if (c.id) d.id = c.id;
    else if (!started.has(index)) d.id = `call_${randomUUID()}`;
    started.add(index);
    if (c.function?.name) d.name = c.function.name;
    const args = argumentsToString(c.function?.arguments);
    if (args) d.argumentsDelta = args;
    out.push(d);
  });
  return out;
}

function streamError(provider: string, ev: EventSourceMessage): UpstreamError {
  let payload: unknown;
  try {
    payload = JSON.parse(ev.data);
  } catch {
    return mapErrorObject(provider, { message: ev.data.trim() || undefined });
  }
  return mapErrorObject(provider, findErrorObject(payload) ?? (payload as OpenAIErrorObject));
}

/**
 * Turns SSE events of a chat completion stream into unified chunks: one per event that carries
 * content or tool-call fragments, as it arrives; the last one carries finishReason and usage.
 * @see https://platform.openai.com/docs/api-reference/chat-streaming/streaming
 */
export async function* mapChatStream(events: AsyncIterable<EventSourceMessage>, ctx: StreamContext): AsyncGenerator<StreamChunk> {
  const { provider } = ctx;
  let finishReason: FinishReason | undefined;
  let usage: Usage | undefined;
  let sawDone = false;
  let finalSent = false;
  let text = '';
  const calls = new Map<number, { name: string; arguments: string }>();
  const started = new Set<number>();

  for await (const ev of events) {
    const data = ev.data.trim();
    if (data === '[DONE]') {
      sawDone = true;
      break;
    }
    // after the final chunk, read on to [DONE] so the connection goes back to the pool intact
    if (finalSent || data === '') continue;
    if (ev.event === 'error') throw streamError(provider, ev);
    const chunk = parseEventData<OpenAIChatCompletionChunk>(provider, data);
    const err = findErrorObject(chunk);
    if (err) throw mapErrorObject(provider, err);

    usage = mapUsage(chunk.usage) ?? usage;
    let out: StreamChunk | undefined;
    // we never ask for n > 1, but a server that ignores that must not interleave choices
    const choice = chunk.choices?.find((c) => (c.index ?? 0) === 0);
    if (choice) {
      const piece = (choice.delta?.content ?? '') + (choice.delta?.refusal ?? '');
      const toolCalls = mapToolCallDeltas(choice.delta?.tool_calls, started);
      if (piece || toolCalls.length) out = toolCalls.length ? { delta: piece, toolCalls } : { delta: piece };
      text += piece;
      for (const d of toolCalls) {
        const call = calls.get(d.index) ?? { name: '', arguments: '' };
        call.name += d.name ?? '';
        call.arguments += d.argumentsDelta ?? '';
        calls.set(d.index, call);
      }
      finishReason = mapFinishReason(choice.finish_reason) ?? finishReason;
    }
    if (finishReason && usage) {
      finalSent = true;
      // the spread goes last: a leading spread followed by new keys builds a new hidden class per call (see withModel)
      yield { finishReason, usage, ...(out ?? { delta: '' }) };
    } else if (out) {
      yield out;
    }
  }

  if (finalSent) return;
  if (!finishReason) {
    // without [DONE] nothing proves the answer is complete; with it, only the reason is missing
    if (!sawDone) throw new UpstreamError({ provider, message: `${provider}: stream ended early`, retryable: true });
    finishReason = calls.size ? 'TOOL_CALLS' : 'STOP';
  }
  yield { delta: '', finishReason, usage: usage ?? estimateChatUsage(ctx.req, text, [...calls.values()]) };
}
