/* The response cache's policy types: shared by chat inputs, keys and models (their own files import these). */
import type { StoredCachePolicy } from '../cache/cache-policy.js';
import { builder } from './builder.js';

const CacheModeEnum = builder.enumType('CacheMode', {
  description: 'Whether and how calls use the response cache',
  values: {
    OFF: { description: 'Every call goes upstream' },
    EXACT: { description: 'A call identical to an earlier one (model, messages, tools, parameters) gets its answer' },
    SEMANTIC: { description: 'As EXACT, and else a call whose last user message is close enough in meaning, with the same context, gets its answer' },
  } as const,
});

const CacheScopeEnum = builder.enumType('CacheScope', {
  description: "Whose cached answers a key's calls may receive (and whose receive its answers)",
  values: {
    KEY: { description: "Only the key's own" },
    GLOBAL: { description: 'Those of every GLOBAL key' },
  } as const,
});

export const CacheOptionsInput = builder.inputType('CacheOptionsInput', {
  description: "This call's use of the response cache, over the key's and the model's policies",
  fields: (t) => ({
    mode: t.field({ type: CacheModeEnum, description: "The cache mode for this call (default: the key's, else the model's, else OFF)" }),
    ttlSeconds: t.int({ description: "How long this call's answer is kept, 1 to 2592000 seconds (default: the key's, the model's, else cacheSettings.defaultTtlSeconds)" }),
  }),
});

export const CachePolicyRef = builder.objectRef<StoredCachePolicy>('CachePolicy').implement({
  description: "A key's or model's response cache policy; a call's own CacheOptionsInput comes first, then the key's, then the model's",
  fields: (t) => ({
    mode: t.field({
      type: CacheModeEnum,
      description: 'Its cache mode; OFF when not set (a call, or for a model its key, may still set one)',
      resolve: (p) => (p.cacheMode ?? 'OFF') as typeof CacheModeEnum.$inferType,
    }),
    ttlSeconds: t.int({ nullable: true, description: 'How long answers are kept, seconds; null when not set here', resolve: (p) => p.cacheTtlSeconds }),
    scope: t.field({
      type: CacheScopeEnum,
      nullable: true,
      description: 'For keys: whose cached answers its calls share (KEY when not set); always null for models',
      resolve: (p) => (p.cacheScope === undefined ? null : ((p.cacheScope ?? 'KEY') as typeof CacheScopeEnum.$inferType)),
    }),
  }),
});

export const CachePolicyInput = builder.inputType('CachePolicyInput', {
  description: 'A response cache policy; it replaces the whole policy (an omitted field is unset), and null clears it',
  fields: (t) => ({
    mode: t.field({ type: CacheModeEnum, description: 'The cache mode; omitted: not set here' }),
    ttlSeconds: t.int({ description: 'How long answers are kept, 1 to 2592000 seconds; omitted: not set here' }),
    scope: t.field({ type: CacheScopeEnum, description: 'Keys only: whose cached answers its calls share (default KEY)' }),
  }),
});
