/*
 * The response cache's gateway-wide settings (the one cache_settings row): read on every cached call, so kept in
 * memory briefly; a change made here is seen at once, one made on another instance within the TTL.
 */
import { eq } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { cacheSettings, type CacheSettingsRow } from '../db/schema.js';
import { badInput } from '../errors.js';
import { checkCacheTtl } from '../cache/cache-policy.js';
import { createRefreshingCache } from '../util/refreshing-cache.js';

export type CacheSettings = Pick<CacheSettingsRow, 'embeddingModel' | 'similarityThreshold' | 'defaultTtlSeconds' | 'updatedAt'>;

export interface CacheSettingsInput {
  embeddingModel?: string | null;
  similarityThreshold?: number | null;
  defaultTtlSeconds?: number | null;
}

export type CacheSettingsService = ReturnType<typeof createCacheSettingsService>;

const ROW = 1;
// what the migration's row says, should it ever be missing
const DEFAULTS: CacheSettings = { embeddingModel: null, similarityThreshold: 0.95, defaultTtlSeconds: 3600, updatedAt: new Date(0) };

export function createCacheSettingsService(db: Db, opts: { cacheTtlMs: number; modelExists: (name: string) => Promise<boolean> }) {
  const cache = createRefreshingCache<CacheSettings>({ max: 1, ttlMs: opts.cacheTtlMs, revalidateMs: 10_000, load: read });

  async function read(): Promise<CacheSettings> {
    const [row] = await db.select().from(cacheSettings).where(eq(cacheSettings.id, ROW));
    return row ?? DEFAULTS;
  }

  return {
    get: () => cache.get('settings'),

    async update(input: CacheSettingsInput): Promise<CacheSettings> {
      const patch: Partial<CacheSettingsRow> = {};
      if (input.embeddingModel !== undefined) {
        const name = input.embeddingModel?.trim() || null;
        if (name && !(await opts.modelExists(name))) throw badInput('input.embeddingModel', `unknown model "${name}"`);
        patch.embeddingModel = name;
      }
      if (input.similarityThreshold !== undefined) {
        const t = input.similarityThreshold;
        if (t == null || !(t > 0 && t <= 1)) throw badInput('input.similarityThreshold', 'must be greater than 0 and at most 1');
        patch.similarityThreshold = t;
      }
      if (input.defaultTtlSeconds !== undefined) {
        if (input.defaultTtlSeconds == null) throw badInput('input.defaultTtlSeconds', 'must not be null');
        checkCacheTtl(input.defaultTtlSeconds, 'input.defaultTtlSeconds');
        patch.defaultTtlSeconds = input.defaultTtlSeconds;
      }
      if (!Object.keys(patch).length) return cache.get('settings');
      const [row] = await db
        .insert(cacheSettings)
        .values({ id: ROW, ...patch })
        .onConflictDoUpdate({ target: cacheSettings.id, set: { ...patch, updatedAt: new Date() } })
        .returning();
      cache.clear();
      return row;
    },
  };
}
