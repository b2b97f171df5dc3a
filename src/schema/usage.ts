/* Usage records: newest-first connection, grouped summaries and the live feed. */
import { filter, pipe } from 'graphql-yoga';
import type { UsageEvent } from '../gateway/usage-writer.js';
import type { UsageRow } from '../db/schema.js';
import type { Context } from '../context.js';
import { newLoaders } from '../context.js';
import type { UsageBucket } from '../services/usage-queries.js';
import { builder } from './builder.js';
import { SUBSCRIPTION_SCOPES } from './subscription-access.js';
import { UsageGroupByEnum, UsageStatusEnum } from './enums.js';
import { ApiKeyRef } from './keys.js';

/** Rows from the database and events from the feed share one shape (the feed may come through Redis as JSON). */
type UsageRecordShape = Omit<UsageRow, 'costUsd' | 'createdAt'> & { costUsd: number | string; createdAt: Date | string };

const UsageRecordRef = builder.objectRef<UsageRecordShape>('UsageRecord').implement({
  description: 'One invocation (chat, stream, embedding or prompt run, over GraphQL or REST) that reached the gateway with a valid key, success or failure',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The invocation id (ChatResult.id and ChatChunk.invocationId)' }),
    createdAt: t.field({ type: 'DateTime', description: 'When the invocation started', resolve: (r) => new Date(r.createdAt) }),
    apiKey: t.field({
      type: ApiKeyRef,
      nullable: true,
      description: "The key that made the call; null when the record has none, or it is another key's and the caller is not ADMIN",
      resolve: (r, _, ctx) => {
        if (!r.apiKeyId) return null;
        // non-admins only ever see their own records, so their own key
        if (!ctx.principal?.isAdmin && r.apiKeyId !== ctx.principal?.key.id) return null;
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

type PageInfoShape = { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
const PageInfoRef = builder.objectRef<PageInfoShape>('PageInfo').implement({
  description: 'Where a page of a connection sits in the whole list (Relay cursor connections)',
  fields: (t) => ({
    hasNextPage: t.exposeBoolean('hasNextPage', { description: 'Whether more items follow this page' }),
    hasPreviousPage: t.exposeBoolean('hasPreviousPage', { description: 'Whether items come before this page' }),
    startCursor: t.exposeString('startCursor', { nullable: true, description: "The first item's cursor; null on an empty page" }),
    endCursor: t.exposeString('endCursor', { nullable: true, description: "The last item's cursor, to pass as `after` for the next page; null on an empty page" }),
  }),
});

const UsageRecordEdgeRef = builder.objectRef<{ cursor: string; node: UsageRecordShape }>('UsageRecordEdge').implement({
  description: 'A usage record and its place in the list',
  fields: (t) => ({
    cursor: t.exposeString('cursor', { description: 'Opaque position of this record, for `after`' }),
    node: t.field({ type: UsageRecordRef, description: 'The usage record', resolve: (e) => e.node }),
  }),
});

const UsageRecordConnectionRef = builder
  .objectRef<{ edges: Array<{ cursor: string; node: UsageRecordShape }>; pageInfo: PageInfoShape }>('UsageRecordConnection')
  .implement({
    description: 'Newest first',
    fields: (t) => ({
      edges: t.field({ type: [UsageRecordEdgeRef], description: 'The records of this page, newest first', resolve: (c) => c.edges }),
      pageInfo: t.field({ type: PageInfoRef, description: 'Whether there are more pages, and the cursors to reach them', resolve: (c) => c.pageInfo }),
    }),
  });

const UsageFilterInput = builder.inputType('UsageFilter', {
  description: 'Which usage records to read; every field given must match',
  fields: (t) => ({
    apiKeyId: t.id({ description: "Only this key's records (a non-ADMIN caller only ever reads its own)" }),
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
    key: t.exposeString('key', { description: "The group's value: a model or provider name, a key id, or an ISO date/hour" }),
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

const scopeKeyId = (ctx: Context) => (ctx.principal!.isAdmin ? null : ctx.principal!.key.id);

builder.queryFields((t) => ({
  usage: t.field({
    type: UsageRecordConnectionRef,
    description: "The caller's own usage (all usage for ADMIN), newest first",
    authScopes: { readUsage: true },
    args: { filter: t.arg({ type: UsageFilterInput, description: 'Which records' }), first: t.arg.int({ description: 'Page size, 0 to 500 (default 50)' }), after: t.arg.string({ description: 'Start after this cursor (the endCursor of the page before)' }) },
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
    description: "Usage totals grouped by model, provider, key, day or hour, ordered by the group's key: the caller's own usage (all usage for ADMIN)",
    authScopes: { readUsage: true },
    args: { groupBy: t.arg({ type: UsageGroupByEnum, required: true, description: 'What to group by' }), filter: t.arg({ type: UsageFilterInput, description: 'Which records to count' }) },
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
    authScopes: SUBSCRIPTION_SCOPES.usageRecorded,
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

