/* Azure OpenAI's deployment URLs and credential headers, for the OpenAI adapter's request/response/stream code. */
import { LRUCache } from 'lru-cache';
import type { OpenAIEndpoint, OpenAIOperation } from '../openai/index.js';
import { UpstreamError, type CallOptions } from '../types.js';

export const PROVIDER = 'azure-openai';

/**
 * The data-plane inference version used when the provider's settings name none: the latest GA release, which takes
 * `max_completion_tokens` (reasoning models require it) and `stream_options.include_usage`.
 * @see https://learn.microsoft.com/en-us/azure/ai-services/openai/reference
 * @see https://learn.microsoft.com/en-us/azure/ai-services/openai/api-version-deprecation
 */
export const DEFAULT_API_VERSION = '2024-10-21';

/**
 * `{endpoint}/openai/deployments/{deployment-id}/{operation}?api-version=…`. The base URL is the resource endpoint
 * (`https://{resource}.openai.azure.com`); one that already ends in `/openai` is taken as well. There is no public
 * default: every resource has its own host, and guessing one would send the credential elsewhere.
 * @see https://learn.microsoft.com/en-us/azure/ai-services/openai/reference#chat-completions
 * @see https://learn.microsoft.com/en-us/azure/ai-services/openai/reference#embeddings
 */
function deploymentBase(baseUrl: string | undefined): string {
  const url = baseUrl?.trim();
  if (!url) throw new UpstreamError({ provider: PROVIDER, message: `${PROVIDER}: no base URL configured (https://{resource}.openai.azure.com)`, retryable: false });
  return `${url.replace(/\/+$/, '').replace(/\/openai$/i, '')}/openai/deployments/`;
}

/** URLs per (base URL, deployment, operation, api-version): a gateway calls a handful of deployments over and over. */
const urls = new LRUCache<string, string>({
  max: 1000,
  memoMethod: (key) => {
    const [baseUrl, deployment, op, apiVersion] = JSON.parse(key) as [string, string, OpenAIOperation, string];
    // the deployment is one path segment: a stored name can never move the call to another path of the resource
    return `${deploymentBase(baseUrl)}${encodeURIComponent(deployment)}/${op}?api-version=${encodeURIComponent(apiVersion)}`;
  },
});

/**
 * API_KEY (the default) sends the resource key as `api-key`; BEARER sends a Microsoft Entra ID access token
 * (scope `https://cognitiveservices.azure.com/.default`) as `Authorization: Bearer`.
 * @see https://learn.microsoft.com/en-us/azure/ai-services/openai/reference#authentication
 */
function auth(opts: CallOptions): Record<string, string> {
  if (!opts.apiKey) return {};
  return opts.settings?.authScheme === 'BEARER' ? { authorization: `Bearer ${opts.apiKey}` } : { 'api-key': opts.apiKey };
}

export const azureEndpoint: OpenAIEndpoint = {
  url: (op, model, opts) => urls.memo(JSON.stringify([opts.baseUrl ?? '', model, op, opts.settings?.apiVersion || DEFAULT_API_VERSION])),
  auth,
};
