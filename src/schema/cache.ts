/* The response cache's operator surface: its settings and purging (ADMIN). */
import { badInput } from '../errors.js';
import type { CacheSettings } from '../services/cache-settings.js';
import { purgeResponseCache } from '../cache/response-cache.js';
import { builder } from './builder.js';
import { keyOf } from './global-id.js';
import { ApiKeyRef } from './keys.js';

const CacheSettingsRef = builder.objectRef<CacheSettings & { store: string; vectorIndex: string }>('CacheSettings').implement({
  description: 'The response cache, gateway-wide',
  fields: (t) => ({
    embeddingModel: t.exposeString('embeddingModel', {
      nullable: true,
      description: 'The public model the semantic cache embeds prompts with (called on the caller\'s key); null: SEMANTIC works as EXACT',
    }),
    similarityThreshold: t.exposeFloat('similarityThreshold', { description: 'Cosine similarity (0-1] at or above which a stored prompt answers a SEMANTIC call' }),
    defaultTtlSeconds: t.exposeInt('defaultTtlSeconds', { description: 'How long answers are kept when neither the call, its key nor its model says' }),
    store: t.exposeString('store', { description: 'Where exact entries live: "redis" (shared by every instance, when REDIS_URL is set) or "memory" (this instance)' }),
    vectorIndex: t.exposeString('vectorIndex', { description: 'Where the semantic cache keeps its vectors: "pgvector", "usearch", or "none"' }),
  }),
});

const CacheSettingsInput = builder.inputType('CacheSettingsInput', {
  description: 'Changes to the cache settings; an omitted field stays as it is',
  fields: (t) => ({
    embeddingModel: t.string({ description: 'The public name of an existing embedding model; null turns the semantic lookups off' }),
    similarityThreshold: t.float({ description: 'Above 0 and at most 1' }),
    defaultTtlSeconds: t.int({ description: '1 to 2592000 seconds' }),
  }),
});

const PurgeCacheInput = builder.inputType('PurgeCacheInput', {
  description: 'Which cached answers to remove: those of a key (KEY scope), of a model, of both, or all',
  fields: (t) => ({
    apiKeyId: t.globalID({ description: 'The answers cached in this key\'s own scope (not the GLOBAL scope it may share)' }),
    model: t.string({ description: 'The answers of this public model' }),
    all: t.boolean({ description: 'Every cached answer; not with apiKeyId or model' }),
  }),
});

const PurgeCacheResultRef = builder.objectRef<{ purged: number }>('PurgeCacheResult').implement({
  description: 'What purgeCache removed',
  fields: (t) => ({
    purged: t.exposeInt('purged', { description: 'Cached answers removed (exact and semantic entries each count)' }),
  }),
});

builder.queryFields((t) => ({
  cacheSettings: t.field({
    type: CacheSettingsRef,
    nullable: true,
    description: 'ADMIN; null with a FORBIDDEN error for other callers',
    authScopes: { admin: true },
    resolve: async (_, __, ctx) => settingsView(ctx.services.cache, await ctx.services.cache.settings.get()),
  }),
}));

builder.mutationFields((t) => ({
  updateCacheSettings: t.field({
    type: CacheSettingsRef,
    description: 'ADMIN; seen by this instance at once, by the others within a few seconds',
    authScopes: { admin: true },
    args: { input: t.arg({ type: CacheSettingsInput, required: true, description: 'The changes' }) },
    resolve: async (_, { input }, ctx) => settingsView(ctx.services.cache, await ctx.services.cache.settings.update(input)),
  }),
  purgeCache: t.field({
    type: PurgeCacheResultRef,
    description: 'ADMIN; removes cached answers at once, exact and semantic',
    authScopes: { admin: true },
    args: { input: t.arg({ type: PurgeCacheInput, required: true, description: 'Which answers' }) },
    resolve: async (_, { input }, ctx) => {
      const { apiKeyId, model, all } = input;
      if (all && (apiKeyId || model)) throw badInput('input.all', 'purges everything: give it alone');
      if (!all && !apiKeyId && !model) throw badInput('input', 'give apiKeyId, model, or all: true');
      const scope = apiKeyId ? `key:${keyOf(ctx, apiKeyId, ApiKeyRef, 'input.apiKeyId')}` : undefined;
      return { purged: await purgeResponseCache(ctx.services.cache, { scope, model: model ?? undefined }) };
    },
  }),
}));

function settingsView(cache: { exact: { kind: string }; semantic?: { index: string } }, s: CacheSettings) {
  return { ...s, store: cache.exact.kind, vectorIndex: cache.semantic?.index ?? 'none' };
}
