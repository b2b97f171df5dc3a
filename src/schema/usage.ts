/* Usage records: newest-first connection, grouped summaries and the live feed. */
import { filter, pipe } from 'graphql-yoga';
import type { GuardrailEvent, UsageEvent } from '../gateway/usage-writer.js';
import type { ApiKeyRow, UsageRow } from '../db/schema.js';
import type { Context } from '../context.js';
import { newLoaders } from '../context.js';
import { forbidden } from '../errors.js';
import { inUsageScope, readsKey, readsTeam, usageReadScope } from '../services/access.js';
import type { UsageFilter } from '../services/usage-filter.js';
import { PERCENTILE_MAX_RELATIVE_ERROR } from '../services/usage-histogram.js';
import { parseRecordKey, recordKey, type RecordKey } from '../services/usage-queries.js';
import { MAX_SERIES, type UsageAggregate, type UsageBucket, type UsagePoint, type UsageSeries } from '../services/usage-rollups.js';
import { builder, grantedScopes } from './builder.js';
import { SUBSCRIPTION_SCOPES } from './subscription-access.js';
import {
  CacheHitKindEnum,
  GuardrailOutcomeEnum,
  GuardrailRuleKindEnum,
  GuardrailStageEnum,
  UsageGroupByEnum,
  UsageIntervalEnum,
  UsageStatusEnum,
} from './enums.js';
import { globalIdOf, keyOf, refused } from './global-id.js';
import { ApiKeyRef } from './keys.js';
import { TeamRef } from './team-ref.js';

/** Rows from the database and events from the feed share one shape (the feed may come through Redis as JSON). */
export type UsageRecordShape = Omit<UsageRow, 'costUsd' | 'costSavedUsd' | 'createdAt' | 'guardrails'> & {
  costUsd: number | string;
  costSavedUsd: number | string;
  createdAt: Date | string;
  guardrails: unknown;
};

const GuardrailEventRef = builder.objectRef<GuardrailEvent>('GuardrailEvent').implement({
  description: 'One guardrail rule that acted on an invocation',
  fields: (t) => ({
    policy: t.exposeString('policy', { description: 'The name of the policy the rule belongs to' }),
    stage: t.field({ type: GuardrailStageEnum, description: 'The side of the call it acted on', resolve: (e) => e.stage }),
    rule: t.field({ type: GuardrailRuleKindEnum, description: 'Which rule acted', resolve: (e) => e.rule }),
    action: t.field({ type: GuardrailOutcomeEnum, description: 'What it did', resolve: (e) => e.action }),
    detail: t.exposeString('detail', { nullable: true, description: 'What matched, never the matched text itself (e.g. "EMAIL x2")' }),
  }),
});

/** The key that made a call, when the caller may read it (UsageRecord.apiKey, Invocation.apiKey); else null. */
export async function keyOfCall(ctx: Context, apiKeyId: string | null): Promise<ApiKeyRow | null> {
  const p = ctx.principal!;
  if (!apiKeyId) return null;
  if (readsKey(p, apiKeyId)) return ctx.loaders.apiKey.load(apiKeyId);
  if (!p.isTeamAdmin) return null;
  // a TEAM_ADMIN reads the keys of its team: which team the key is in now takes reading it
  const key = await ctx.loaders.apiKey.load(apiKeyId);
  return key && readsKey(p, key.id, key.teamId) ? key : null;
}

