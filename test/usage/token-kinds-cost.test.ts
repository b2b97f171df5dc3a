/**
 * A usage record's cost is the provider's published prices × each kind of token (uncached input, cache read,
 * cache write, output, reasoning), for every provider kind: once at the price catalogue's prices (the model has
 * none of its own), once at an operator's own prices (which override the catalogue), through GraphQL `chat`, and
 * once streamed through REST chat completions.
 *
 * One row per provider kind and model family (KINDS below; VERTEX twice: Gemini and Claude). A row: its mock (a
 * ConformanceMock-like server of test/mocks) with the provider's credential and settings when the kind needs its
 * own, an upstream model id the catalogue lists for that kind, the published prices with the pricing page they
 * come from, and `reply`, which scripts the mock to report the token kinds in the provider's own wire format.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { readSse } from '../kit/sse.js';
import { ok, uniq, type ProviderKind } from '../gateway/helpers.js';
import { startOpenAIMock } from '../mocks/openai.js';
import { startAnthropicMock } from '../mocks/anthropic.js';
import { startGeminiMock } from '../mocks/gemini.js';
import { startAzureOpenAIMock } from '../mocks/azure-openai.js';
import { BEDROCK_MOCK_CREDENTIAL, BEDROCK_MOCK_REGION, startBedrockMock } from '../mocks/bedrock.js';
import { startVertexMock } from '../mocks/vertex.js';

/** Token counts as the gateway reports them: the three kinds are parts of prompt / completion. */
interface Tokens {
  prompt: number;
  cachedRead: number;
  cacheWrite: number;
  completion: number;
  reasoning: number;
}

/** USD per million tokens; an unset kind is billed at the input (cache) or output (reasoning) price. */
interface Prices {
  input: number;
  output: number;
  cachedRead?: number;
  cacheWrite?: number;
  reasoning?: number;
}

interface KindRow {
  kind: ProviderKind | 'AZURE_OPENAI' | 'BEDROCK' | 'VERTEX';
  /**
   * Starts the kind's mock: its base URL for the provider, the provider's credential and settings when the kind
   * needs its own (default credential 'sk-provider', no settings), how to script it, and how to stop it.
   */
  start(): Promise<{ baseUrl: string; apiKey?: string; settings?: Record<string, string>; reply(t: Tokens): void; close(): Promise<void> }>;
  /** A model id of this kind the catalogue lists. */
  upstreamModel: string;
  /** The provider's published prices for it. */
  published: Prices;
  pricingPage: string;
  /** What the call reports: a provider that has no count for a kind (Anthropic: reasoning) reports 0 of it. */
  tokens: Tokens;
}

