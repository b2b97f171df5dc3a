/* Gemini finishReason / promptFeedback → unified FinishReason. */
import type { FinishReason } from '../types.js';

/** Finish reasons that mean the output was withheld or cut by a content filter. */
const FILTERED = new Set(['SAFETY', 'RECITATION', 'BLOCKLIST', 'PROHIBITED_CONTENT', 'SPII', 'IMAGE_SAFETY', 'IMAGE_PROHIBITED_CONTENT']);

/**
 * Maps a candidate's finishReason. Gemini reports STOP after function calls too, so the presence of
 * calls decides TOOL_CALLS; a prompt blocked before any candidate is a content filter.
 * @see https://ai.google.dev/api/generate-content#FinishReason
 */
export function mapFinishReason(
  finishReason: string | null | undefined,
  opts: { hasToolCalls: boolean; blockReason?: string | null },
): FinishReason {
  if (!finishReason && opts.blockReason) return 'CONTENT_FILTER';
  if (finishReason === 'MAX_TOKENS') return 'LENGTH';
  if (finishReason && FILTERED.has(finishReason)) return 'CONTENT_FILTER';
  if (opts.hasToolCalls) return 'TOOL_CALLS';
  // STOP, OTHER, LANGUAGE, MALFORMED_FUNCTION_CALL, FINISH_REASON_UNSPECIFIED and newer values
  return 'STOP';
}
