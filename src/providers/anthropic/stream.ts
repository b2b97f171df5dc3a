/* Anthropic Messages SSE events → unified StreamChunks, one per event that carries text or tool data. */
import type { EventSourceMessage } from 'eventsource-parser';
import { parseEventData } from '../http.js';
import { countMessagesTokens, countTextTokens } from '../count-tokens.js';
import { UpstreamError, type ChatRequest, type StreamChunk, type Usage } from '../types.js';
import { mapStopReason } from './finish-reason.js';
import { mapUsage, mergeUsage, type AnthropicUsage } from './usage.js';

export const PROVIDER = 'anthropic';

interface AnthropicErrorDetail {
  type: string;
  message: string;
}

type AnthropicStreamEvent =
  | { type: 'message_start'; message: { id: string; model: string; usage?: AnthropicUsage } }
  | {
      type: 'content_block_start';
      index: number;
      content_block: { type: string; text?: string; id?: string; name?: string; input?: unknown; thinking?: string; signature?: string; data?: string };
    }
  | {
      type: 'content_block_delta';
      index: number;
      delta: { type: string; text?: string; partial_json?: string; thinking?: string; signature?: string };
    }
  | { type: 'content_block_stop'; index: number }
  | { type: 'message_delta'; delta: { stop_reason?: string | null; stop_sequence?: string | null }; usage?: AnthropicUsage }
  | { type: 'message_stop' }
  | { type: 'ping' }
  | { type: 'error'; error: AnthropicErrorDetail };

/** The HTTP status each documented error type stands for, so mid-stream errors map like HTTP ones. */
const ERROR_STATUS: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

const RETRYABLE_ERRORS = new Set(['rate_limit_error', 'api_error', 'timeout_error', 'overloaded_error']);

/**
 * An `error` event sent after the 200 headers (e.g. overloaded_error) as an UpstreamError.
 * @see https://docs.anthropic.com/en/api/errors
 */
function streamErrorToUpstream(err: AnthropicErrorDetail | undefined): UpstreamError {
  const type = err?.type ?? 'api_error';
  return new UpstreamError({
    provider: PROVIDER,
    status: ERROR_STATUS[type],
    message: `${PROVIDER} stream error (${type}): ${err?.message ?? 'unknown error'}`,
    retryable: RETRYABLE_ERRORS.has(type),
  });
}

/**
 * Turns the event stream into chunks as each event arrives; the last chunk carries finishReason and usage.
 * A stream that ends before `message_stop` was cut off and throws a retryable UpstreamError.
 * @see https://docs.anthropic.com/en/docs/build-with-claude/streaming
 */
export async function* anthropicStream(events: AsyncIterable<EventSourceMessage>, req: ChatRequest): AsyncGenerator<StreamChunk> {
  let usage: AnthropicUsage = {};
  let sawUsage = false;
  let stopReason: string | null | undefined;
  let finished = false;
  let text = '';
  let nextToolIndex = 0;
  // content block index → tool call index (tool calls are numbered apart from text blocks)
  const tools = new Map<number, { index: number; gotArgs: boolean }>();

  try {
    for await (const ev of events) {
      if (finished) continue; // drain what follows message_stop so the connection can be reused
      if (ev.event === 'ping') continue;
      const data = parseEventData<AnthropicStreamEvent>(PROVIDER, ev.data);
      switch (data.type) {
        case 'message_start':
          if (data.message?.usage) {
            usage = mergeUsage(usage, data.message.usage);
            sawUsage = true;
          }
          break;
        case 'content_block_start': {
          const block = data.content_block;
          if (block.type === 'text' && block.text) {
            text += block.text;
            yield { delta: block.text };
          } else if (block.type === 'thinking' && block.thinking) {
            yield { delta: '', reasoning: { delta: block.thinking } };
          } else if (block.type === 'redacted_thinking' && typeof block.data === 'string') {
            yield { delta: '', reasoning: { redactedData: block.data } };
          } else if (block.type === 'tool_use') {
            const index = nextToolIndex++;
            const initial = initialArguments(block.input);
            tools.set(data.index, { index, gotArgs: initial !== undefined });
            yield {
              delta: '',
              toolCalls: [{ index, id: block.id, name: block.name, ...(initial !== undefined ? { argumentsDelta: initial } : {}) }],
            };
          }
          break;
        }
        case 'content_block_delta': {
          const d = data.delta;
          if (d.type === 'text_delta' && d.text) {
            text += d.text;
            yield { delta: d.text };
          } else if (d.type === 'input_json_delta' && d.partial_json) {
            const tool = tools.get(data.index);
            if (!tool) break;
            tool.gotArgs = true;
            yield { delta: '', toolCalls: [{ index: tool.index, argumentsDelta: d.partial_json }] };
          } else if (d.type === 'thinking_delta' && d.thinking) {
            yield { delta: '', reasoning: { delta: d.thinking } };
          } else if (d.type === 'signature_delta' && typeof d.signature === 'string') {
            // the signature comes whole, just before the thinking block's content_block_stop, and closes the block
            yield { delta: '', reasoning: { signature: d.signature } };
          }
          // citations_delta has no place in the unified chunk
          break;
        }
        case 'content_block_stop': {
          const tool = tools.get(data.index);
          // a call without arguments streams no input_json_delta; '{}' keeps the assembled arguments valid JSON
          if (tool && !tool.gotArgs) {
            tool.gotArgs = true;
            yield { delta: '', toolCalls: [{ index: tool.index, argumentsDelta: '{}' }] };
          }
          break;
        }
        case 'message_delta':
          if (data.delta?.stop_reason !== undefined) stopReason = data.delta.stop_reason;
          if (data.usage) {
            usage = mergeUsage(usage, data.usage);
            sawUsage = true;
          }
          break;
        case 'message_stop':
          finished = true;
          yield { delta: '', finishReason: mapStopReason(stopReason), usage: sawUsage ? mapUsage(usage) : estimate(req, text) };
          break;
        case 'error':
          throw streamErrorToUpstream(data.error);
        default:
          // unknown event types are allowed by Anthropic's versioning policy and must be ignored
          break;
      }
    }
  } catch (e) {
    // once message_stop arrived the answer is complete; a failing tail of the connection changes nothing
    if (!finished) throw e;
  }
  if (!finished) {
    throw new UpstreamError({ provider: PROVIDER, message: `${PROVIDER}: stream ended before message_stop`, retryable: true });
  }
}

function initialArguments(input: unknown): string | undefined {
  if (input && typeof input === 'object' && Object.keys(input).length > 0) return JSON.stringify(input);
  return undefined;
}

function estimate(req: ChatRequest, text: string): Usage {
  const promptTokens = countMessagesTokens(req.messages);
  const completionTokens = countTextTokens(text);
  return { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens, exact: false };
}
