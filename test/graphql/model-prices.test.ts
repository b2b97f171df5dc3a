/* Model prices through GraphQL: catalogue fallback per target, operator override and its removal, validation, priceCatalogue. */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { createProvider, ok, uniq } from '../gateway/helpers.js';
import { expectCode } from './helpers.js';
import { cataloguePrices } from '../../src/pricing/catalogue.js';
import { firstPriced, targetPrices } from '../../src/pricing/effective-prices.js';
import { costUsd } from '../../src/gateway/pricing.js';

const VERSION = (JSON.parse(readFileSync('node_modules/@pydantic/genai-prices/package.json', 'utf8')) as { version: string }).version;

const MODEL = /* GraphQL */ `
  query($name: String!) {
    model(name: $name) {
      inputPricePerMTok outputPricePerMTok cachedInputPricePerMTok cacheWritePricePerMTok reasoningPricePerMTok
      priceSource priceCatalogueVersion contextWindow
    }
  }
`;

let gw: TestGateway;
const OPENAI = uniq('openai');
const COMPAT = uniq('compat');

beforeAll(async () => {
  gw = await startGateway();
  // never called: these tests only read prices
  await createProvider(gw, { name: OPENAI, kind: 'OPENAI', baseUrl: 'http://127.0.0.1:9/v1' });
  await createProvider(gw, { name: COMPAT, kind: 'OPENAI_COMPATIBLE', baseUrl: 'http://127.0.0.1:9/v1' });
});

afterAll(async () => {
  await gw?.stop();
});

async function create(input: Record<string, unknown>) {
  return gw.gql('mutation($input: CreateModelInput!) { createModel(input: $input) { id } }', { input });
}

async function shown(name: string) {
  return ok(await gw.gql<{ model: Record<string, unknown> }>(MODEL, { name })).model;
}

describe('model prices', () => {
  it("a model without prices shows its first catalogued target's prices and context window, with the catalogue version", async () => {
    const name = uniq('m');
    // the compatible server's model has no published price: the OpenAI target's count
    ok(await create({ name, targets: [{ provider: COMPAT, upstreamModel: 'my-llama' }, { provider: OPENAI, upstreamModel: 'gpt-4o' }] }));
    // gpt-4o: $2.50 input, $1.25 cached input, $10 output, 128k context (https://platform.openai.com/docs/pricing)
    expect(await shown(name)).toEqual({
      inputPricePerMTok: 2.5,
      outputPricePerMTok: 10,
      cachedInputPricePerMTok: 1.25,
      cacheWritePricePerMTok: null,
      reasoningPricePerMTok: null,
      priceSource: 'CATALOGUE',
      priceCatalogueVersion: VERSION,
      contextWindow: 128_000,
    });
  });

  it('a model the catalogue does not list costs nothing: NONE, no prices, no version', async () => {
    const name = uniq('m');
    ok(await create({ name, targets: [{ provider: COMPAT, upstreamModel: 'my-llama' }] }));
    expect(await shown(name)).toMatchObject({ inputPricePerMTok: null, outputPricePerMTok: null, priceSource: 'NONE', priceCatalogueVersion: null, contextWindow: null });
  });

  it("operator prices override the catalogue's; removing them brings the catalogue's back", async () => {
    const name = uniq('m');
    ok(await create({ name, targets: [{ provider: OPENAI, upstreamModel: 'gpt-4o' }], inputPricePerMTok: 1, outputPricePerMTok: 3, reasoningPricePerMTok: 5, contextWindow: 4096 }));
    expect(await shown(name)).toEqual({
      inputPricePerMTok: 1,
      outputPricePerMTok: 3,
      cachedInputPricePerMTok: null,
      cacheWritePricePerMTok: null,
      reasoningPricePerMTok: 5,
      priceSource: 'OPERATOR',
      priceCatalogueVersion: null,
      contextWindow: 4096,
    });
    ok(await gw.gql('mutation($name: String!, $input: UpdateModelInput!) { updateModel(name: $name, input: $input) { id } }', {
      name,
      input: { inputPricePerMTok: null, outputPricePerMTok: null, reasoningPricePerMTok: null, contextWindow: null },
    }));
    expect(await shown(name)).toMatchObject({ inputPricePerMTok: 2.5, outputPricePerMTok: 10, priceSource: 'CATALOGUE', contextWindow: 128_000 });
  });

  it.each(['cachedInputPricePerMTok', 'cacheWritePricePerMTok', 'reasoningPricePerMTok'])('a negative %s is BAD_USER_INPUT naming it', async (field) => {
    const res = await create({ name: uniq('m'), targets: [{ provider: OPENAI, upstreamModel: 'gpt-4o' }], [field]: -0.5 });
    expectCode(res, 'BAD_USER_INPUT', `input.${field}`);
  });

  it('priceCatalogue names the bundled version and how many models it prices', async () => {
    const { priceCatalogue } = ok(await gw.gql<{ priceCatalogue: { version: string; modelCount: number } }>('{ priceCatalogue { version modelCount } }'));
    expect(priceCatalogue.version).toBe(VERSION);
    expect(priceCatalogue.modelCount).toBeGreaterThan(100);
  });
});

