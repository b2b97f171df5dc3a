/* ConverseStream event-stream messages → unified StreamChunks. */
import type { Message } from '@smithy/eventstream-codec';
import { UpstreamError, type ChatRequest, type StreamChunk } from '../types.js';
import { PROVIDER, streamException } from './errors.js';
import { headerString, smithyUtf8 } from './eventstream.js';
import { mapStopReason } from './finish-reason.js';
import { estimateUsage, mapUsage, type BedrockUsage } from './usage.js';

/** Event payloads; each also carries a random-length `p` padding field Bedrock adds, ignored here. */
interface ContentBlockStart {
  contentBlockIndex: number;
  start?: { toolUse?: { toolUseId: string; name: string } };
}
interface ContentBlockDelta {
  contentBlockIndex: number;
  delta?: {
    text?: string;
    toolUse?: { input?: string };
    reasoningContent?: { text?: string; signature?: string; redactedContent?: string };
  };
}

function parseBody<T>(message: Message): T {
  try {
    return JSON.parse(smithyUtf8().toUtf8(message.body)) as T;
  } catch {
    throw new UpstreamError({ provider: PROVIDER, message: `${PROVIDER} sent a malformed stream event`, retryable: true });
  }
}

/**
 * Turns ConverseStream messages into chunks as each arrives. `metadata` (usage) follows `messageStop`, so the
 * final chunk (finishReason + usage) is yielded once both came, or when the stream ends after messageStop.
 * A stream that ends before messageStop was cut off: a retryable UpstreamError. Exception messages throw.
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStreamOutput.html
 */
export async function* converseStream(messages: AsyncIterable<Message>, req: ChatRequest): AsyncGenerator<StreamChunk> {
  let stopReason: string | undefined;
  let usage: BedrockUsage | undefined;
  let stopped = false;
  let finished = false;
  let text = '';
  let nextToolIndex = 0;
  // content block index → tool call index (tool calls are numbered apart from text blocks)
  const tools = new Map<number, { index: number; gotArgs: boolean }>();

  const final = (): StreamChunk => ({
    delta: '',
    finishReason: mapStopReason(stopReason),
    usage: usage ? mapUsage(usage) : estimateUsage(req.messages, text),
  });

  try {
    for await (const m of messages) {
      if (finished) continue; // drain the tail so the connection can be reused
      const kind = headerString(m, ':message-type');
      // modelled exceptions carry their name in :exception-type and `{ message }` in the body; a protocol-level
      // `error` message carries both in headers (:error-code, :error-message)
      if (kind === 'exception') throw streamException(headerString(m, ':exception-type'), smithyUtf8().toUtf8(m.body));
      if (kind === 'error') {
        throw streamException(headerString(m, ':error-code'), JSON.stringify({ message: headerString(m, ':error-message') ?? 'unknown error' }));
      }
      switch (headerString(m, ':event-type')) {
        case 'contentBlockStart': {
          const ev = parseBody<ContentBlockStart>(m);
          const tu = ev.start?.toolUse;
          if (!tu) break;
          const index = nextToolIndex++;
          tools.set(ev.contentBlockIndex, { index, gotArgs: false });
          yield { delta: '', toolCalls: [{ index, id: tu.toolUseId, name: tu.name }] };
          break;
        }
        case 'contentBlockDelta': {
          const ev = parseBody<ContentBlockDelta>(m);
          const d = ev.delta ?? {};
          if (typeof d.text === 'string' && d.text) {
            text += d.text;
            yield { delta: d.text };
          } else if (d.toolUse?.input) {
            const tool = tools.get(ev.contentBlockIndex);
            if (!tool) break;
            tool.gotArgs = true;
            yield { delta: '', toolCalls: [{ index: tool.index, argumentsDelta: d.toolUse.input }] };
          } else if (d.reasoningContent) {
            const r = d.reasoningContent;
            if (r.text) yield { delta: '', reasoning: { delta: r.text } };
            else if (r.signature) yield { delta: '', reasoning: { signature: r.signature } };
            else if (r.redactedContent) yield { delta: '', reasoning: { redactedData: r.redactedContent } };
          }
          break;
        }
        case 'contentBlockStop': {
          const ev = parseBody<{ contentBlockIndex: number }>(m);
          const tool = tools.get(ev.contentBlockIndex);
          // a call without arguments streams no input delta; '{}' keeps the assembled arguments valid JSON
          if (tool && !tool.gotArgs) {
            tool.gotArgs = true;
            yield { delta: '', toolCalls: [{ index: tool.index, argumentsDelta: '{}' }] };
          }
          break;
        }
        case 'messageStop':
          stopReason = parseBody<{ stopReason?: string }>(m).stopReason;
          stopped = true;
          break;
        case 'metadata':
          usage = parseBody<{ usage?: BedrockUsage }>(m).usage ?? usage;
          if (stopped) {
            finished = true;
            yield final();
          }
          break;
        // messageStart and unknown events carry nothing the unified chunk holds
        default:
          break;
      }
    }
  } catch (e) {
    // once messageStop arrived the answer is complete; a failing tail (or a lost metadata event) changes nothing
    if (!stopped) throw e;
  }
  if (finished) return;
  if (!stopped) throw new UpstreamError({ provider: PROVIDER, message: `${PROVIDER}: stream ended before messageStop`, retryable: true });
  yield final();
}
