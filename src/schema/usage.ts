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
import { SUBSCRIPTION_SCOPES } from './subscription-access.js';
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
  description: 'One invocation (chat, stream, embedding or prompt run, over GraphQL or REST) that reached the gateway with a valid key, success or failure',
  fields: (t) => ({
    invocationId: t.exposeID('id', { description: 'The invocation this record accounts for: ChatResult.id, ChatChunk.invocationId' }),
    createdAt: t.field({ type: 'DateTime', description: 'When the invocation started', resolve: (r) => new Date(r.createdAt) }),
    apiKey: t.field({
      type: ApiKeyRef,
      nullable: true,
      description: "The key that made the call; null when the record has none, or it is another key's and the caller is not ADMIN",
      resolve: (r, _, ctx) => {
        if (!r.apiKeyId || !readsKey(ctx.principal!, r.apiKeyId)) return null;
        return ctx.loaders.apiKey.load(r.apiKeyId);
      },
    }),
    model: t.exposeString('model', { description: 'The public model name that was asked for' }),
    provider: t.exposeString('provider', { nullable: true, description: 'Name of the provider that answered, or was tried last; null when no provider was called' }),
    upstreamModel: t.exposeString('upstreamModel', { nullable: true, description: "The provider's own model id that answered, or was tried last; null when no provider was called" }),
    promptTokens: t.exposeInt('promptTokens', { description: 'Tokens of the input (0 when no provider answered)' }),
    completionTokens: t.exposeInt('completionTokens', { description: 'Tokens of the answer, or of what was streamed before a stream ended' }),
    costUsd: t.float({ description: "Cost in USD from the answering model's prices", resolve: (r) => Number(r.costUsd) }),
    latencyMs: t.exposeInt('latencyMs', { description: 'Milliseconds from the start of the invocation to its answer (for streams, to the end of the stream) or failure' }),
    ttftMs: t.exposeInt('ttftMs', { nullable: true, description: 'Time to first token, for streamed calls' }),
    status: t.field({ type: UsageStatusEnum, description: 'How it ended', resolve: (r) => r.status as typeof UsageStatusEnum.$inferType }),
    errorCode: t.exposeString('errorCode', { nullable: true, description: 'The error code the caller got (e.g. UPSTREAM_TIMEOUT, RATE_LIMITED; CANCELLED for a cancellation); null on success' }),
    streamed: t.exposeBoolean('streamed', { description: 'Whether it was a streamed chat (chatStream, or REST with stream: true)' }),
    attempts: t.exposeInt('attempts', { description: 'Upstream attempts made, retries and fallbacks included (0 when refused before any)' }),
    metadata: t.field({ type: 'JSON', nullable: true, description: 'The caller\'s ChatInput.metadata tags, plus prompt and promptVersion for runPrompt; null when none', resolve: (r) => r.metadata ?? null }),
  }),
});

const UsageFilterInput = builder.inputType('UsageFilter', {
  description: 'Which usage records to read; every field given must match',
  fields: (t) => ({
    apiKeyId: t.globalID({ description: "Only this key's records, by its global id (ApiKey.id; its bare UUID is still accepted until the next release, with a warning). A non-ADMIN caller only ever reads its own" }),
    model: t.string({ description: 'Only this public model name' }),
    provider: t.string({ description: 'Only this provider name' }),
    status: t.field({ type: UsageStatusEnum, description: 'Only records that ended this way' }),
    from: t.field({ type: 'DateTime', description: 'Only records created at or after this time' }),
    to: t.field({ type: 'DateTime', description: 'Only records created before this time; `from` must not be later' }),
  }),
});

const UsageBucketRef = builder.objectRef<UsageBucket>('UsageBucket').implement({
  description: 'Totals of the usage records of one group (see UsageGroupBy)',
  fields: (t) => ({
    key: t.exposeString('key', { description: "The group's value: a model or provider name, a key's global id (ApiKey.id), or an ISO date/hour" }),
    requests: t.exposeInt('requests', { description: 'Invocations recorded' }),
    errors: t.exposeInt('errors', { description: 'Invocations whose status is not OK (failed, refused or cancelled)' }),
    promptTokens: t.exposeInt('promptTokens', { description: 'Prompt tokens, summed' }),
    completionTokens: t.exposeInt('completionTokens', { description: 'Completion tokens, summed' }),
    costUsd: t.exposeFloat('costUsd', { description: 'Cost in USD, summed' }),
    p50LatencyMs: t.exposeInt('p50LatencyMs', { nullable: true, description: 'Median latencyMs of the group, in milliseconds; null when unknown' }),
    p95LatencyMs: t.exposeInt('p95LatencyMs', { nullable: true, description: '95th percentile of latencyMs of the group, in milliseconds; null when unknown' }),
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
      args: { filter: t.arg({ type: UsageFilterInput, description: 'Which records' }) },
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
    description: "Usage totals grouped by model, provider, key, day or hour, ordered by the group's key: the caller's own usage (all usage for ADMIN); null with a FORBIDDEN error without READ_USAGE",
    authScopes: { readUsage: true },
    args: { groupBy: t.arg({ type: UsageGroupByEnum, required: true, description: 'What to group by' }), filter: t.arg({ type: UsageFilterInput, description: 'Which records to count' }) },
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
    authScopes: SUBSCRIPTION_SCOPES.usageRecorded,
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

