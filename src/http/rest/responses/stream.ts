/*
 * The gateway's chunks as Responses API stream events, in OpenAI's order, each with its `sequence_number`:
 *   response.created, response.in_progress,
 *   per item: response.output_item.added,
 *     message: response.content_part.added, response.output_text.delta…, response.output_text.done, response.content_part.done
 *     function_call: response.function_call_arguments.delta…, response.function_call_arguments.done
 *   response.output_item.done; then response.completed (or response.incomplete / response.failed).
 * One item is open at a time: text after a tool call, or the next tool call, closes the item before it.
 * @see https://platform.openai.com/docs/api-reference/responses-streaming
 */
import type { ChatChunk } from '../../../gateway/results.js';
import { GatewayError, isGatewayError } from '../../../errors.js';
import type { FinishReason, ReasoningBlock, ToolCall, ToolCallDelta } from '../../../providers/types.js';
import type { Principal } from '../../../services/keys.js';
import { errorResponse, sendError, type RestContext } from '../http.js';
import type { SseWriter } from '../sse.js';
import { relayStream, type StreamSurface } from '../stream-relay.js';
import { reasoningCollector } from './reasoning.js';
import {
  functionCallItem,
  messageItem,
  newId,
  statusOf,
  toResponseUsage,
  unixNow,
  type ItemStatus,
  type MessageItem,
  type OutputItem,
  type ResponseObject,
} from './response.js';

/** What the stream leaves behind when it completes: the Response and the output as the conversation's next turn. */
export interface StreamOutcome {
  response: ResponseObject;
  text: string | null;
  toolCalls: ToolCall[];
  /** The reasoning blocks that streamed (none from most providers); kept for the next turn, never shown. */
  reasoning: ReasoningBlock[];
}

interface OpenMessage {
  kind: 'message';
  outputIndex: number;
  id: string;
  text: string;
}
interface OpenCall {
  kind: 'call';
  outputIndex: number;
  id: string;
  /** The gateway's tool call index, which later deltas of the same call carry. */
  index: number;
  call: ToolCall;
}

/** Builds the events of one response and writes them, numbered. */
class EventWriter {
  private seq = 0;
  constructor(private readonly sse: SseWriter) {}
  send(type: string, fields: Record<string, unknown>): Promise<boolean> {
    return this.sse.send({ type, sequence_number: this.seq++, ...fields }, type);
  }
}

/** Responses API error codes for a failure after the stream started (Response.error.code). */
const failureCode = (err: unknown) => (isGatewayError(err) && (err.code === 'RATE_LIMITED' || err.code === 'QUOTA_EXCEEDED') ? 'rate_limit_exceeded' : 'server_error');

/**
 * Streams one response. Nothing is sent before the first chunk, so a failure before it (no target answered,
 * limits) still gets its HTTP status. `complete` runs before the last event (to store the response, so a client
 * that continues it at once finds it).
 */
export async function streamResponse(
  ctx: RestContext,
  stream: AsyncIterable<ChatChunk>,
  opts: {
    shell: ResponseObject;
    headers: Record<string, string>;
    principal: Principal;
    complete: (outcome: StreamOutcome) => Promise<void>;
  },
): Promise<void> {
  return relayStream(ctx, stream, {
    headers: opts.headers,
    principal: opts.principal,
    model: opts.shell.model,
    sendError: (err) => sendError(ctx, err),
    open: (_first, sse) => responseEvents(sse, opts),
  });
}