export const UsageRecordRef = builder.nodeRef<UsageRecordShape, RecordKey | null>('UsageRecord', {
  // the primary key (created_at, id): a lookup by id alone would scan the table
  id: { resolve: (r) => recordKey({ createdAt: new Date(r.createdAt), id: r.id }), parse: parseRecordKey },
  // as `usage`: READ_USAGE or TEAM_ADMIN (FORBIDDEN without), and only the records usageReadScope gives
  loadMany: (keys, ctx) =>
    grantedScopes(ctx.principal).readUsage
      ? ctx.services.usageQueries.byKeys(keys as RecordKey[], usageReadScope(ctx.principal!))
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
      description: "The key that made the call; null when the record has none, or the caller may not read that key (ADMIN reads every key, a TEAM_ADMIN its team's, any other key itself)",
      resolve: (r, _, ctx) => keyOfCall(ctx, r.apiKeyId),
    }),
    team: t.field({
      type: TeamRef,
      nullable: true,
      description: "The team of the key that made the call, when the call was made; null when it had none, or the caller may not read that team",
      resolve: (r, _, ctx) => (r.teamId && readsTeam(ctx.principal!, r.teamId) ? ctx.loaders.team.load(r.teamId) : null),
    }),
    user: t.exposeString('endUser', { nullable: true, description: "The end user the call named (ChatInput.user, EmbedInput.user, REST's `user`), trimmed; null when none" }),
    model: t.exposeString('model', { description: 'The public model name that was asked for' }),
    provider: t.exposeString('provider', { nullable: true, description: 'Name of the provider that answered, or was tried last; null when no provider was called' }),
    upstreamModel: t.exposeString('upstreamModel', { nullable: true, description: "The provider's own model id that answered, or was tried last; null when no provider was called" }),
    promptTokens: t.exposeInt('promptTokens', { description: 'Tokens of the input (0 when no provider answered)' }),
    completionTokens: t.exposeInt('completionTokens', { description: 'Tokens of the answer, or of what was streamed before a stream ended' }),
    // `?? 0`: a feed event from an instance older than these columns has none
    cachedInputTokens: t.int({ description: "Part of promptTokens read from the provider's prompt cache (0 when none was reported)", resolve: (r) => r.cachedReadTokens ?? 0 }),
    cacheWriteTokens: t.int({ description: "Part of promptTokens written to the provider's prompt cache (0 when none was reported)", resolve: (r) => r.cacheWriteTokens ?? 0 }),
    reasoningTokens: t.int({ description: 'Part of completionTokens spent reasoning (0 when none was reported)', resolve: (r) => r.reasoningTokens ?? 0 }),
    costUsd: t.float({ description: "Cost in USD, each kind of token at the answering target's rate (operator prices, else the price catalogue's)", resolve: (r) => Number(r.costUsd) }),
    latencyMs: t.exposeInt('latencyMs', { description: 'Milliseconds from the start of the invocation to its answer (for streams, to the end of the stream) or failure' }),
    ttftMs: t.exposeInt('ttftMs', { nullable: true, description: 'Time to first token, for streamed calls' }),
    status: t.field({ type: UsageStatusEnum, description: 'How it ended', resolve: (r) => r.status as typeof UsageStatusEnum.$inferType }),
    errorCode: t.exposeString('errorCode', { nullable: true, description: 'The error code the caller got (e.g. UPSTREAM_TIMEOUT, RATE_LIMITED; CANCELLED for a cancellation); null on success' }),
    streamed: t.exposeBoolean('streamed', { description: 'Whether it was a streamed chat (chatStream, or REST with stream: true)' }),
    attempts: t.exposeInt('attempts', { description: 'Upstream attempts made, retries and fallbacks included (0 when refused before any)' }),
    metadata: t.field({ type: 'JSON', nullable: true, description: 'The caller\'s ChatInput.metadata tags, plus prompt and promptVersion for runPrompt; null when none', resolve: (r) => r.metadata ?? null }),
    cacheHit: t.field({
      type: CacheHitKindEnum,
      nullable: true,
      description: 'How the response cache answered it (costUsd is then 0); null when it did not',
      resolve: (r) => (r.cacheHit as typeof CacheHitKindEnum.$inferType | null) ?? null,
    }),
    costSavedUsd: t.float({ description: 'What a cache hit would have cost upstream, in USD; 0 for every other call', resolve: (r) => Number(r.costSavedUsd ?? 0) }),
    cacheSimilarity: t.float({
      nullable: true,
      description: "A cache hit's similarity to the stored prompt: cosine similarity of their embeddings for SEMANTIC, 1 for EXACT; null when the cache did not answer",
      resolve: (r) => r.cacheSimilarity ?? null,
    }),
    guardrails: t.field({
      type: [GuardrailEventRef],
      description: 'The guardrail rules that acted on it, in order; empty when none did',
      resolve: (r) => (Array.isArray(r.guardrails) ? (r.guardrails as GuardrailEvent[]) : []),
    }),
  }),
});

const UsageFilterInput = builder.inputType('UsageFilter', {
  description: 'Which usage records to read; every field given must match',
  fields: (t) => ({
    apiKeyId: t.globalID({ description: "Only this key's records, by its global id (ApiKey.id; its bare UUID is still accepted until the next release, with a warning). A non-ADMIN caller only ever reads its own" }),
    team: t.globalID({
      description:
        "Only records of this team's keys, by its global id (Team.id); a caller other than ADMIN still reads only its own records (a TEAM_ADMIN its team's). Like cacheHit, usageSummary and usageSeries then read the records of the range",
    }),
    model: t.string({ description: 'Only this public model name' }),
    provider: t.string({ description: 'Only this provider name' }),
    status: t.field({ type: UsageStatusEnum, description: 'Only records that ended this way' }),
    user: t.string({
      description:
        'Only records of this end user (UsageRecord.user, compared after trimming). The rollups are not kept per end user: like cacheHit, usageSummary and usageSeries then read the records of the range',
    }),
    cacheHit: t.boolean({
      description:
        'true: only records the response cache answered; false: only the others. The hourly rollups are not kept per cache hit, so usageSummary and usageSeries read the records of the whole range for this filter (the same sums and percentile bounds): its time grows with the records in the range, where the rollups answer in time per hour, so give it the range you need',
    }),
    from: t.field({ type: 'DateTime', description: 'Only records created at or after this time' }),
    to: t.field({ type: 'DateTime', description: 'Only records created before this time; `from` must not be later' }),
  }),
});