const KINDS: KindRow[] = [
  {
    kind: 'OPENAI',
    async start() {
      const mock = await startOpenAIMock();
      return {
        baseUrl: mock.baseUrl,
        // @see https://platform.openai.com/docs/api-reference/chat/object#chat/object-usage
        reply: (t) =>
          mock.reply({ usage: { prompt_tokens: t.prompt, completion_tokens: t.completion, cached_tokens: t.cachedRead, reasoning_tokens: t.reasoning } }),
        close: () => mock.close(),
      };
    },
    upstreamModel: 'o3-mini',
    // o3-mini: $1.10 input, $0.55 cached input, $4.40 output (reasoning tokens are billed as output)
    published: { input: 1.1, cachedRead: 0.55, output: 4.4 },
    pricingPage: 'https://platform.openai.com/docs/pricing',
    tokens: { prompt: 2000, cachedRead: 1024, cacheWrite: 0, completion: 500, reasoning: 320 },
  },
  {
    kind: 'ANTHROPIC',
    async start() {
      const mock = await startAnthropicMock();
      return {
        baseUrl: mock.url,
        // input_tokens counts only the uncached rest; thinking is inside output_tokens (no separate count)
        // @see https://docs.anthropic.com/en/api/messages#response-usage
        reply: (t) =>
          mock.reply({
            usage: {
              input_tokens: t.prompt - t.cachedRead - t.cacheWrite,
              cache_read_input_tokens: t.cachedRead,
              cache_creation_input_tokens: t.cacheWrite,
              output_tokens: t.completion,
            },
          }),
        close: () => mock.close(),
      };
    },
    upstreamModel: 'claude-sonnet-4-20250514',
    // Claude Sonnet 4: $3 input, $3.75 5-minute cache writes, $0.30 cache hits, $15 output (thinking billed as output)
    published: { input: 3, cacheWrite: 3.75, cachedRead: 0.3, output: 15 },
    pricingPage: 'https://www.anthropic.com/pricing#api',
    tokens: { prompt: 4300, cachedRead: 3000, cacheWrite: 1200, completion: 400, reasoning: 0 },
  },
  {
    kind: 'GEMINI',
    async start() {
      const mock = await startGeminiMock();
      return {
        baseUrl: mock.url,
        // promptTokenCount includes the cached content; thoughtsTokenCount is apart from candidatesTokenCount
        // @see https://ai.google.dev/api/generate-content#UsageMetadata
        reply: (t) =>
          mock.reply({
            usage: {
              promptTokenCount: t.prompt,
              cachedContentTokenCount: t.cachedRead,
              candidatesTokenCount: t.completion - t.reasoning,
              thoughtsTokenCount: t.reasoning,
            },
          }),
        close: () => mock.close(),
      };
    },
    upstreamModel: 'gemini-2.5-flash',
    // Gemini 2.5 Flash: $0.30 input (text), $0.03 context caching, $2.50 output "including thinking tokens"
    published: { input: 0.3, cachedRead: 0.03, output: 2.5 },
    pricingPage: 'https://ai.google.dev/gemini-api/docs/pricing',
    tokens: { prompt: 5000, cachedRead: 4000, cacheWrite: 0, completion: 750, reasoning: 600 },
  },
  {
    kind: 'AZURE_OPENAI',
    async start() {
      // a deployment named after its model, so the catalogue finds it by the target's upstream model (the deployment)
      const mock = await startAzureOpenAIMock({ apiKey: 'sk-provider', deployments: { 'o3-mini': 'o3-mini-2025-01-31' } });
      return {
        baseUrl: mock.url,
        settings: { apiVersion: '2024-10-21' },
        // OpenAI's usage object: prompt_tokens_details.cached_tokens, completion_tokens_details.reasoning_tokens
        // @see https://learn.microsoft.com/en-us/azure/ai-services/openai/reference#chat-completions
        reply: (t) => mock.reply({ usage: conformanceUsage(t) }),
        close: () => mock.close(),
      };
    },
    upstreamModel: 'o3-mini',
    // o3-mini (Global deployment): $1.10 input, $0.55 cached input, $4.40 output (reasoning billed as output)
    published: { input: 1.1, cachedRead: 0.55, output: 4.4 },
    pricingPage: 'https://azure.microsoft.com/en-us/pricing/details/cognitive-services/openai-service/',
    tokens: { prompt: 2000, cachedRead: 1024, cacheWrite: 0, completion: 500, reasoning: 320 },
  },
  {
    kind: 'BEDROCK',
    async start() {
      const mock = await startBedrockMock();
      return {
        baseUrl: mock.url,
        // `accessKeyId:secretAccessKey`; the mock checks the SigV4 signature made with it for this region
        apiKey: BEDROCK_MOCK_CREDENTIAL,
        settings: { region: BEDROCK_MOCK_REGION },
        // inputTokens is the uncached rest, cacheReadInputTokens / cacheWriteInputTokens apart, thinking inside
        // outputTokens (the mock writes these fields from the gateway's totals)
        // @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_TokenUsage.html
        reply: (t) => mock.reply({ usage: conformanceUsage(t) }),
        close: () => mock.close(),
      };
    },
    upstreamModel: 'anthropic.claude-sonnet-4-20250514-v1:0',
    // Claude Sonnet 4 on Bedrock (on-demand): $3 input, $3.75 cache write, $0.30 cache read, $15 output
    published: { input: 3, cacheWrite: 3.75, cachedRead: 0.3, output: 15 },
    pricingPage: 'https://aws.amazon.com/bedrock/pricing/',
    tokens: { prompt: 4300, cachedRead: 3000, cacheWrite: 1200, completion: 400, reasoning: 0 },
  },
  {
    kind: 'VERTEX',
    async start() {
      const mock = await startVertexMock();
      return {
        baseUrl: mock.url,
        // the service account's key file, whose token_uri is the mock's token endpoint
        apiKey: mock.credential,
        // Gemini's usageMetadata: promptTokenCount includes cachedContentTokenCount, thoughtsTokenCount apart
        // @see https://cloud.google.com/vertex-ai/docs/reference/rest/v1/GenerateContentResponse#UsageMetadata
        reply: (t) => mock.reply({ usage: conformanceUsage(t) }),
        close: () => mock.close(),
      };
    },
    upstreamModel: 'gemini-2.5-flash',
    // Gemini 2.5 Flash on Vertex AI: $0.30 input (text), $0.03 cached input, $2.50 output (thinking billed as output)
    published: { input: 0.3, cachedRead: 0.03, output: 2.5 },
    pricingPage: 'https://cloud.google.com/vertex-ai/generative-ai/pricing#gemini-models',
    tokens: { prompt: 5000, cachedRead: 4000, cacheWrite: 0, completion: 750, reasoning: 600 },
  },
  {
    kind: 'VERTEX',
    async start() {
      const mock = await startVertexMock();
      return {
        baseUrl: mock.url,
        apiKey: mock.credential,
        // Claude through rawPredict: Anthropic's usage object (input_tokens is the uncached rest)
        // @see https://docs.anthropic.com/en/api/messages#response-usage
        reply: (t) => mock.reply({ usage: conformanceUsage(t) }),
        close: () => mock.close(),
      };
    },
    upstreamModel: 'claude-sonnet-4@20250514',
    // Claude Sonnet 4 on Vertex AI: $3 input, $3.75 cache write, $0.30 cache hit, $15 output
    published: { input: 3, cacheWrite: 3.75, cachedRead: 0.3, output: 15 },
    pricingPage: 'https://cloud.google.com/vertex-ai/generative-ai/pricing#claude-models',
    tokens: { prompt: 4300, cachedRead: 3000, cacheWrite: 1200, completion: 400, reasoning: 0 },
  },
];

