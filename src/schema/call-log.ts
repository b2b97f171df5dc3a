/* The call log: Invocation (one logged call, its attempts timeline and, at FULL, its bodies), read by id or searched. */
import DataLoader from 'dataloader';
import type { AttemptRecord } from '../call-log/types.js';
import type { Context } from '../context.js';
import type { UsageRow } from '../db/schema.js';
import { usageReadScope } from '../services/access.js';
import { MAX_INVOCATION_PAGE, MAX_SEARCH_CHARS, type CallLogRecord, type InvocationFilter } from '../services/call-logs.js';
import type { RecordKey } from '../services/usage-queries.js';
import { builder } from './builder.js';
import { LogBodiesEnum, UsageStatusEnum } from './enums.js';
import { keyOf } from './global-id.js';
import { ApiKeyRef } from './keys.js';
import { keyOfCall, UsageRecordRef, type UsageRecordShape } from './usage.js';

const AttemptOutcomeEnum = builder.enumType('AttemptOutcome', {
  description: 'How one upstream attempt ended',
  values: {
    OK: { description: 'The upstream answered (for a stream: to its end)' },
    ERROR: { description: 'It failed: an error status, a network error or a broken stream' },
    TIMEOUT: { description: "No answer within the model's per-attempt timeout" },
    CANCELLED: { description: 'The client went away before it ended' },
  } as const,
});

const InvocationAttemptRef = builder.objectRef<AttemptRecord>('InvocationAttempt').implement({
  description: 'One upstream try of an invocation (retries and fallbacks each count); times in milliseconds from the start of the invocation',
  fields: (t) => ({
    attempt: t.exposeInt('attempt', { description: "1 for the invocation's first attempt, then counting retries and fallbacks" }),
    model: t.exposeString('model', { description: 'The public model whose target it tried (the one asked for, or a fallback)' }),
    provider: t.exposeString('provider', { description: 'The name of the provider it called' }),
    upstreamModel: t.exposeString('upstreamModel', { description: "The provider's own model id it called" }),
    startMs: t.exposeInt('startMs', { description: 'When it began' }),
    waitMs: t.exposeInt('waitMs', { description: 'The retry wait (backoff or Retry-After) just before it; 0 for a first try' }),
    ttfbMs: t.exposeInt('ttfbMs', { nullable: true, description: "From its start to the upstream's response headers; null when none came" }),
    durationMs: t.exposeInt('durationMs', { nullable: true, description: 'From its start to its end (for a stream: the end of the stream)' }),
    status: t.exposeInt('status', { nullable: true, description: "The upstream's HTTP status; null when none came (network error, timeout, the built-in echo provider)" }),
    outcome: t.field({ type: AttemptOutcomeEnum, description: 'How it ended', resolve: (a) => a.outcome }),
    error: t.exposeString('error', { nullable: true, description: "The gateway's reading of the failure (never message text); null on success" }),
  }),
});

/** Per-operation batches (keyed by the operation's loaders, which a long subscription renews). */
interface CallLogLoaders {
  invocation: DataLoader<string, CallLogRecord | null>;
  usageRecord: DataLoader<RecordKey, UsageRow | null, string>;
}
const callLogLoaders = new WeakMap<object, CallLogLoaders>();

function loadersOf(ctx: Context): CallLogLoaders {
  let l = callLogLoaders.get(ctx.loaders);
  if (!l) {
    const scope = () => usageReadScope(ctx.principal!);
    l = {
      invocation: new DataLoader((ids) => ctx.services.callLogs.byIds(ids, scope())),
      usageRecord: new DataLoader((keys) => ctx.services.usageQueries.byKeys(keys, scope()), { cacheKeyFn: (k) => `${k.createdAt}|${k.id}` }),
    };
    callLogLoaders.set(ctx.loaders, l);
  }
  return l;
}

const InvocationRef = builder.objectRef<CallLogRecord>('Invocation').implement({
  description:
    "One logged call (chat, stream, embedding or prompt run) of a key, team or model whose logBodies is METADATA or FULL: its parameters, attempts timeline and, at FULL, the request and answer",
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The invocation id: ChatResult.id, ChatChunk.invocationId, UsageRecord.invocationId' }),
    requestId: t.exposeString('requestId', { nullable: true, description: 'The request that made it: its x-request-id header, or extensions.requestId of the GraphQL result' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the invocation started' }),
    level: t.field({ type: LogBodiesEnum, description: 'How much was kept: METADATA or FULL', resolve: (r) => r.level as 'METADATA' | 'FULL' }),
    model: t.exposeString('model', { description: 'The public model name that was asked for' }),
    status: t.field({ type: UsageStatusEnum, description: 'How it ended', resolve: (r) => r.status as typeof UsageStatusEnum.$inferType }),
    apiKey: t.field({
      type: ApiKeyRef,
      nullable: true,
      description: 'The key that made the call; null when the caller may not read that key (as UsageRecord.apiKey)',
      resolve: (r, _, ctx) => keyOfCall(ctx, r.apiKeyId),
    }),
    usageRecord: t.field({
      type: UsageRecordRef,
      nullable: true,
      description: 'Its usage record (tokens, cost, latency); null when it is not (yet) written or gone with retention',
      resolve: (r, _, ctx) => loadersOf(ctx).usageRecord.load({ createdAt: r.createdAt.toISOString(), id: r.id }) as Promise<UsageRecordShape | null>,
    }),
    parameters: t.field({
      type: 'JSON',
      nullable: true,
      description: 'Its parameters without any message text: temperature, topP, maxTokens, stop count, tool names, toolChoice, response format type, message count and roles, streamed',
      resolve: (r) => r.parameters ?? null,
    }),
    request: t.field({
      type: 'JSON',
      nullable: true,
      description: 'FULL only (else null): the request as the upstream got it, after guardrail redaction ({messages, tools, …}; embeddings: {input})',
      resolve: (r) => r.request ?? null,
    }),
    response: t.field({
      type: 'JSON',
      nullable: true,
      description: 'FULL only (else null): the answer ({content, toolCalls, finishReason, usage, reasoning}; a stream assembled; embeddings: {dimensions, count})',
      resolve: (r) => r.response ?? null,
    }),
    attempts: t.field({ type: [InvocationAttemptRef], description: 'Its upstream attempts, in order; empty when it was refused or answered before any', resolve: (r) => r.attempts ?? [] }),
    traceId: t.exposeString('traceId', { nullable: true, description: 'The OpenTelemetry trace it ran in; null when tracing is off' }),
    bodyBytes: t.exposeInt('bodyBytes', { description: 'Size of request and response as JSON before any truncation (0 below FULL)' }),
    truncated: t.exposeBoolean('truncated', { description: 'Whether message contents were cut to keep the bodies within CALL_LOG_MAX_BODY_BYTES' }),
  }),
});