/** The events of one response, written as its chunks come (see the top of this file for their order). */
function responseEvents(sse: SseWriter, opts: { shell: ResponseObject; complete: (outcome: StreamOutcome) => Promise<void> }): StreamSurface {
  const ev = new EventWriter(sse);
  const output: OutputItem[] = [];
  const toolCalls: ToolCall[] = [];
  let text: string | null = null;
  let current: OpenMessage | OpenCall | null = null;
  const calls = new Map<number, OpenCall>();
  const reasoning = reasoningCollector();
  let finish: FinishReason | null = null;
  let usage: ChatChunk['usage'] = null;
  const snapshot = (over: Partial<ResponseObject>): ResponseObject => ({ ...opts.shell, output: [...output], ...over });

  const close = async (status: ItemStatus) => {
    const c = current;
    if (!c) return;
    current = null;
    if (c.kind === 'message') {
      const item = messageItem(c.id, c.text, status);
      const part = item.content[0];
      await ev.send('response.output_text.done', { item_id: c.id, output_index: c.outputIndex, content_index: 0, text: c.text, logprobs: [] });
      await ev.send('response.content_part.done', { item_id: c.id, output_index: c.outputIndex, content_index: 0, part });
      output[c.outputIndex] = item;
      await ev.send('response.output_item.done', { output_index: c.outputIndex, item });
    } else {
      const item = functionCallItem(c.id, c.call, 'completed');
      await ev.send('response.function_call_arguments.done', { item_id: c.id, output_index: c.outputIndex, name: c.call.name, arguments: c.call.arguments });
      output[c.outputIndex] = item;
      await ev.send('response.output_item.done', { output_index: c.outputIndex, item });
    }
  };

  const addText = async (delta: string) => {
    if (current?.kind !== 'message') {
      await close('completed');
      const m: OpenMessage = { kind: 'message', outputIndex: output.length, id: newId('msg'), text: '' };
      const item: MessageItem = { id: m.id, type: 'message', status: 'in_progress', role: 'assistant', content: [] };
      output.push(item);
      current = m;
      await ev.send('response.output_item.added', { output_index: m.outputIndex, item });
      await ev.send('response.content_part.added', { item_id: m.id, output_index: m.outputIndex, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } });
    }
    const m = current as OpenMessage;
    m.text += delta;
    text = (text ?? '') + delta;
    await ev.send('response.output_text.delta', { item_id: m.id, output_index: m.outputIndex, content_index: 0, delta, logprobs: [] });
  };

  const addToolDelta = async (d: ToolCallDelta) => {
    const seen = calls.get(d.index);
    if (seen && seen !== current) {
      // a late piece of a call already closed (providers stream calls one after another; this is a guard): it joins
      // the call for the final response and the conversation, without events the client could no longer place
      if (d.argumentsDelta) seen.call.arguments += d.argumentsDelta;
      output[seen.outputIndex] = functionCallItem(seen.id, seen.call, 'completed');
      return;
    }
    if (current?.kind !== 'call' || current.index !== d.index) {
      await close('completed');
      const call: ToolCall = { id: d.id || newId('call'), name: d.name ?? '', arguments: '' };
      toolCalls.push(call);
      const c: OpenCall = { kind: 'call', outputIndex: output.length, id: newId('fc'), index: d.index, call };
      calls.set(d.index, c);
      const item = { ...functionCallItem(c.id, call, 'in_progress') };
      output.push(item);
      current = c;
      await ev.send('response.output_item.added', { output_index: c.outputIndex, item });
    }
    const c = current as OpenCall;
    if (d.name && !c.call.name) c.call.name = d.name;
    if (d.argumentsDelta) {
      c.call.arguments += d.argumentsDelta;
      await ev.send('response.function_call_arguments.delta', { item_id: c.id, output_index: c.outputIndex, delta: d.argumentsDelta });
    }
  };

  /** A failure after the stream started: the Response as it stood, failed, with the error (OpenAI's `response.failed`). */
  const fail = async (err: unknown): Promise<void> => {
    const { message } = errorResponse(err).body.error;
    await ev.send('response.failed', { response: snapshot({ status: 'failed', error: { code: failureCode(err), message } }) });
  };

  return {
    async start() {
      await ev.send('response.created', { response: snapshot({}) });
      await ev.send('response.in_progress', { response: snapshot({}) });
    },
    async chunk(c) {
      if (c.reasoning) reasoning.add(c.reasoning);
      if (c.delta) await addText(c.delta);
      for (const d of c.toolCalls ?? []) await addToolDelta(d);
      if (c.finishReason) {
        finish = c.finishReason;
        usage = c.usage;
      }
    },
    async end(endedBy) {
      if (endedBy || !finish) {
        // ended by a key change, or the stream stopped without saying how it finished: either way the client is told
        if (!sse.closed) await fail(endedBy ?? new GatewayError('UPSTREAM_ERROR', 'The stream ended early', {}));
        return;
      }
      const done = statusOf(finish);
      await close(done.status === 'completed' ? 'completed' : 'incomplete');
      const response = snapshot({ ...done, completed_at: unixNow(), usage: usage ? toResponseUsage(usage) : null });
      await opts.complete({ response, text, toolCalls, reasoning: reasoning.blocks() });
      await ev.send(done.status === 'completed' ? 'response.completed' : 'response.incomplete', { response });
    },
    error: fail,
  };
}