/** The gateway's totals in the shape the conformance mocks take; each mock writes its provider's own fields. */
function conformanceUsage(t: Tokens) {
  return { input: t.prompt, output: t.completion, cachedRead: t.cachedRead, cacheWrite: t.cacheWrite, reasoning: t.reasoning };
}

/** An operator's own prices, each kind different from the others so a kind billed at the wrong rate shows. */
const OPERATOR: Required<Prices> = { input: 1, output: 2, cachedRead: 0.25, cacheWrite: 1.5, reasoning: 8 };

/** The bill, by hand: each kind of token × its price. */
function expectedCost(p: Prices, t: Tokens): number {
  const uncached = t.prompt - t.cachedRead - t.cacheWrite;
  const plainOutput = t.completion - t.reasoning;
  const usd =
    uncached * p.input +
    t.cachedRead * (p.cachedRead ?? p.input) +
    t.cacheWrite * (p.cacheWrite ?? p.input) +
    plainOutput * p.output +
    t.reasoning * (p.reasoning ?? p.output);
  return usd / 1e6;
}

const CATALOGUE_VERSION = (JSON.parse(readFileSync('node_modules/@pydantic/genai-prices/package.json', 'utf8')) as { version: string }).version;

const CHAT = /* GraphQL */ `
  mutation($input: ChatInput!) {
    chat(input: $input) { id usage { promptTokens completionTokens cachedInputTokens cacheWriteTokens reasoningTokens costUsd } }
  }
`;

const MODEL = /* GraphQL */ `
  query($name: String!) {
    model(name: $name) {
      inputPricePerMTok outputPricePerMTok cachedInputPricePerMTok cacheWritePricePerMTok reasoningPricePerMTok
      priceSource priceCatalogueVersion contextWindow
    }
  }
`;

const RECORD = /* GraphQL */ `
  query($model: String!) {
    usage(filter: { model: $model }, first: 5) {
      edges { node { invocationId promptTokens completionTokens cachedInputTokens cacheWriteTokens reasoningTokens costUsd } }
    }
  }
`;

interface UsageFields {
  promptTokens: number;
  completionTokens: number;
  cachedInputTokens: number;
  cacheWriteTokens: number;
  reasoningTokens: number;
  costUsd: number;
}

let gw: TestGateway;

beforeAll(async () => {
  gw = await startGateway();
});

afterAll(async () => {
  await gw?.stop();
});

function expectTokens(u: Omit<UsageFields, 'costUsd'>, t: Tokens) {
  expect(u).toMatchObject({
    promptTokens: t.prompt,
    completionTokens: t.completion,
    cachedInputTokens: t.cachedRead,
    cacheWriteTokens: t.cacheWrite,
    reasoningTokens: t.reasoning,
  });
}

async function recordOf(model: string): Promise<UsageFields & { invocationId: string }> {
  await gw.flushUsage();
  const edges = ok(await gw.gql<{ usage: { edges: Array<{ node: UsageFields & { invocationId: string } }> } }>(RECORD, { model })).usage.edges;
  expect(edges).toHaveLength(1);
  return edges[0]!.node;
}

