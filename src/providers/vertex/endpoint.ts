/* Vertex AI URLs: host from the location, the project from settings or the key file, publisher from the model. */
import type { CallOptions } from '../types.js';
import { UpstreamError } from '../types.js';
import { PROVIDER, type ServiceAccountKey } from './service-account.js';

/** Where Gemini (and most partner models) are served when the provider's settings name no region. */
const DEFAULT_LOCATION = 'us-central1';

/** A location id as Google spells them (us-central1, europe-west4, global): it becomes part of the host name. */
const LOCATION = /^[a-z][a-z0-9-]{0,62}$/;

/** Who publishes a model: Google (Gemini, generateContent) or Anthropic (Claude, rawPredict). */
export type Publisher = 'google' | 'anthropic';

/**
 * Claude model ids on Vertex start with `claude` (claude-sonnet-4-5@20250929, claude-3-5-haiku@20241022).
 * @see https://cloud.google.com/vertex-ai/generative-ai/docs/partner-models/claude/use-claude
 */
export function publisherOf(model: string): Publisher {
  return modelId(model).toLowerCase().startsWith('claude') ? 'anthropic' : 'google';
}

/** Accepts `models/x` and `publishers/{p}/models/x` for `x`. */
function modelId(model: string): string {
  return model.replace(/^publishers\/[^/]+\//, '').replace(/^models\//, '');
}

function location(opts: CallOptions): string {
  const loc = opts.settings?.region?.trim() || DEFAULT_LOCATION;
  if (!LOCATION.test(loc)) throw new UpstreamError({ provider: PROVIDER, message: `${PROVIDER}: settings.region is not a Vertex AI location id`, retryable: false });
  return loc;
}

/**
 * `https://{location}-aiplatform.googleapis.com`; the `global` location has no regional host.
 * @see https://cloud.google.com/vertex-ai/generative-ai/docs/learn/locations#global-endpoint
 */
function baseUrl(opts: CallOptions, loc: string): string {
  const configured = opts.baseUrl?.trim();
  if (configured) return configured.replace(/\/+$/, '');
  return loc === 'global' ? 'https://aiplatform.googleapis.com' : `https://${loc}-aiplatform.googleapis.com`;
}

/** One path segment; '@' stays as it is (Claude's version suffix), being legal in a path segment. */
function segment(s: string): string {
  return encodeURIComponent(s).replace(/%40/g, '@');
}

/**
 * `{base}/v1/projects/{project}/locations/{location}/publishers/{publisher}/models/{model}:{method}`.
 * Gemini: `generateContent`, `streamGenerateContent?alt=sse`; Claude: `rawPredict`, `streamRawPredict`.
 * @see https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/inference
 * @see https://cloud.google.com/vertex-ai/generative-ai/docs/partner-models/claude/use-claude
 */
export function methodUrl(opts: CallOptions, key: ServiceAccountKey, model: string, method: string): string {
  const project = opts.settings?.project?.trim() || key.project_id;
  if (!project) {
    throw new UpstreamError({ provider: PROVIDER, message: `${PROVIDER}: no project (set settings.project, or use a key file with project_id)`, retryable: false });
  }
  const loc = location(opts);
  return `${baseUrl(opts, loc)}/v1/projects/${segment(project)}/locations/${loc}/publishers/${publisherOf(model)}/models/${segment(modelId(model))}:${method}`;
}