/** How percentiles are read from the rollups' histograms, said once for every percentile field. */
const PERCENTILE_NOTE = `computed from a histogram whose bins hold every value below 32 ms exactly and any larger value within ${(
  PERCENTILE_MAX_RELATIVE_ERROR * 100
).toFixed(3)} % (1/${1 / PERCENTILE_MAX_RELATIVE_ERROR}), so it is within that fraction of the exact percentile_cont, then rounded to a whole millisecond`;

type BuilderTypes = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never;

/** The totals fields UsageBucket and UsagePoint share. */
function aggregateFields<P extends UsageAggregate>(t: PothosSchemaTypes.ObjectFieldBuilder<BuilderTypes, P>) {
  return {
    requests: t.int({ description: 'Invocations recorded', resolve: (a) => a.requests }),
    errors: t.int({ description: 'Invocations whose status is not OK (failed, refused or cancelled)', resolve: (a) => a.errors }),
    promptTokens: t.int({ description: 'Prompt tokens, summed', resolve: (a) => a.promptTokens }),
    completionTokens: t.int({ description: 'Completion tokens, summed', resolve: (a) => a.completionTokens }),
    costUsd: t.float({ description: 'Cost in USD, summed (exactly, from the records\' decimal costs)', resolve: (a) => a.costUsd }),
    p50LatencyMs: t.int({ nullable: true, description: `Median latencyMs, in milliseconds, ${PERCENTILE_NOTE}; null without records`, resolve: (a) => a.p50LatencyMs }),
    p95LatencyMs: t.int({ nullable: true, description: `95th percentile of latencyMs, in milliseconds, ${PERCENTILE_NOTE}; null without records`, resolve: (a) => a.p95LatencyMs }),
    p50TtftMs: t.int({ nullable: true, description: `Median ttftMs (time to first token) of the streamed calls, in milliseconds, ${PERCENTILE_NOTE}; null without streamed calls`, resolve: (a) => a.p50TtftMs }),
    p95TtftMs: t.int({ nullable: true, description: `95th percentile of ttftMs of the streamed calls, in milliseconds, ${PERCENTILE_NOTE}; null without streamed calls`, resolve: (a) => a.p95TtftMs }),
    cacheHits: t.int({ description: 'Invocations the response cache answered (cacheHit EXACT or SEMANTIC)', resolve: (a) => a.cacheHits }),
    cacheHitRate: t.float({ description: 'cacheHits / requests, from 0 to 1; 0 without requests', resolve: (a) => a.cacheHitRate }),
    costSavedUsd: t.float({ description: "What the cache hits would have cost upstream, in USD, summed (exactly, from the records' decimal costSavedUsd)", resolve: (a) => a.costSavedUsd }),
  };
}

const UsageBucketRef = builder.objectRef<UsageBucket>('UsageBucket').implement({
  description: 'Totals of the usage records of one group (see UsageGroupBy)',
  fields: (t) => ({
    key: t.exposeString('key', { description: "The group's value: a model or provider name, a key's global id (ApiKey.id), a team's global id (Team.id), an end user, or an ISO date/hour; empty for records without that provider, key, team or end user" }),
    ...aggregateFields(t),
  }),
});

const UsagePointRef = builder.objectRef<UsagePoint>('UsagePoint').implement({
  description: 'Totals of the usage records of one interval of a series',
  fields: (t) => ({
    at: t.expose('at', { type: 'DateTime', description: 'Start of the interval (UTC); the first and last points cover only the part of their interval inside the range' }),
    ...aggregateFields(t),
  }),
});

const UsageSeriesRef = builder.objectRef<UsageSeries>('UsageSeries').implement({
  description: 'The usage of one group over time, as points of the chosen interval',
  fields: (t) => ({
    key: t.exposeString('key', {
      description: 'The group\'s value (a model or provider name, a key\'s or team\'s global id, an end user; empty for records without provider, key, team or end user), or "all" when the series are not grouped',
    }),
    points: t.field({
      type: [UsagePointRef],
      description: 'The intervals of the range that have records, oldest first (intervals without records are left out)',
      resolve: (s) => s.points,
    }),
  }),
});

/** How long a subscription reuses its DataLoaders between records (bounds how stale a nested key can be). */
const FEED_LOADER_TTL_MS = 1000;
const loadersBorn = new WeakMap<Context, number>();

