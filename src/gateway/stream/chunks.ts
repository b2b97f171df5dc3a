/* Every chunk a stream sends is built here (relayed, replayed or last), so they all share one shape. */
import type { FinishReason } from '../../providers/types.js';
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

/** The stream's last chunk: no text, how it finished and what it used. */
export const lastChunk = (inv: Invocation, index: number, finishReason: FinishReason, usage: ChatChunk['usage']): ChatChunk =>
  streamChunk(inv, index, '', null, finishReason, usage);
