/* The prices a model shows: the operator's, else the price catalogue's for its first target the catalogue lists. */
import type { ModelRow } from '../db/schema.js';
import type { ProviderKind } from '../providers/registry.js';
import { CATALOGUE_VERSION, catalogueModelCount } from '../pricing/catalogue.js';
import { modelPrices, type EffectivePrices } from '../pricing/effective-prices.js';
import { builder } from './builder.js';
import type { Context } from '../context.js';

export const PriceSourceEnum = builder.enumType('PriceSource', {
  description: "Where a model's prices come from",
  values: {
    OPERATOR: { description: 'The operator set an input or output price on the model' },
    CATALOGUE: { description: "The price catalogue (@pydantic/genai-prices, bundled) lists its target's provider model" },
    NONE: { description: 'Neither: its calls cost 0' },
  } as const,
});

/** Per request (its loaders) and model: a model's price fields share one computation. */
const computed = new WeakMap<object, Map<string, Promise<EffectivePrices>>>();

export function effectivePricesOf(m: ModelRow, ctx: Context): Promise<EffectivePrices> {
  let perRequest = computed.get(ctx.loaders);
  if (!perRequest) computed.set(ctx.loaders, (perRequest = new Map()));
  let p = perRequest.get(m.id);
  if (!p) {
    p = (async () => {
      const targets = await ctx.loaders.targetsByModel.load(m.id);
      const providers = await Promise.all(targets.map((t) => ctx.loaders.provider.load(t.providerId)));
      return modelPrices(m, targets.map((t, i) => ({ kind: providers[i]!.kind as ProviderKind, upstreamModel: t.upstreamModel })));
    })();
    perRequest.set(m.id, p);
  }
  return p;
}

const PriceCatalogueRef = builder.objectRef<{ version: string; modelCount: number }>('PriceCatalogue').implement({
  description: 'The price catalogue models without operator prices are billed from (bundled data, read offline)',
  fields: (t) => ({
    version: t.exposeString('version', { description: 'The @pydantic/genai-prices package version whose data is bundled' }),
    modelCount: t.exposeInt('modelCount', { description: "Models it prices, over the providers of the gateway's provider kinds" }),
  }),
});

builder.queryFields((t) => ({
  priceCatalogue: t.field({
    type: PriceCatalogueRef,
    description: 'The bundled price catalogue',
    authScopes: { authenticated: true },
    resolve: () => ({ version: CATALOGUE_VERSION, modelCount: catalogueModelCount() }),
  }),
}));
