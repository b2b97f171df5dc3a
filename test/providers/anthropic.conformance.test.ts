/* ANTHROPIC passes the shared adapter suite against the Anthropic mock (Messages API wire format, test/mocks/anthropic.ts). */
import { createAdapterRegistry } from '../../src/providers/registry.js';
import { startAnthropicConformanceMock } from '../mocks/anthropic.js';
import { describeAdapterConformance } from './conformance/suite.js';

const API_KEY = 'sk-ant-api03-conformance-0123456789abcdef';

describeAdapterConformance({
  kind: 'ANTHROPIC',
  adapter: createAdapterRegistry().ANTHROPIC!,
  model: 'claude-sonnet-4-5',
  startMock: () => startAnthropicConformanceMock(),
  callOptions: () => ({ apiKey: API_KEY }),
  // thinking is billed inside output_tokens with no separate count
  // @see https://docs.anthropic.com/en/api/messages#response-usage
  reports: { cachedRead: true, cacheWrite: true, reasoning: false },
});
