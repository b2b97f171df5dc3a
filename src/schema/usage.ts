/* Usage records: newest-first connection, grouped summaries and the live feed. */
import { filter, pipe } from 'graphql-yoga';
import type { UsageEvent } from '../gateway/usage-writer.js';
import type { UsageRow } from '../db/schema.js';
import type { Context } from '../context.js';
import { newLoaders } from '../context.js';
import { forbidden } from '../errors.js';
import { readsKey, usageScopeKeyId } from '../services/access.js';
import { parseRecordKey, recordKey, type RecordKey, type UsageBucket, type UsageFilter } from '../services/usage-queries.js';
import { builder, grantedScopes } from './builder.js';
import { UsageGroupByEnum, UsageStatusEnum } from './enums.js';
import { globalIdOf, keyOf, refused } from './global-id.js';
import { ApiKeyRef } from './keys.js';

/** Rows from the database and events from the feed share one shape (the feed may come through Redis as JSON). */
type UsageRecordShape = Omit<UsageRow, 'costUsd' | 'createdAt'> & { costUsd: number | string; createdAt: Date | string };

const UsageRecordRef = builder.nodeRef<UsageRecordShape, RecordKey | null>('UsageRecord', {
  // the primary key (created_at, id): a lookup by id alone would scan the table
  id: { resolve: (r) => recordKey({ createdAt: new Date(r.createdAt), id: r.id }), parse: parseRecordKey },
  // as `usage`: READ_USAGE (FORBIDDEN without it), and a key other than ADMIN reads its own records only
  loadMany: (keys, ctx) =>
    grantedScopes(ctx.principal).readUsage
      ? ctx.services.usageQueries.byKeys(keys as RecordKey[], usageScopeKeyId(ctx.principal!))
      : keys.map(() => refused<UsageRecordShape>(forbidden('This key may not access UsageRecord'))),
});
UsageRecordRef.implement({
  fields: (t) => ({
    invocationId: t.exposeID('id', { description: 'The invocation this record accounts for: ChatResult.id, ChatChunk.invocationId' }),
    createdAt: t.field({ type: 'DateTime', resolve: (r) => new Date(r.createdAt) }),
    apiKey: t.field({
      type: ApiKeyRef,
      nullable: true,
      resolve: (r, _, ctx) => {
        if (!r.apiKeyId || !readsKey(ctx.principal!, r.apiKeyId)) return null;
        return ctx.loaders.apiKey.load(r.apiKeyId);
      },
    }),
    model: t.exposeString('model'),
    provider: t.exposeString('provider', { nullable: true }),
    upstreamModel: t.exposeString('upstreamModel', { nullable: true }),
    promptTokens: t.exposeInt('promptTokens'),
    completionTokens: t.exposeInt('completionTokens'),
    costUsd: t.float({ resolve: (r) => Number(r.costUsd) }),
    latencyMs: t.exposeInt('latencyMs'),
    ttftMs: t.exposeInt('ttftMs', { nullable: true, description: 'Time to first token, for streamed calls' }),
    status: t.field({ type: UsageStatusEnum, resolve: (r) => r.status as typeof UsageStatusEnum.$inferType }),
    errorCode: t.exposeString('errorCode', { nullable: true }),
    streamed: t.exposeBoolean('streamed'),
    attempts: t.exposeInt('attempts'),
    metadata: t.field({ type: 'JSON', nullable: true, resolve: (r) => r.metadata ?? null }),
  }),
});

const UsageFilterInput = builder.inputType('UsageFilter', {
  fields: (t) => ({
    apiKeyId: t.globalID({ description: "A key's global id (ApiKey.id); its bare UUID is still accepted until the next release, with a warning" }),
    model: t.string(),
    provider: t.string(),
    status: t.field({ type: UsageStatusEnum }),
    from: t.field({ type: 'DateTime' }),
    to: t.field({ type: 'DateTime' }),
  }),
});

