/*
 * Reassembles the reasoning blocks of a streamed answer from ChatChunk.reasoning pieces (text deltas of the current
 * block; a signature or redacted data closes it), so the stored conversation can send them back on the next turn:
 * Anthropic refuses a tool result after a thinking turn without its signed thinking blocks.
 */
import type { ChatChunk } from '../../../gateway/results.js';
import type { ReasoningBlock } from '../../../providers/types.js';

export function reasoningCollector() {
  const blocks: ReasoningBlock[] = [];
  let open: ReasoningBlock | null = null;
  return {
    add(r: NonNullable<ChatChunk['reasoning']>): void {
      if (r.delta) {
        open ??= blocks[blocks.push({ text: '' }) - 1];
        open.text += r.delta;
      }
      if (r.signature) {
        (open ?? blocks[blocks.push({ text: '' }) - 1]).signature = r.signature;
        open = null;
      }
      if (r.redactedData) {
        blocks.push({ text: '', redactedData: r.redactedData });
        open = null;
      }
    },
    blocks: (): ReasoningBlock[] => blocks,
  };
}
