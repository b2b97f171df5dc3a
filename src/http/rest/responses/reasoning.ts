/*
 * Reassembles the reasoning blocks of a streamed answer from ChatChunk.reasoning pieces, so the stored conversation
 * can send them back on the next turn: Anthropic refuses a tool result after a thinking turn without its signed
 * thinking blocks. The rule is the stream relay's own (addReasoning: text deltas join the open block, a signature,
 * even an empty one closing an unsigned block on cache replay, closes it; redacted data is a block of its own);
 * this only holds its state.
 */
import { addReasoning } from '../../../gateway/stream/chunks.js';
import type { ChatChunk } from '../../../gateway/results.js';
import type { ReasoningBlock } from '../../../providers/types.js';

export function reasoningCollector() {
  const blocks: ReasoningBlock[] = [];
  const open = { value: false };
  return {
    add: (r: NonNullable<ChatChunk['reasoning']>): void => addReasoning(blocks, r, open),
    blocks: (): ReasoningBlock[] => blocks,
  };
}
