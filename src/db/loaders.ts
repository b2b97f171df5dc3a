/* Per-request DataLoaders: nested fields batch into one statement per kind. */
import DataLoader from 'dataloader';
import { inArray } from 'drizzle-orm';
import type { Db } from './client.js';
import { apiKeys, type ApiKeyRow, type ModelTargetRow, type ProviderRow } from './schema.js';
import type { CatalogueService } from '../services/catalogue.js';
import type { UsageQueries, UsageTotals } from '../services/usage-queries.js';

export interface Loaders {
  apiKey: DataLoader<string, ApiKeyRow | null>;
  provider: DataLoader<string, ProviderRow>;
  targetsByModel: DataLoader<string, ModelTargetRow[]>;
  monthToDate: DataLoader<string, UsageTotals>;
}

export function createLoaders(db: Db, catalogue: CatalogueService, usage: UsageQueries): Loaders {
  return {
    apiKey: new DataLoader(async (ids) => {
      const rows = await db.select().from(apiKeys).where(inArray(apiKeys.id, [...ids]));
      const byId = new Map(rows.map((r) => [r.id, r]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
    provider: new DataLoader((ids) => catalogue.providersByIds(ids)),
    targetsByModel: new DataLoader((ids) => catalogue.targetsOf(ids)),
    monthToDate: new DataLoader((ids) => usage.monthToDate(ids)),
  };
}
