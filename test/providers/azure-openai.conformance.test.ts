/* AZURE_OPENAI passes the shared adapter suite against the Azure OpenAI mock (deployments, api-version, api-key; test/mocks/azure-openai.ts). */
import { createAdapterRegistry } from '../../src/providers/registry.js';
import { startAzureOpenAIMock } from '../mocks/azure-openai.js';
import { describeAdapterConformance } from './conformance/suite.js';

const API_KEY = 'azure-conformance-key-0123456789abcdef';

describeAdapterConformance({
  kind: 'AZURE_OPENAI',
  adapter: createAdapterRegistry().AZURE_OPENAI!,
  // deployments named after their models, so the model Azure reports is the one called
  model: 'gpt-4o-mini',
  startMock: () => startAzureOpenAIMock({ apiKey: API_KEY, deployments: { 'gpt-4o-mini': 'gpt-4o-mini', 'text-embedding-3-small': 'text-embedding-3-small' } }),
  callOptions: () => ({ apiKey: API_KEY, settings: { apiVersion: '2024-10-21' } }),
  // OpenAI's usage object: prompt_tokens_details.cached_tokens, completion_tokens_details.reasoning_tokens; no cache writes
  // @see https://learn.microsoft.com/en-us/azure/ai-services/openai/how-to/prompt-caching
  reports: { cachedRead: true, cacheWrite: false, reasoning: true },
  embeds: true,
  embeddingModel: 'text-embedding-3-small',
});
