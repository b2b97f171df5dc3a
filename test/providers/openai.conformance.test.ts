/* OPENAI passes the shared adapter suite against the OpenAI mock (Chat Completions wire format, test/mocks/openai.ts). */
import { createAdapterRegistry } from '../../src/providers/registry.js';
import { startOpenAIConformanceMock } from '../mocks/openai.js';
import { describeAdapterConformance } from './conformance/suite.js';

const API_KEY = 'sk-conformance-openai-0123456789abcdef';

describeAdapterConformance({
  kind: 'OPENAI',
  adapter: createAdapterRegistry().OPENAI!,
  model: 'gpt-4o-mini',
  // the mock answers 401 to any other key, as OpenAI does
  startMock: () => startOpenAIConformanceMock({ apiKey: API_KEY }),
  callOptions: () => ({ apiKey: API_KEY }),
  // @see https://platform.openai.com/docs/api-reference/chat/object#chat/object-usage
  reports: { cachedRead: true, cacheWrite: false, reasoning: true },
  embeds: true,
  embeddingModel: 'text-embedding-3-small',
});