const InvocationFilterInput = builder.inputType('InvocationFilter', {
  description: 'Which logged invocations to read; every field given must match',
  fields: (t) => ({
    apiKeyId: t.globalID({ description: "Only this key's calls, by its global id (ApiKey.id). A caller other than ADMIN still reads only its own (a TEAM_ADMIN its team's)" }),
    model: t.string({ description: 'Only this public model name' }),
    status: t.field({ type: UsageStatusEnum, description: 'Only calls that ended this way' }),
    from: t.field({ type: 'DateTime', description: 'Only calls started at or after this time' }),
    to: t.field({ type: 'DateTime', description: 'Only calls started before this time; `from` must not be later' }),
    search: t.string({
      description: `Only FULL calls whose messages or answer hold these words (websearch syntax: words, "a phrase", or, -word; whole words, no stemming), at most ${MAX_SEARCH_CHARS} characters`,
    }),
    requestId: t.string({ description: 'Only calls made by this request (x-request-id / extensions.requestId)' }),
  }),
});

const InvocationConnectionRef = builder.connectionObject(
  { type: InvocationRef, name: 'InvocationConnection', description: 'Logged invocations, newest first' },
  { name: 'InvocationEdge', description: 'A logged invocation and its cursor' },
);

/** The filter as the service takes it: the key named by its global id. */
function readFilter(ctx: Context, filter: typeof InvocationFilterInput.$inferInput | null | undefined): InvocationFilter | null {
  if (!filter) return null;
  return { ...filter, apiKeyId: filter.apiKeyId == null ? null : keyOf(ctx, filter.apiKeyId, ApiKeyRef, 'filter.apiKeyId') };
}

const WHOSE = "the caller's own calls (its team's for a TEAM_ADMIN, everyone's for ADMIN; no READ_USAGE needed)";

builder.queryFields((t) => ({
  invocation: t.field({
    type: InvocationRef,
    nullable: true,
    description: `One logged invocation by its invocation id, or by a request id (then the newest invocation of that request), among ${WHOSE}; null when there is none`,
    authScopes: { authenticated: true },
    args: {
      id: t.arg.id({ required: true, description: 'An invocation id (ChatResult.id, ChatChunk.invocationId or a ChatChunk.id), or a request id (x-request-id, extensions.requestId)' }),
    },
    resolve: (_, { id }, ctx) => ctx.services.callLogs.byId(String(id).trim(), usageReadScope(ctx.principal!)),
  }),
  invocations: t.field({
    type: InvocationConnectionRef,
    description: `Logged invocations, newest first: ${WHOSE}`,
    authScopes: { authenticated: true },
    args: {
      filter: t.arg({ type: InvocationFilterInput, description: 'Which invocations' }),
      first: t.arg.int({ defaultValue: 50, description: `At most this many from the newest, or after \`after\` (0-${MAX_INVOCATION_PAGE}); ignored with \`last\`` }),
      after: t.arg.string({ description: "Only invocations after (older than) this cursor: a previous page's pageInfo.endCursor" }),
      last: t.arg.int({ description: `Pages backward: at most this many from the oldest, or before \`before\` (0-${MAX_INVOCATION_PAGE})` }),
      before: t.arg.string({ description: "Only invocations before (newer than) this cursor: a page's pageInfo.startCursor" }),
    },
    resolve: (_, args, ctx) =>
      ctx.services.callLogs.page({
        filter: readFilter(ctx, args.filter),
        first: args.first,
        after: args.after,
        last: args.last,
        before: args.before,
        scope: usageReadScope(ctx.principal!),
      }),
  }),
}));

builder.objectFields(UsageRecordRef, (t) => ({
  invocation: t.field({
    type: InvocationRef,
    nullable: true,
    description: "Its call log entry; null when the call was not logged (logBodies NONE), or the log is gone with retention",
    resolve: (r, _, ctx) => loadersOf(ctx).invocation.load(r.id),
  }),
}));
