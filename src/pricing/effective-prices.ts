/* The prices a call is billed at: the operator's own when set, otherwise the catalogue's for the answering target. */
import type { ModelPrices, PriceTier } from '../gateway/pricing.js';
import type { ProviderKind } from '../providers/registry.js';
import { CATALOGUE_VERSION, cataloguePrices } from './catalogue.js';

type PriceSource = 'OPERATOR' | 'CATALOGUE' | 'NONE';

export interface EffectivePrices extends ModelPrices {
  source: PriceSource;
  /** The catalogue package's version when the prices come from it; null otherwise. */
  catalogueVersion: string | null;
  /** The operator's context window, else the catalogue's; null when neither knows it. */
  contextWindow: number | null;
}

/** The model's own columns that set prices and the context window. */
export type OperatorPrices = ModelPrices & { contextWindow: number | null };

/** What a target is: the catalogue is keyed by it. */
export interface PricedTarget {
  kind: ProviderKind;
  upstreamModel: string;
}

/** An operator who set an input or an output price priced the model: the catalogue is then not consulted for prices. */
const operatorPriced = (row: OperatorPrices) => row.inputPricePerMTok != null || row.outputPricePerMTok != null;

function fromOperator(row: OperatorPrices, contextWindow: number | null): EffectivePrices {
  return {
    inputPricePerMTok: row.inputPricePerMTok,
    outputPricePerMTok: row.outputPricePerMTok,
    cachedInputPricePerMTok: row.cachedInputPricePerMTok ?? null,
    cacheWritePricePerMTok: row.cacheWritePricePerMTok ?? null,
    reasoningPricePerMTok: row.reasoningPricePerMTok ?? null,
    source: operatorPriced(row) ? 'OPERATOR' : 'NONE',
    catalogueVersion: null,
    contextWindow,
  };
}

/** The catalogue's tiers without the kinds the operator priced: an operator's rate holds for prompts of every size. */
function ownRatesKept(tiers: readonly PriceTier[], row: OperatorPrices): PriceTier[] {
  return tiers.map((t) => {
    const rates = { ...t.rates };
    if (row.cachedInputPricePerMTok != null) delete rates.cachedInputPricePerMTok;
    if (row.cacheWritePricePerMTok != null) delete rates.cacheWritePricePerMTok;
    return { abovePromptTokens: t.abovePromptTokens, rates };
  });
}

/** The prices one target answers at. */
export function targetPrices(row: OperatorPrices, target: PricedTarget): EffectivePrices {
  const entry = cataloguePrices(target.kind, target.upstreamModel);
  const contextWindow = row.contextWindow ?? entry?.contextWindow ?? null;
  if (operatorPriced(row) || !entry) return fromOperator(row, contextWindow);
  return {
    inputPricePerMTok: entry.inputPricePerMTok,
    outputPricePerMTok: entry.outputPricePerMTok,
    // a rate the operator set for one kind of token still overrides the catalogue's
    cachedInputPricePerMTok: row.cachedInputPricePerMTok ?? entry.cachedInputPricePerMTok,
    cacheWritePricePerMTok: row.cacheWritePricePerMTok ?? entry.cacheWritePricePerMTok,
    reasoningPricePerMTok: row.reasoningPricePerMTok ?? entry.reasoningPricePerMTok,
    ...(entry.tiers.length ? { tiers: ownRatesKept(entry.tiers, row) } : {}),
    source: 'CATALOGUE',
    catalogueVersion: CATALOGUE_VERSION,
    contextWindow,
  };
}

/**
 * The prices the model shows, and estimates a reservation and values a cache hit with: its first target (in the
 * operator's order) the catalogue prices, when the operator set none.
 */
export function modelPrices(row: OperatorPrices, targets: readonly PricedTarget[]): EffectivePrices {
  return firstPriced(row, targets.map((t) => targetPrices(row, t)));
}

/** modelPrices from the targets' prices already worked out (targetPrices of each, in the operator's order). */
export function firstPriced(row: OperatorPrices, targets: readonly EffectivePrices[]): EffectivePrices {
  return targets.find((p) => p.source !== 'NONE') ?? targets[0] ?? fromOperator(row, row.contextWindow);
}
