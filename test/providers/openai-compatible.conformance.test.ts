/*
 * OPENAI_COMPATIBLE passes the shared adapter suite against the OpenAI mock, as a compatible server that reports
 * usage (vLLM, Groq, Mistral do with stream_options.include_usage); servers without usage are covered by
 * openai-compatible.test.ts. A local server needs no key, so this one runs without.
 */
import { createAdapterRegistry } from '../../src/providers/registry.js';
import { startOpenAIConformanceMock } from '../mocks/openai.js';
import { describeAdapterConformance } from './conformance/suite.js';

describeAdapterConformance({
  kind: 'OPENAI_COMPATIBLE',
  adapter: createAdapterRegistry().OPENAI_COMPATIBLE!,
  model: 'meta-llama/Llama-3.1-8B-Instruct',
  startMock: () => startOpenAIConformanceMock(),
  callOptions: () => ({}),
  // vLLM reports prompt_tokens_details.cached_tokens with prefix caching on; reasoning parsers report reasoning_tokens
  reports: { cachedRead: true, cacheWrite: false, reasoning: true },
  embeds: true,
});
