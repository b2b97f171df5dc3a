/* Bedrock stopReason → unified FinishReason. */
import type { FinishReason } from '../types.js';

/**
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html#API_runtime_Converse_ResponseSyntax
 */
export function mapStopReason(stopReason: string | undefined): FinishReason {
  switch (stopReason) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'LENGTH';
    case 'tool_use':
      return 'TOOL_CALLS';
    case 'guardrail_intervened':
    case 'content_filtered':
      return 'CONTENT_FILTER';
    // end_turn, stop_sequence and anything newer end the turn normally
    default:
      return 'STOP';
  }
}
