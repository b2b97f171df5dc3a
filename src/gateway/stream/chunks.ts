/* Every chunk a stream sends is built here (relayed, replayed or last), so they all share one shape. */
import type { FinishReason, ReasoningBlock, StreamChunk } from '../../providers/types.js';
import type { Invocation } from '../invocation.js';
import type { ChatChunk } from '../results.js';

export function streamChunk(
  inv: Invocation,
  index: number,
  delta: string,
  toolCalls: ChatChunk['toolCalls'],
  finishReason: FinishReason | null = null,
  usage: ChatChunk['usage'] = null,
): ChatChunk {
  return { invocationId: inv.id, index, model: inv.modelName, delta, toolCalls, finishReason, usage };
}

/**
 * Whether this stream sends reasoning chunks: only to a surface that shows them (InvocationOptions.reasoning), and
 * never under output filters (reasoning is kept for the answer but withheld from the client, see guardrails.ts).
 */
export function sendsReasoning(inv: Invocation): boolean {
  return inv.options.reasoning === true && !inv.outputFilters.length;
}

/** A chunk that carries reasoning (most carry none, so the key is only there when it does). */
export function reasoningChunk(inv: Invocation, index: number, delta: string, toolCalls: ChatChunk['toolCalls'], reasoning: NonNullable<ChatChunk['reasoning']>): ChatChunk {
  return { invocationId: inv.id, index, model: inv.modelName, delta, toolCalls, reasoning, finishReason: null, usage: null };
}

/** Reasoning blocks as the stream pieces that rebuild them: each block's text, then what closes it. */
export function reasoningPieces(blocks: ReasoningBlock[]): Array<NonNullable<ChatChunk['reasoning']>> {
  const out: Array<NonNullable<ChatChunk['reasoning']>> = [];
  for (const b of blocks) {
    if (b.redactedData !== undefined) {
      out.push({ redactedData: b.redactedData });
      continue;
    }
    if (b.text) out.push({ delta: b.text });
    // a block without a signature still needs an end, or the next block's text would run on into it
    out.push({ signature: b.signature ?? '' });
  }
  return out;
}

/**
 * Folds one streamed reasoning piece into the blocks assembled so far: text goes to the open block (a new one when
 * the last is closed), a signature closes it, redacted data is a block of its own.
 */
export function addReasoning(blocks: ReasoningBlock[], piece: NonNullable<StreamChunk['reasoning']>, open: { value: boolean }): void {
  if (piece.redactedData !== undefined) {
    blocks.push({ text: '', redactedData: piece.redactedData });
    open.value = false;
    return;
  }
  if (piece.delta) {
    if (!open.value) {
      blocks.push({ text: '' });
      open.value = true;
    }
    blocks[blocks.length - 1]!.text += piece.delta;
  }
  if (piece.signature !== undefined) {
    if (!open.value) blocks.push({ text: '' });
    if (piece.signature) blocks[blocks.length - 1]!.signature = piece.signature;
    open.value = false;
  }
}

/** The stream's last chunk: no text, how it finished and what it used. */
export const lastChunk = (inv: Invocation, index: number, finishReason: FinishReason, usage: ChatChunk['usage']): ChatChunk =>
  streamChunk(inv, index, '', null, finishReason, usage);
