/*
 * VERTEX passes the shared adapter suite twice against the Vertex AI mock (test/mocks/vertex.ts, with its token
 * endpoint): Gemini models (generateContent) and Claude models (rawPredict).
 */
import { describe } from 'vitest';
import { createAdapterRegistry } from '../../src/providers/registry.js';
import { startVertexMock, type VertexMock } from '../mocks/vertex.js';
import { describeAdapterConformance } from './conformance/suite.js';
import type { ConformanceMock } from './conformance/types.js';

const adapter = createAdapterRegistry().VERTEX!;
const callOptions = (mock: ConformanceMock) => ({ apiKey: (mock as VertexMock).credential, settings: { region: 'us-central1' } });
/** The PEM inside the key file must not leak either, whole or in part. */
let privateKey = '';
const startMock = async () => {
  const mock = await startVertexMock();
  privateKey = (JSON.parse(mock.credential) as { private_key: string }).private_key;
  return mock;
};

describe('Gemini models', () => {
  describeAdapterConformance({
    kind: 'VERTEX',
    adapter,
    model: 'gemini-2.5-flash',
    startMock,
    callOptions,
    get secrets() {
      return privateKey ? [privateKey] : [];
    },
    // usageMetadata.cachedContentTokenCount and thoughtsTokenCount, as on the Gemini API
    // @see https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/inference#usagemetadata
    reports: { cachedRead: true, cacheWrite: false, reasoning: true },
    embeds: true,
    embeddingModel: 'text-embedding-005',
  });
});

describe('Claude models', () => {
  describeAdapterConformance({
    kind: 'VERTEX',
    adapter,
    model: 'claude-sonnet-4-5@20250929',
    startMock,
    callOptions,
    get secrets() {
      return privateKey ? [privateKey] : [];
    },
    // Anthropic's usage object: cache_read_input_tokens, cache_creation_input_tokens; thinking inside output_tokens
    // @see https://docs.anthropic.com/en/api/messages#response-usage
    reports: { cachedRead: true, cacheWrite: true, reasoning: false },
  });
});
