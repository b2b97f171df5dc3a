/* Gemini streamGenerateContent?alt=sse events → unified StreamChunks. */
import type { EventSourceMessage } from 'eventsource-parser';
import { isRetryableStatus, parseEventData } from '../http.js';
import { UpstreamError, type ChatRequest, type StreamChunk } from '../types.js';
import { mapFinishReason } from './finish-reason.js';
import { PROVIDER, readParts, type GeminiErrorStatus, type GeminiResponse } from './response.js';
import { estimateUsage, mapUsage, type GeminiUsageMetadata } from './usage.js';

/**
 * An error object inside the stream (Google sends one when a stream fails after the 200 headers).
 * @see https://ai.google.dev/gemini-api/docs/troubleshooting#error-codes
 */
function streamErrorToUpstream(err: GeminiErrorStatus): UpstreamError {
  const status = typeof err.code === 'number' ? err.code : undefined;
  return new UpstreamError({
    provider: PROVIDER,
    status,
    message: `${PROVIDER} stream error${err.status ? ` (${err.status})` : ''}: ${err.message ?? 'unknown error'}`,
    retryable: status === undefined || isRetryableStatus(status),
  });
}

/**
 * Each SSE event is a whole GenerateContentResponse holding the next piece of the answer; usageMetadata
 * is cumulative (the last one wins) and the finishReason comes with the last event. Text and calls are
 * yielded as they arrive; the final chunk (finishReason + usage) follows once the stream has ended, and a
 * stream that ends without a finishReason was cut off and throws a retryable UpstreamError.
 * @see https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent
 */
export async function* geminiStream(events: AsyncIterable<EventSourceMessage>, req: ChatRequest): AsyncGenerator<StreamChunk> {
  let usage: GeminiUsageMetadata | undefined;
  let finishReason: string | undefined;
  let blockReason: string | undefined;
  let callCount = 0;
  let text = '';

  try {
    for await (const ev of events) {
      const data = parseEventData<GeminiResponse>(PROVIDER, ev.data);
      if (data.error) throw streamErrorToUpstream(data.error);
      if (data.usageMetadata) usage = data.usageMetadata;
      if (data.promptFeedback?.blockReason) blockReason = data.promptFeedback.blockReason;
      const candidate = data.candidates?.[0];
      const { text: delta, calls } = readParts(candidate?.content?.parts);
      if (delta || calls.length) {
        text += delta;
        const chunk: StreamChunk = { delta };
        if (calls.length) {
          chunk.toolCalls = calls.map((c, i) => ({ index: callCount + i, id: c.id, name: c.name, argumentsDelta: c.arguments }));
          callCount += calls.length;
        }
        yield chunk;
      }
      if (candidate?.finishReason) finishReason = candidate.finishReason;
    }
  } catch (e) {
    // the finishReason comes with the last event: a failing tail of the connection after it loses nothing
    if (!finishReason) throw e;
  }

  if (!finishReason && !blockReason) {
    throw new UpstreamError({ provider: PROVIDER, message: `${PROVIDER}: stream ended before a finish reason`, retryable: true });
  }
  yield {
    delta: '',
    finishReason: mapFinishReason(finishReason, { hasToolCalls: callCount > 0, blockReason }),
    usage: usage ? mapUsage(usage) : estimateUsage(req.messages, text),
  };
}
