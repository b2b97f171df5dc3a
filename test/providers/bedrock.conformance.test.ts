/*
 * BEDROCK passes the shared adapter suite against the Bedrock mock (Converse JSON and the ConverseStream binary
 * event stream, every request's SigV4 signature checked; test/mocks/bedrock.ts).
 */
import { createAdapterRegistry } from '../../src/providers/registry.js';
import { BEDROCK_MOCK_CREDENTIAL, BEDROCK_MOCK_REGION, BEDROCK_MOCK_SECRET, startBedrockMock } from '../mocks/bedrock.js';
import { describeAdapterConformance } from './conformance/suite.js';

describeAdapterConformance({
  kind: 'BEDROCK',
  adapter: createAdapterRegistry().BEDROCK!,
  model: 'anthropic.claude-3-5-sonnet-20240620-v1:0',
  startMock: () => startBedrockMock(),
  callOptions: () => ({ apiKey: BEDROCK_MOCK_CREDENTIAL, settings: { region: BEDROCK_MOCK_REGION } }),
  // cacheReadInputTokens / cacheWriteInputTokens are reported; reasoning is billed inside outputTokens, uncounted
  // @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_TokenUsage.html
  reports: { cachedRead: true, cacheWrite: true, reasoning: false },
  // the secret access key alone must not leak either
  secrets: [BEDROCK_MOCK_SECRET],
});
