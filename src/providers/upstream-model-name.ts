/* Which upstream model names a target on each provider kind may carry: checked when a target is created or changed. */
import type { ProviderKind } from './registry.js';

// C0 controls and DEL are never part of a model id; they would end up in URLs, request bodies and log lines
// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Gemini puts the model in the URL (`/v1beta/models/{model}:generateContent`): one path segment of Google's
 * resource-id characters, optionally named as the `models/` resource. Nothing that could end the segment or the
 * path ('/', '?', '#', ':', '%', '\', a '..' segment) gets through, so no name can point the call elsewhere.
 * @see https://ai.google.dev/api/models#model
 */
const GEMINI_MODEL = /^(?:models\/)?[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$/;

/**
 * An Azure OpenAI deployment name, which becomes a path segment (`/openai/deployments/{name}/…`): letters, digits,
 * '.', '_' and '-'.
 * @see https://learn.microsoft.com/en-us/azure/ai-services/openai/how-to/create-resource#deploy-a-model
 */
const AZURE_DEPLOYMENT = /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9_])?$/;

/**
 * A Vertex AI publisher model id, a path segment as well (`…/models/{model}:generateContent`); Claude ids carry an
 * '@' version suffix (claude-sonnet-4-5@20250929).
 * @see https://cloud.google.com/vertex-ai/generative-ai/docs/partner-models/claude/use-claude
 */
const VERTEX_MODEL = /^(?:publishers\/(?:google|anthropic)\/)?(?:models\/)?[A-Za-z0-9](?:[A-Za-z0-9._@-]*[A-Za-z0-9])?$/;

/** At most this many characters: the longest real model ids are well under 100. */
const MAX_UPSTREAM_MODEL_LENGTH = 256;

/**
 * What is wrong with an upstream model name for this provider kind, or undefined when it may be used. OpenAI,
 * Anthropic and OpenAI-compatible servers get the model in the JSON body, where '/' is common
 * (`meta-llama/Llama-3-8b-chat-hf` on Together, OpenRouter or vLLM): only control characters are refused there.
 */
export function upstreamModelProblem(kind: ProviderKind, name: string): string | undefined {
  if (name.length > MAX_UPSTREAM_MODEL_LENGTH) return `must be at most ${MAX_UPSTREAM_MODEL_LENGTH} characters`;
  if (CONTROL.test(name)) return 'must not contain control characters';
  if (kind === 'GEMINI' && (!GEMINI_MODEL.test(name) || name.includes('..'))) {
    return "must be a Gemini model id (letters, digits, '.', '_' and '-', optionally after 'models/'): it becomes part of the request path";
  }
  if (kind === 'AZURE_OPENAI' && (!AZURE_DEPLOYMENT.test(name) || name.includes('..'))) {
    return "must be an Azure OpenAI deployment name (letters, digits, '.', '_' and '-'): it becomes part of the request path";
  }
  if (kind === 'VERTEX' && (!VERTEX_MODEL.test(name) || name.includes('..'))) {
    return "must be a Vertex AI model id (letters, digits, '.', '_', '-' and '@', optionally after 'publishers/{google|anthropic}/models/'): it becomes part of the request path";
  }
  return undefined;
}
