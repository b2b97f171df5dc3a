/* GEMINI passes the shared adapter suite against the Gemini mock (generateContent wire format, test/mocks/gemini.ts). */
import { createAdapterRegistry } from '../../src/providers/registry.js';
import { startGeminiConformanceMock } from '../mocks/gemini.js';
import { describeAdapterConformance } from './conformance/suite.js';

const API_KEY = 'AIzaSyConformance0123456789abcdefghijklm';

describeAdapterConformance({
  kind: 'GEMINI',
  adapter: createAdapterRegistry().GEMINI!,
  model: 'gemini-2.5-flash',
  startMock: () => startGeminiConformanceMock(),
  callOptions: () => ({ apiKey: API_KEY }),
  // cachedContentTokenCount (context caching) and thoughtsTokenCount; Gemini has no cache-write count
  // @see https://ai.google.dev/api/generate-content#UsageMetadata
  reports: { cachedRead: true, cacheWrite: false, reasoning: true },
  embeds: true,
  embeddingModel: 'gemini-embedding-001',
});
