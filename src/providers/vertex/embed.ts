/*
 * Vertex AI text embeddings: `{model}:predict` with one instance per input text; each prediction reports the
 * tokens it counted, so usage is exact. gemini-embedding-001 takes one instance per request, the other models up to
 * 250 and 20,000 tokens per request.
 * @see https://cloud.google.com/vertex-ai/generative-ai/docs/embeddings/get-text-embeddings#api_limits
 * @see https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/text-embeddings-api
 */
import { countTextTokens } from '../count-tokens.js';
import type { EmbedRequest, Usage } from '../types.js';
import { UpstreamError } from '../types.js';
import { PROVIDER } from './service-account.js';

/** @see https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/text-embeddings-api#response_body */
export interface VertexPredictResponse {
  predictions?: Array<{ embeddings?: { values?: number[]; statistics?: { token_count?: number; truncated?: boolean } } }>;
}

const MAX_INSTANCES = 250;
/** Below the documented 20,000 input tokens per request: local counts are estimates. */
const MAX_BATCH_TOKENS = 15_000;

/** The inputs split into requests the model accepts, in order. */
export function embedBatches(req: EmbedRequest): string[][] {
  const perRequest = /(^|\/)gemini-embedding/.test(req.model) ? 1 : MAX_INSTANCES;
  const batches: string[][] = [];
  let batch: string[] = [];
  let tokens = 0;
  for (const text of req.input) {
    const n = countTextTokens(text);
    if (batch.length && (batch.length >= perRequest || tokens + n > MAX_BATCH_TOKENS)) {
      batches.push(batch);
      batch = [];
      tokens = 0;
    }
    batch.push(text);
    tokens += n;
  }
  if (batch.length) batches.push(batch);
  return batches;
}

/** The predict body of one batch. */
export function predictBody(batch: string[]): { instances: Array<{ content: string }> } {
  return { instances: batch.map((content) => ({ content })) };
}

/** The vectors of one batch and the tokens Vertex counted (undefined when a prediction has no statistics). */
export function readPredictions(res: VertexPredictResponse, batch: string[]): { vectors: number[][]; tokens?: number } {
  const preds = res.predictions ?? [];
  if (preds.length !== batch.length || preds.some((p) => !Array.isArray(p.embeddings?.values))) {
    throw new UpstreamError({ provider: PROVIDER, message: `${PROVIDER} returned ${preds.length} embeddings for ${batch.length} inputs`, retryable: true });
  }
  let tokens: number | undefined = 0;
  for (const p of preds) {
    const n = p.embeddings?.statistics?.token_count;
    tokens = typeof n === 'number' && tokens !== undefined ? tokens + n : undefined;
  }
  return { vectors: preds.map((p) => p.embeddings!.values!), tokens };
}

/** Exact when every batch reported its token count, else counted locally. */
export function embedUsage(input: string[], counted: Array<number | undefined>): Usage {
  if (counted.every((n) => n !== undefined)) {
    const promptTokens = counted.reduce<number>((a, n) => a + n!, 0);
    return { promptTokens, completionTokens: 0, totalTokens: promptTokens, exact: true };
  }
  const promptTokens = input.reduce((n, t) => n + countTextTokens(t), 0);
  return { promptTokens, completionTokens: 0, totalTokens: promptTokens, exact: false };
}
