import type { FinishReason } from '../types.js';

/**
 * Maps OpenAI's `finish_reason` to the unified one; undefined while the choice is unfinished.
 * `function_call` is the deprecated predecessor of `tool_calls`; unknown reasons from compatible
 * servers (e.g. `eos`) mean the model stopped on its own.
 * @see https://platform.openai.com/docs/api-reference/chat/object#chat/object-choices
 */
export function mapFinishReason(reason: string | null | undefined): FinishReason | undefined {
  switch (reason) {
    case null:
    case undefined:
    case '':
      return undefined;
    case 'stop':
      return 'STOP';
    case 'length':
      return 'LENGTH';
    case 'tool_calls':
    case 'function_call':
      return 'TOOL_CALLS';
    case 'content_filter':
      return 'CONTENT_FILTER';
    default:
      return 'STOP';
  }
}