describe.each(KINDS)('$kind $upstreamModel: cost = published prices × each token kind', (row) => {
  let mock: Awaited<ReturnType<KindRow['start']>>;
  let provider: string;

  beforeAll(async () => {
    mock = await row.start();
    mock.reply(row.tokens);
    provider = uniq(row.kind.toLowerCase());
    const input = { name: provider, kind: row.kind, baseUrl: mock.baseUrl, apiKey: mock.apiKey ?? 'sk-provider', settings: mock.settings };
    ok(await gw.gql('mutation($input: CreateProviderInput!) { createProvider(input: $input) { id } }', { input }));
  });

  afterAll(async () => {
    await mock?.close();
  });

  async function createModel(prices?: Prices): Promise<string> {
    const name = uniq('cost');
    const input: Record<string, unknown> = { name, targets: [{ provider, upstreamModel: row.upstreamModel }], timeoutMs: 10_000 };
    if (prices) {
      Object.assign(input, {
        inputPricePerMTok: prices.input,
        outputPricePerMTok: prices.output,
        cachedInputPricePerMTok: prices.cachedRead,
        cacheWritePricePerMTok: prices.cacheWrite,
        reasoningPricePerMTok: prices.reasoning,
      });
    }
    ok(await gw.gql('mutation($input: CreateModelInput!) { createModel(input: $input) { id } }', { input }));
    return name;
  }

  it(`a model without prices is billed at the catalogue's, which are the published ones (${row.pricingPage})`, async () => {
    const name = await createModel();
    const shown = ok(await gw.gql<{ model: Record<string, unknown> }>(MODEL, { name })).model;
    expect(shown).toMatchObject({
      inputPricePerMTok: row.published.input,
      outputPricePerMTok: row.published.output,
      cachedInputPricePerMTok: row.published.cachedRead ?? null,
      cacheWritePricePerMTok: row.published.cacheWrite ?? null,
      reasoningPricePerMTok: row.published.reasoning ?? null,
      priceSource: 'CATALOGUE',
      priceCatalogueVersion: CATALOGUE_VERSION,
    });
    expect(shown.contextWindow).toBeGreaterThan(0);

    const res = ok(await gw.gql<{ chat: { id: string; usage: UsageFields } }>(CHAT, { input: { model: name, messages: [{ role: 'USER', content: 'hi' }] } }));
    const want = expectedCost(row.published, row.tokens);
    expect(want).toBeGreaterThan(0);
    expectTokens(res.chat.usage, row.tokens);
    expect(res.chat.usage.costUsd).toBeCloseTo(want, 10);

    const rec = await recordOf(name);
    expect(rec.invocationId).toBe(res.chat.id);
    expectTokens(rec, row.tokens);
    expect(rec.costUsd).toBeCloseTo(want, 10);
  });

  it("an operator's prices override the catalogue's, each token kind at its own rate", async () => {
    const name = await createModel(OPERATOR);
    const shown = ok(await gw.gql<{ model: Record<string, unknown> }>(MODEL, { name })).model;
    expect(shown).toMatchObject({
      inputPricePerMTok: OPERATOR.input,
      outputPricePerMTok: OPERATOR.output,
      cachedInputPricePerMTok: OPERATOR.cachedRead,
      cacheWritePricePerMTok: OPERATOR.cacheWrite,
      reasoningPricePerMTok: OPERATOR.reasoning,
      priceSource: 'OPERATOR',
      priceCatalogueVersion: null,
    });

    const res = ok(await gw.gql<{ chat: { id: string; usage: UsageFields } }>(CHAT, { input: { model: name, messages: [{ role: 'USER', content: 'hi' }] } }));
    const want = expectedCost(OPERATOR, row.tokens);
    expect(want).not.toBeCloseTo(expectedCost(row.published, row.tokens), 6);
    expect(res.chat.usage.costUsd).toBeCloseTo(want, 10);
    expect((await recordOf(name)).costUsd).toBeCloseTo(want, 10);
  });

  it('a stream (REST chat completions) is billed the same, with the token kinds in its usage details', async () => {
    const name = await createModel();
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: name, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(200);
    let usage: Record<string, unknown> | undefined;
    for await (const ev of readSse(res.body!)) {
      if (ev.data === '[DONE]') break;
      const chunk = JSON.parse(ev.data) as { usage?: Record<string, unknown> | null };
      if (chunk.usage) usage = chunk.usage;
    }
    const t = row.tokens;
    expect(usage).toEqual({
      prompt_tokens: t.prompt,
      completion_tokens: t.completion,
      total_tokens: t.prompt + t.completion,
      prompt_tokens_details: { cached_tokens: t.cachedRead },
      completion_tokens_details: { reasoning_tokens: t.reasoning },
    });
    const rec = await recordOf(name);
    expectTokens(rec, t);
    expect(rec.costUsd).toBeCloseTo(expectedCost(row.published, t), 10);
  });
});
