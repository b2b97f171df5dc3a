/* Anthropic stop_reason → unified FinishReason. */
import type { FinishReason } from '../types.js';

/**
 * Maps Anthropic's `stop_reason` (null until the message is finished, so null reads as a plain stop).
 * @see https://docs.anthropic.com/en/api/handling-stop-reasons
 */
export function mapStopReason(stopReason: string | null | undefined): FinishReason {
  switch (stopReason) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'LENGTH';
    case 'tool_use':
      return 'TOOL_CALLS';
    case 'refusal':
      return 'CONTENT_FILTER';
    // end_turn, stop_sequence, pause_turn and anything newer end the turn normally
    default:
      return 'STOP';
  }
}