describe("a model's prices from its targets' prices", () => {
  const row = { inputPricePerMTok: null, outputPricePerMTok: null, cachedInputPricePerMTok: null, cacheWritePricePerMTok: null, reasoningPricePerMTok: null, contextWindow: 4096 };
  const compat = targetPrices(row, { kind: 'OPENAI_COMPATIBLE', upstreamModel: 'my-llama' });
  const gpt = targetPrices(row, { kind: 'OPENAI', upstreamModel: 'gpt-4o' });

  it('are the first priced target\'s (the same object, not worked out again), else the first\'s, else the operator\'s', () => {
    expect(firstPriced(row, [compat, gpt])).toBe(gpt);
    expect(firstPriced(row, [compat])).toBe(compat);
    expect(firstPriced(row, [])).toMatchObject({ source: 'NONE', contextWindow: 4096 });
  });
});

describe('catalogue lookup by provider kind', () => {
  // each kind is looked up under the provider that bills it: Azure's, AWS Bedrock's, Google's for Vertex
  it.each([
    ['AZURE_OPENAI', 'gpt-4o', 2.5],
    ['BEDROCK', 'anthropic.claude-3-5-sonnet-20240620-v1:0', 3],
    ['VERTEX', 'gemini-2.5-flash', 0.3],
  ] as const)('%s %s', (kind, model, input) => {
    expect(cataloguePrices(kind, model)?.inputPricePerMTok).toBe(input);
  });

  it('kinds without published prices, and unknown models, have none', () => {
    expect(cataloguePrices('OPENAI_COMPATIBLE', 'gpt-4o')).toBeNull();
    expect(cataloguePrices('ECHO', 'echo')).toBeNull();
    expect(cataloguePrices('OPENAI', 'no-such-model-xyz')).toBeNull();
  });
});

describe('tiered catalogue prices', () => {
  // Gemini 2.5 Pro: input $1.25 / $2.50, context caching $0.125 / $0.25, output $10 / $15, for prompts up to / over
  // 200k tokens; the whole call at the rate of its prompt's size (https://ai.google.dev/gemini-api/docs/pricing)
  const unpriced = { inputPricePerMTok: null, outputPricePerMTok: null, contextWindow: null };
  const prices = targetPrices(unpriced, { kind: 'GEMINI', upstreamModel: 'gemini-2.5-pro' });

  it('a prompt up to 200k tokens pays the base rates', () => {
    const t = { promptTokens: 200_000, cachedReadTokens: 50_000, completionTokens: 1000 };
    expect(costUsd(prices, t)).toBeCloseTo((150_000 * 1.25 + 50_000 * 0.125 + 1000 * 10) / 1e6, 10);
  });

  it('a longer prompt pays the higher tier for every token, output included', () => {
    const t = { promptTokens: 250_000, cachedReadTokens: 100_000, completionTokens: 1000, reasoningTokens: 400 };
    expect(costUsd(prices, t)).toBeCloseTo((150_000 * 2.5 + 100_000 * 0.25 + 1000 * 15) / 1e6, 10);
  });

  it("an operator's cached input rate holds above the tier too", () => {
    const own = targetPrices({ ...unpriced, cachedInputPricePerMTok: 0.1 }, { kind: 'GEMINI', upstreamModel: 'gemini-2.5-pro' });
    const t = { promptTokens: 250_000, cachedReadTokens: 100_000, completionTokens: 0 };
    expect(costUsd(own, t)).toBeCloseTo((150_000 * 2.5 + 100_000 * 0.1) / 1e6, 10);
  });
});
