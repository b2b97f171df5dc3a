/* Claude on Vertex AI: the Anthropic Messages body, with the version in the body and the model in the URL. */
import { buildAnthropicRequest } from '../anthropic/request.js';
import type { ChatRequest } from '../types.js';

/**
 * The Messages API version Vertex AI takes, sent as `anthropic_version` in the body (not as a header).
 * @see https://cloud.google.com/vertex-ai/generative-ai/docs/partner-models/claude/use-claude
 * @see https://docs.anthropic.com/en/api/claude-on-vertex-ai
 */
const VERTEX_ANTHROPIC_VERSION = 'vertex-2023-10-16';

/** The rawPredict / streamRawPredict body: Anthropic's own request minus `model`, plus `anthropic_version`. */
export function buildVertexClaudeRequest(req: ChatRequest, stream: boolean): Record<string, unknown> {
  const { model: _model, ...body } = buildAnthropicRequest(req, stream);
  return { anthropic_version: VERTEX_ANTHROPIC_VERSION, ...body };
}