/** The filter as the queries take it: the key named by its global id (or, for one release, its bare UUID). */
function readFilter(ctx: Context, filter: typeof UsageFilterInput.$inferInput | null | undefined): UsageFilter | null {
  if (!filter) return null;
  const { team, ...rest } = filter;
  return {
    ...rest,
    apiKeyId: filter.apiKeyId == null ? null : keyOf(ctx, filter.apiKeyId, ApiKeyRef, 'filter.apiKeyId'),
    teamId: team == null ? null : keyOf(ctx, team, TeamRef, 'filter.team'),
  };
}

/** A bucket's or series' key as the API names it: a key or a team by its global id ('' stays: none). */
function publicGroupKey(groupBy: string | null | undefined): (key: string) => string {
  if (groupBy === 'API_KEY') return (key) => key && globalIdOf(ApiKeyRef, key);
  if (groupBy === 'TEAM') return (key) => key && globalIdOf(TeamRef, key);
  return (key) => key;
}

builder.queryFields((t) => ({
  usage: t.connection(
    {
      type: UsageRecordRef,
      nullable: true,
      description: "The caller's own usage (its team's for a TEAM_ADMIN, all usage for ADMIN), newest first; null with a FORBIDDEN error without READ_USAGE",
      authScopes: { readUsage: true },
      args: { filter: t.arg({ type: UsageFilterInput, description: 'Which records' }) },
      resolve: (_, args, ctx) =>
        ctx.services.usageQueries.page({
          filter: readFilter(ctx, args.filter),
          first: args.first,
          after: args.after,
          last: args.last,
          before: args.before,
          readScope: usageReadScope(ctx.principal!),
        }),
    },
    { name: 'UsageRecordConnection', description: 'Newest first' },
    { name: 'UsageRecordEdge', description: 'A usage record and its cursor' },
  ),
  usageSummary: t.field({
    type: [UsageBucketRef],
    nullable: true,
    description: "Usage totals grouped by model, provider, key, team, end user, day or hour, ordered by the group's key, or without groupBy one bucket keyed \"all\" of everything the filter selects (its percentiles are the whole window's; no bucket when there is no record): the caller's own usage (its team's for a TEAM_ADMIN, all usage for ADMIN); null with a FORBIDDEN error without READ_USAGE",
    authScopes: { readUsage: true },
    args: { groupBy: t.arg({ type: UsageGroupByEnum, description: 'What to group by; omitted: one bucket of everything' }), filter: t.arg({ type: UsageFilterInput, description: 'Which records to count' }) },
    resolve: async (_, args, ctx) => {
      const buckets = await ctx.services.usageQueries.summary({
        groupBy: args.groupBy ?? null,
        filter: readFilter(ctx, args.filter),
        readScope: usageReadScope(ctx.principal!),
      });
      // a key's or team's bucket is named by its global id, which `node(id:)` and the filter take
      const named = publicGroupKey(args.groupBy);
      return buckets.map((b) => ({ ...b, key: named(b.key) }));
    },
  }),
  usageSeries: t.field({
    type: [UsageSeriesRef],
    nullable: true,
    description: `Usage over time for charts: the caller's own usage (its team's for a TEAM_ADMIN, all usage for ADMIN), in points of \`interval\` over [filter.from, filter.to) (default: the 24 hours before filter.to, which defaults to now). One series keyed "all", or with \`groupBy\` one per group: at most ${MAX_SERIES}, the largest by requests, largest first. Null with a FORBIDDEN error without READ_USAGE; BAD_USER_INPUT naming \`interval\` for a range too long for it, \`groupBy\` for DAY or HOUR`,
    authScopes: { readUsage: true },
    args: {
      interval: t.arg({ type: UsageIntervalEnum, required: true, description: 'The width of each point' }),
      groupBy: t.arg({ type: UsageGroupByEnum, description: 'One series per MODEL, PROVIDER, API_KEY, TEAM or USER; omitted: one series of everything' }),
      filter: t.arg({ type: UsageFilterInput, description: 'Which records to count, and the range (from, to)' }),
    },
    resolve: async (_, args, ctx) => {
      const series = await ctx.services.usageQueries.series({
        interval: args.interval,
        groupBy: args.groupBy,
        filter: readFilter(ctx, args.filter),
        readScope: usageReadScope(ctx.principal!),
      });
      const named = publicGroupKey(args.groupBy);
      return series.map((s) => ({ ...s, key: named(s.key) }));
    },
  }),
}));

builder.subscriptionFields((t) => ({
  usageRecorded: t.field({
    type: UsageRecordRef,
    description: "Usage records as they are written: the caller's own, its team's for a TEAM_ADMIN, or everyone's for ADMIN",
    authScopes: SUBSCRIPTION_SCOPES.usageRecorded,
    subscribe: (_, __, ctx) => {
      const scope = usageReadScope(ctx.principal!);
      const source = ctx.services.feed.subscribe();
      return scope.kind === 'all' ? source : pipe(source, filter((e: UsageEvent) => inUsageScope(scope, e)));
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

