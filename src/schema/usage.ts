/* Usage records: newest-first connection, grouped summaries and the live feed. */
import { filter, pipe } from 'graphql-yoga';
import type { UsageEvent } from '../gateway/usage-writer.js';
import type { UsageRow } from '../db/schema.js';
import type { Context } from '../context.js';
import { newLoaders } from '../context.js';
import type { UsageBucket } from '../services/usage-queries.js';
import { builder } from './builder.js';
import { UsageGroupByEnum, UsageStatusEnum } from './enums.js';
import { ApiKeyRef } from './keys.js';

/** Rows from the database and events from the feed share one shape (the feed may come through Redis as JSON). */
type UsageRecordShape = Omit<UsageRow, 'costUsd' | 'createdAt'> & { costUsd: number | string; createdAt: Date | string };

const UsageRecordRef = builder.objectRef<UsageRecordShape>('UsageRecord').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    createdAt: t.field({ type: 'DateTime', resolve: (r) => new Date(r.createdAt) }),
    apiKey: t.field({
      type: ApiKeyRef,
      nullable: true,
      resolve: (r, _, ctx) => {
        if (!r.apiKeyId) return null;
        // non-admins only ever see their own records, so their own key
        if (!ctx.principal?.isAdmin && r.apiKeyId !== ctx.principal?.key.id) return null;
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

type PageInfoShape = { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
const PageInfoRef = builder.objectRef<PageInfoShape>('PageInfo').implement({
  fields: (t) => ({
    hasNextPage: t.exposeBoolean('hasNextPage'),
    hasPreviousPage: t.exposeBoolean('hasPreviousPage'),
    startCursor: t.exposeString('startCursor', { nullable: true }),
    endCursor: t.exposeString('endCursor', { nullable: true }),
  }),
});

const UsageRecordEdgeRef = builder.objectRef<{ cursor: string; node: UsageRecordShape }>('UsageRecordEdge').implement({
  fields: (t) => ({
    cursor: t.exposeString('cursor'),
    node: t.field({ type: UsageRecordRef, resolve: (e) => e.node }),
  }),
});

const UsageRecordConnectionRef = builder
  .objectRef<{ edges: Array<{ cursor: string; node: UsageRecordShape }>; pageInfo: PageInfoShape }>('UsageRecordConnection')
  .implement({
    description: 'Newest first',
    fields: (t) => ({
      edges: t.field({ type: [UsageRecordEdgeRef], resolve: (c) => c.edges }),
      pageInfo: t.field({ type: PageInfoRef, resolve: (c) => c.pageInfo }),
    }),
  });

const UsageFilterInput = builder.inputType('UsageFilter', {
  fields: (t) => ({
    apiKeyId: t.id(),
    model: t.string(),
    provider: t.string(),
    status: t.field({ type: UsageStatusEnum }),
    from: t.field({ type: 'DateTime' }),
    to: t.field({ type: 'DateTime' }),
  }),
});

const UsageBucketRef = builder.objectRef<UsageBucket>('UsageBucket').implement({
  fields: (t) => ({
    key: t.exposeString('key', { description: "The group's value: a model or provider name, a key id, or an ISO date/hour" }),
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

const scopeKeyId = (ctx: Context) => (ctx.principal!.isAdmin ? null : ctx.principal!.key.id);

builder.queryFields((t) => ({
  usage: t.field({
    type: UsageRecordConnectionRef,
    description: "The caller's own usage (all usage for ADMIN), newest first",
    authScopes: { readUsage: true },
    args: { filter: t.arg({ type: UsageFilterInput }), first: t.arg.int(), after: t.arg.string() },
    resolve: (_, args, ctx) =>
      ctx.services.usageQueries.page({
        filter: args.filter ? { ...args.filter, apiKeyId: args.filter.apiKeyId == null ? null : String(args.filter.apiKeyId) } : null,
        first: args.first,
        after: args.after,
        scopeKeyId: scopeKeyId(ctx),
      }),
  }),
  usageSummary: t.field({
    type: [UsageBucketRef],
    authScopes: { readUsage: true },
    args: { groupBy: t.arg({ type: UsageGroupByEnum, required: true }), filter: t.arg({ type: UsageFilterInput }) },
    resolve: (_, args, ctx) =>
      ctx.services.usageQueries.summary({
        groupBy: args.groupBy,
        filter: args.filter ? { ...args.filter, apiKeyId: args.filter.apiKeyId == null ? null : String(args.filter.apiKeyId) } : null,
        scopeKeyId: scopeKeyId(ctx),
      }),
  }),
}));

builder.subscriptionFields((t) => ({
  usageRecorded: t.field({
    type: UsageRecordRef,
    description: "Usage records as they are written: the caller's own, or everyone's for ADMIN",
    authScopes: { readUsage: true },
    subscribe: (_, __, ctx) => {
      const own = scopeKeyId(ctx);
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

