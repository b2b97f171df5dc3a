/*
 * The Azure OpenAI adapter: OpenAI's Chat Completions and Embeddings wire format on Azure deployments. The target's
 * upstream model is the deployment name; request bodies, responses, streams and error objects are the OpenAI
 * adapter's own modules, only the URL (deployment + api-version) and the credential header differ.
 * Azure's additions are handled there: `content_filter` finish reasons (CONTENT_FILTER), 400 `content_filter`
 * errors (final, not retried), `retry-after-ms` / `retry-after` on 429 (http.ts), the `prompt_filter_results`
 * chunk with empty `choices` that opens every stream (skipped).
 * @see https://learn.microsoft.com/en-us/azure/ai-services/openai/reference
 * @see https://learn.microsoft.com/en-us/azure/ai-services/openai/concepts/content-filter
 */
import { createOpenAIAdapter } from '../openai/index.js';
import type { ProviderAdapter } from '../types.js';
import { azureEndpoint, PROVIDER } from './endpoint.js';

export function createAzureOpenAIAdapter(): ProviderAdapter {
  return createOpenAIAdapter({ provider: PROVIDER, endpoint: azureEndpoint });
}
