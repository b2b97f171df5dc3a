/* Per-request DataLoaders: nested fields batch into one statement per kind. */
import DataLoader from 'dataloader';
import { inArray } from 'drizzle-orm';
import type { Db } from './client.js';
import { apiKeys, type ApiKeyRow, type ModelTargetRow, type ProviderRow, type TeamRow } from './schema.js';
import type { CatalogueService } from '../services/catalogue.js';
import type { KeyService } from '../services/keys.js';
import type { TeamService } from '../services/teams.js';
import type { KeyLimitUsage, LimitUsageReader } from '../services/limit-usage.js';
import type { UsageQueries, UsageTotals } from '../services/usage-queries.js';

/** What the loaders read from. */
export interface LoaderSources {
  database: { db: Db };
  catalogue: CatalogueService;
  usageQueries: UsageQueries;
  limitUsage: LimitUsageReader;
  teams: TeamService;
  keys: KeyService;
}

export interface Loaders {
  apiKey: DataLoader<string, ApiKeyRow | null>;
  provider: DataLoader<string, ProviderRow>;
  targetsByModel: DataLoader<string, ModelTargetRow[]>;
  monthToDate: DataLoader<string, UsageTotals>;
  /** Keyed by the row (its limits say which counters to read), cached by its id. */
  limitUsage: DataLoader<ApiKeyRow, KeyLimitUsage, string>;
  team: DataLoader<string, TeamRow | null>;
  teamKeys: DataLoader<string, ApiKeyRow[]>;
  teamMonthToDate: DataLoader<string, UsageTotals>;
}

/**
 * Each DataLoader is built on first use: most operations (a chat) touch none, and the context is copied
 * property by property (envelop's extendContext), which would call a lazy getter on the context itself.
 */
class LazyLoaders implements Loaders {
  #apiKey?: Loaders['apiKey'];
  #provider?: Loaders['provider'];
  #targetsByModel?: Loaders['targetsByModel'];
  #monthToDate?: Loaders['monthToDate'];
  #limitUsage?: Loaders['limitUsage'];
  #team?: Loaders['team'];
  #teamKeys?: Loaders['teamKeys'];
  #teamMonthToDate?: Loaders['teamMonthToDate'];

  constructor(private readonly sources: LoaderSources) {}

  get apiKey(): Loaders['apiKey'] {
    return (this.#apiKey ??= new DataLoader(async (ids) => {
      const rows = await this.sources.database.db.select().from(apiKeys).where(inArray(apiKeys.id, [...ids]));
      const byId = new Map(rows.map((r) => [r.id, r]));
      return ids.map((id) => byId.get(id) ?? null);
    }));
  }

  get provider(): Loaders['provider'] {
    return (this.#provider ??= new DataLoader((ids) => this.sources.catalogue.providersByIds(ids)));
  }

  get targetsByModel(): Loaders['targetsByModel'] {
    return (this.#targetsByModel ??= new DataLoader((ids) => this.sources.catalogue.targetsOf(ids)));
  }

  get monthToDate(): Loaders['monthToDate'] {
    return (this.#monthToDate ??= new DataLoader((ids) => this.sources.usageQueries.monthToDate(ids)));
  }

  get limitUsage(): Loaders['limitUsage'] {
    return (this.#limitUsage ??= new DataLoader((keys) => this.sources.limitUsage(keys), { cacheKeyFn: (k) => k.id }));
  }

  get team(): Loaders['team'] {
    return (this.#team ??= new DataLoader((ids) => this.sources.teams.byIds(ids)));
  }

  get teamKeys(): Loaders['teamKeys'] {
    return (this.#teamKeys ??= new DataLoader((ids) => this.sources.keys.ofTeams(ids)));
  }

  get teamMonthToDate(): Loaders['teamMonthToDate'] {
    return (this.#teamMonthToDate ??= new DataLoader((ids) => this.sources.usageQueries.teamMonthToDate(ids)));
  }
}

export function createLoaders(sources: LoaderSources): Loaders {
  return new LazyLoaders(sources);
}
