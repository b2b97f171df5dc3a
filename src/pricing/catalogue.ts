/*
 * Published prices and context windows from @pydantic/genai-prices' bundled data (no network: the package's
 * auto-update is never set up). Looked up by the provider kind and the provider's own model id, once per pair.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { ModelPrice } from '@pydantic/genai-prices';
import type { PriceTier } from '../gateway/pricing.js';
import type { ProviderKind } from '../providers/registry.js';
import { lazyRequire } from '../util/lazy-require.js';

/** The catalogue's data is a large module: loaded with the first price lookup, not at start-up. */
const genaiPrices = lazyRequire<typeof import('@pydantic/genai-prices')>('@pydantic/genai-prices');

/** One model's published prices, USD per million tokens; null where the catalogue has no separate rate. */
export interface CatalogueEntry {
  inputPricePerMTok: number;
  outputPricePerMTok: number;
  cachedInputPricePerMTok: number | null;
  cacheWritePricePerMTok: number | null;
  /** Always null: every listed provider bills reasoning as output (the catalogue has no separate rate). */
  reasoningPricePerMTok: null;
  /** Higher rates above a prompt size (tiered prices); empty for most models. */
  tiers: PriceTier[];
  contextWindow: number | null;
}

/**
 * Which catalogue provider publishes the prices a kind is billed at. Vertex bills Gemini and Claude at the prices
 * the catalogue lists under google; OPENAI_COMPATIBLE servers and ECHO have no published prices.
 */
const CATALOGUE_PROVIDER: Partial<Record<ProviderKind, string>> = {
  OPENAI: 'openai',
  ANTHROPIC: 'anthropic',
  GEMINI: 'google',
  AZURE_OPENAI: 'azure',
  BEDROCK: 'aws',
  VERTEX: 'google',
};

/** The package's version, read from its package.json next to its entry point (its exports hide the file). */
function packageVersion(): string {
  try {
    const entry = createRequire(import.meta.url).resolve('@pydantic/genai-prices');
    const pkg = JSON.parse(readFileSync(join(dirname(entry), '..', 'package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export const CATALOGUE_VERSION = packageVersion();

/** A price of the catalogue as one number: a tiered price's base rate (the rate below its first tier, see tiersOf). */
function rate(p: ModelPrice, key: string): number | null {
  const v = p[key];
  if (typeof v === 'number') return v;
  if (v && typeof v === 'object' && typeof v.base === 'number') return v.base;
  return null;
}

const TIERED_KEYS = [
  ['input_mtok', 'inputPricePerMTok'],
  ['output_mtok', 'outputPricePerMTok'],
  ['cache_read_mtok', 'cachedInputPricePerMTok'],
  ['cache_write_mtok', 'cacheWritePricePerMTok'],
] as const;

/**
 * The tiers of every tiered price, merged by where they start: the catalogue (like the provider's bill) prices
 * every token of a kind at the tier the prompt's total input tokens are past.
 */
function tiersOf(p: ModelPrice): PriceTier[] {
  const byStart = new Map<number, PriceTier['rates']>();
  for (const [key, field] of TIERED_KEYS) {
    const v = p[key];
    if (!v || typeof v !== 'object' || !Array.isArray(v.tiers)) continue;
    for (const t of v.tiers) {
      const rates = byStart.get(t.start) ?? {};
      rates[field] = t.price;
      byStart.set(t.start, rates);
    }
  }
  return [...byStart].sort(([a], [b]) => a - b).map(([abovePromptTokens, rates]) => ({ abovePromptTokens, rates }));
}

function lookup(kind: ProviderKind, upstreamModel: string): CatalogueEntry | null {
  const providerId = CATALOGUE_PROVIDER[kind];
  if (!providerId) return null;
  // calcPrice is the package's one public way to match a model id (its match rules); one token of each is a probe
  const found = genaiPrices().calcPrice({ input_tokens: 1, output_tokens: 1 }, upstreamModel, { providerId });
  if (!found) return null;
  const p = found.model_price;
  const input = rate(p, 'input_mtok');
  const output = rate(p, 'output_mtok');
  // a model priced by something else (per request, per second) has no token prices to offer
  if (input === null && output === null) return null;
  return {
    inputPricePerMTok: input ?? 0,
    outputPricePerMTok: output ?? 0,
    cachedInputPricePerMTok: rate(p, 'cache_read_mtok'),
    cacheWritePricePerMTok: rate(p, 'cache_write_mtok'),
    reasoningPricePerMTok: null,
    tiers: tiersOf(p),
    contextWindow: found.model.context_window ?? null,
  };
}

/** Lookups so far, misses too: a few per model and target, bounded so odd names cannot grow it without end. */
const memo = new Map<string, CatalogueEntry | null>();
const MEMO_MAX = 5000;

/** The published prices the target (provider kind, upstream model id) is billed at; null when the catalogue does not list it. */
export function cataloguePrices(kind: ProviderKind, upstreamModel: string): CatalogueEntry | null {
  const key = `${kind}\u0000${upstreamModel}`;
  const hit = memo.get(key);
  if (hit !== undefined) return hit;
  const entry = lookup(kind, upstreamModel);
  if (memo.size >= MEMO_MAX) memo.clear();
  memo.set(key, entry);
  return entry;
}

/** How many models the bundled data prices, over the providers the gateway's kinds map to. */
export function catalogueModelCount(): number {
  let n = 0;
  for (const id of new Set(Object.values(CATALOGUE_PROVIDER))) n += genaiPrices().findProvider({ providerId: id })?.models.length ?? 0;
  return n;
}