const UsageBucketRef = builder.objectRef<UsageBucket>('UsageBucket').implement({
  fields: (t) => ({
    key: t.exposeString('key', { description: "The group's value: a model or provider name, a key's global id (ApiKey.id), or an ISO date/hour" }),
    requests: t.exposeInt('requests'),
    errors: t.exposeInt('errors'),
    promptTokens: t.exposeInt('promptTokens'),
    completionTokens: t.exposeInt('completionTokens'),
    costUsd: t.exposeFloat('costUsd'),
    p50LatencyMs: t.exposeInt('p50LatencyMs', { nullable: true }),
    p95LatencyMs: t.exposeInt('p95LatencyMs', { nullable: true }),
  }),
});

/** How long a subscription reuses its DataLoaders between records (bounds how stale a nested key can be). */
const FEED_LOADER_TTL_MS = 1000;
const loadersBorn = new WeakMap<Context, number>();

/** The filter as the queries take it: the key named by its global id (or, for one release, its bare UUID). */
const readFilter = (ctx: Context, filter: typeof UsageFilterInput.$inferInput | null | undefined): UsageFilter | null =>
  filter ? { ...filter, apiKeyId: filter.apiKeyId == null ? null : keyOf(ctx, filter.apiKeyId, ApiKeyRef, 'filter.apiKeyId') } : null;

builder.queryFields((t) => ({
  usage: t.connection(
    {
      type: UsageRecordRef,
      nullable: true,
      description: "The caller's own usage (all usage for ADMIN), newest first; null with a FORBIDDEN error without READ_USAGE",
      authScopes: { readUsage: true },
      args: { filter: t.arg({ type: UsageFilterInput }) },
      resolve: (_, args, ctx) =>
        ctx.services.usageQueries.page({
          filter: readFilter(ctx, args.filter),
          first: args.first,
          after: args.after,
          last: args.last,
          before: args.before,
          scopeKeyId: usageScopeKeyId(ctx.principal!),
        }),
    },
    { name: 'UsageRecordConnection', description: 'Newest first' },
    { name: 'UsageRecordEdge', description: 'A usage record and its cursor' },
  ),
  usageSummary: t.field({
    type: [UsageBucketRef],
    nullable: true,
    description: 'Usage grouped and totalled; null with a FORBIDDEN error without READ_USAGE',
    authScopes: { readUsage: true },
    args: { groupBy: t.arg({ type: UsageGroupByEnum, required: true }), filter: t.arg({ type: UsageFilterInput }) },
    resolve: async (_, args, ctx) => {
      const buckets = await ctx.services.usageQueries.summary({
        groupBy: args.groupBy,
        filter: readFilter(ctx, args.filter),
        scopeKeyId: usageScopeKeyId(ctx.principal!),
      });
      // a key's bucket is named by the key's global id, which `node(id:)` and filter.apiKeyId take
      return args.groupBy === 'API_KEY' ? buckets.map((b) => ({ ...b, key: b.key && globalIdOf(ApiKeyRef, b.key) })) : buckets;
    },
  }),
}));

builder.subscriptionFields((t) => ({
  usageRecorded: t.field({
    type: UsageRecordRef,
    description: "Usage records as they are written: the caller's own, or everyone's for ADMIN",
    authScopes: { readUsage: true },
    subscribe: (_, __, ctx) => {
      const own = usageScopeKeyId(ctx.principal!);
      const source = ctx.services.feed.subscribe();
      return own ? pipe(source, filter((e: UsageEvent) => e.apiKeyId === own)) : source;
    },
    resolve: (e: UsageEvent, _, ctx) => {
      // a long-lived subscription must not serve stale keys from its first loaders, but a burst of records shares
      // one set for up to a second: one key lookup per key per second instead of one statement per record
      const now = Date.now();
      const born = loadersBorn.get(ctx);
      if (born === undefined || now - born > FEED_LOADER_TTL_MS) {
        ctx.loaders = newLoaders(ctx);
        loadersBorn.set(ctx, now);
      }
      return e as unknown as UsageRecordShape;
    },
  }),
}));

