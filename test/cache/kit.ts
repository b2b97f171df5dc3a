/* Helpers for the response cache suites: a gateway with models on the OpenAI mock, chat over every surface, usage rows. */
import { expect } from 'vitest';
import type { AnyJson } from '../kit/json.js';
import type { TestGateway } from '../kit/start-gateway.js';
import type { OpenAIMock } from '../mocks/openai.js';

const CHAT =
  'mutation($input: ChatInput!) { chat(input: $input) { id message { content } finishReason usage { promptTokens completionTokens totalTokens costUsd } } }';

export const CHAT_STREAM =
  'subscription($input: ChatInput!) { chatStream(input: $input) { index delta finishReason usage { promptTokens completionTokens totalTokens costUsd } toolCalls { index id name argumentsDelta } } }';

export interface ChatAnswer {
  id: string;
  message: { content: string | null };
  finishReason: string;
  usage: { promptTokens: number; completionTokens: number; totalTokens: number; costUsd: number };
}

export interface StreamChunk {
  index: number;
  delta: string;
  finishReason: string | null;
  usage: ChatAnswer['usage'] | null;
  toolCalls: AnyJson[] | null;
}

/** Provider `mock-openai` at the mock, and the models given (priced, so savings show). */
export async function addMockModels(gw: TestGateway, mock: OpenAIMock, models: Array<{ name: string; cache?: Record<string, unknown> }>): Promise<void> {
  const p = await gw.gql('mutation($i: CreateProviderInput!) { createProvider(input: $i) { id } }', {
    i: { name: 'mock-openai', kind: 'OPENAI', baseUrl: mock.baseUrl, apiKey: 'sk-mock' },
  });
  expect(p.errors).toBeUndefined();
  for (const m of models) {
    const r = await gw.gql('mutation($i: CreateModelInput!) { createModel(input: $i) { id } }', {
      i: { name: m.name, inputPricePerMTok: 1000, outputPricePerMTok: 2000, cache: m.cache, targets: [{ provider: 'mock-openai', upstreamModel: 'gpt-4o-mini' }] },
    });
    expect(r.errors).toBeUndefined();
  }
}

export async function chat(gw: TestGateway, key: string, input: Record<string, unknown>): Promise<{ answer: ChatAnswer; ms: number }> {
  const started = performance.now();
  const res = await gw.gql<{ chat: ChatAnswer }>(CHAT, { input }, key);
  const ms = performance.now() - started;
  if (!res.data?.chat) throw new Error(`chat failed: ${JSON.stringify(res.errors)}`);
  return { answer: res.data.chat, ms };
}

export const input = (model: string, text: string, extra: Record<string, unknown> = {}) => ({ model, messages: [{ role: 'USER', content: text }], ...extra });

export interface UsageNode {
  id: string;
  /** ChatResult.id */
  invocationId: string;
  status: string;
  errorCode: string | null;
  cacheHit: 'EXACT' | 'SEMANTIC' | null;
  cacheSimilarity: number | null;
  costUsd: number;
  costSavedUsd: number;
  promptTokens: number;
  completionTokens: number;
  streamed: boolean;
}

/** Every usage record of a key, oldest first (flushes first). */
export async function usageOf(gw: TestGateway, keyId: string): Promise<UsageNode[]> {
  await gw.flushUsage();
  const rows: UsageNode[] = [];
  let after: string | null = null;
  for (;;) {
    const res: { data?: { usage: { edges: Array<{ node: UsageNode }>; pageInfo: { hasNextPage: boolean; endCursor: string | null } } }; errors?: unknown } = await gw.gql(
      'query($f: UsageFilter, $after: String) { usage(filter: $f, first: 100, after: $after) { edges { node { id invocationId status errorCode cacheHit cacheSimilarity costUsd costSavedUsd promptTokens completionTokens streamed } } pageInfo { hasNextPage endCursor } } }',
      { f: { apiKeyId: keyId }, after },
    );
    if (!res.data) throw new Error(`usage failed: ${JSON.stringify(res.errors)}`);
    rows.push(...res.data.usage.edges.map((e) => e.node));
    if (!res.data.usage.pageInfo.hasNextPage) return rows.reverse();
    after = res.data.usage.pageInfo.endCursor;
  }
}
