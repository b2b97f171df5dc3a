/*
 * The gateway's stream chunks as Anthropic's server-sent events, in Anthropic's order: message_start, ping, then per
 * content block content_block_start, its deltas (text_delta, thinking_delta, signature_delta, input_json_delta) and
 * content_block_stop, then message_delta (stop reason and usage) and message_stop. Each event is named
 * (`event: <type>`), as Anthropic's SDKs dispatch on the name.
 * @see https://docs.anthropic.com/en/docs/build-with-claude/streaming
 */
import { randomBytes } from 'node:crypto';
import type { ChatChunk, UsageOut } from '../../../gateway/results.js';
import type { FinishReason, ToolCallDelta } from '../../../providers/types.js';
import type { SseWriter } from '../sse.js';
import type { AnthropicErrorBody } from './errors.js';
import { STOP_REASON, anthropicUsage } from './to-message.js';

/**
 * An id for a tool call whose provider gave none: random, as a tool_use id must not repeat across the turns of a
 * conversation (the client answers each with a tool_result naming it).
 */
const toolUseId = () => `toolu_${randomBytes(12).toString('hex')}`;

/** The block being written: Anthropic streams one block at a time, and never reopens one. */
type OpenBlock = { kind: 'text' } | { kind: 'thinking' } | { kind: 'tool'; toolIndex: number };

export class MessageStreamWriter {
  private open: OpenBlock | null = null;
  /** The index of the next content block. */
  private next = 0;

  constructor(
    private readonly sse: SseWriter,
    private readonly id: string,
    private readonly model: string,
  ) {}

  private emit(data: { type: string } & Record<string, unknown>): Promise<boolean> {
    return this.sse.send(data, data.type);
  }

  /**
   * message_start carries the message with empty content; input tokens are not known before the upstream ends,
   * so they are 0 here and given in message_delta's usage, which Anthropic's SDKs take over the start's.
   */
  async start(): Promise<void> {
    const message = {
      id: this.id,
      type: 'message',
      role: 'assistant',
      model: this.model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    };
    await this.emit({ type: 'message_start', message });
    await this.emit({ type: 'ping' });
  }

  private async begin(block: OpenBlock, contentBlock: Record<string, unknown>): Promise<void> {
    await this.close();
    this.open = block;
    await this.emit({ type: 'content_block_start', index: this.next, content_block: contentBlock });
  }

  /** content_block_stop for the open block, if any. */
  private async close(): Promise<void> {
    if (!this.open) return;
    this.open = null;
    await this.emit({ type: 'content_block_stop', index: this.next++ });
  }

  private delta(delta: Record<string, unknown>): Promise<boolean> {
    return this.emit({ type: 'content_block_delta', index: this.next, delta });
  }

  /** One chunk of the gateway's stream: its reasoning, then its text, then its tool-call deltas. */
  async chunk(c: ChatChunk): Promise<void> {
    if (c.reasoning) await this.reasoning(c.reasoning);
    if (c.delta) {
      if (this.open?.kind !== 'text') await this.begin({ kind: 'text' }, { type: 'text', text: '' });
      await this.delta({ type: 'text_delta', text: c.delta });
    }
    for (const d of c.toolCalls ?? []) await this.toolCall(d);
  }

  /**
   * A reasoning piece: text goes into the open thinking block (a new one when none is open), a signature closes it,
   * redacted data is a block of its own.
   */
  private async reasoning(r: NonNullable<ChatChunk['reasoning']>): Promise<void> {
    if (r.redactedData !== undefined) {
      await this.begin({ kind: 'thinking' }, { type: 'redacted_thinking', data: r.redactedData });
      return this.close();
    }
    const startThinking = () => this.begin({ kind: 'thinking' }, { type: 'thinking', thinking: '', signature: '' });
    if (r.delta) {
      if (this.open?.kind !== 'thinking') await startThinking();
      await this.delta({ type: 'thinking_delta', thinking: r.delta });
    }
    if (r.signature !== undefined) {
      if (this.open?.kind !== 'thinking') await startThinking();
      if (r.signature) await this.delta({ type: 'signature_delta', signature: r.signature });
      await this.close();
    }
  }

  /**
   * A tool call's first delta (it has the id or name) opens its tool_use block; the arguments follow as
   * input_json_delta. A delta for a call other than the open one starts that call's block: calls stream one
   * after another from every adapter the gateway has.
   */
  private async toolCall(d: ToolCallDelta): Promise<void> {
    if (this.open?.kind !== 'tool' || this.open.toolIndex !== d.index) {
      await this.begin({ kind: 'tool', toolIndex: d.index }, { type: 'tool_use', id: d.id ?? toolUseId(), name: d.name ?? '', input: {} });
    }
    if (d.argumentsDelta) await this.delta({ type: 'input_json_delta', partial_json: d.argumentsDelta });
  }

  /** The end of the answer: the last block closed, then message_delta with the stop reason and usage, then message_stop. */
  async finish(finishReason: FinishReason, usage: UsageOut | null): Promise<void> {
    await this.close();
    const u = usage ? anthropicUsage(usage) : { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
    await this.emit({ type: 'message_delta', delta: { stop_reason: STOP_REASON[finishReason], stop_sequence: null }, usage: u });
    await this.emit({ type: 'message_stop' });
  }

  /** A failure after the stream started: Anthropic's `error` event, after which the stream ends. */
  async error(body: AnthropicErrorBody): Promise<void> {
    await this.sse.send(body, 'error');
  }
}
