/* API keys: viewer, admin listing and lifecycle. Secrets are returned once, at creation or rotation. */
import type { Context } from '../context.js';
import type { CachePolicyInput as CachePolicyInputValue } from '../cache/cache-policy.js';
import type { ApiKeyRow } from '../db/schema.js';
import type { LimitValues } from '../services/limit-inputs.js';
import type { KeyLimitUsage } from '../services/limit-usage.js';
import type { UsageTotals } from '../services/usage-queries.js';
import { builder } from './builder.js';
import { CachePolicyInput, CachePolicyRef } from './cache-policy.js';
import { LogBodiesEnum, ScopeEnum, logBodiesOf } from './enums.js';
import { keyOf, refused, uuidKey, type GlobalId } from './global-id.js';
import { badInput, forbidden, notFound } from '../errors.js';
import { checkKeyGrant, listedKeysTeamId, managesKey, readsKey } from '../services/access.js';
import { TeamRef } from './team-ref.js';
import { policyIds } from './guardrail-policy-names.js';

export const KeyLimitsRef = builder.objectRef<LimitValues>('KeyLimits').implement({
  description: 'What a key (or a team, or an end user) may use; null means no limit. Rates answer RATE_LIMITED, quotas and the budget QUOTA_EXCEEDED',
  fields: (t) => ({
    requestsPerMinute: t.exposeInt('requestsPerMinute', { nullable: true, description: 'Invocations a minute (a 60-second window that opens with the first call)' }),
    tokensPerMinute: t.exposeInt('tokensPerMinute', { nullable: true, description: 'Prompt and completion tokens a minute (same window as requestsPerMinute)' }),
    tokensPerDay: t.exposeInt('tokensPerDay', { nullable: true, description: 'Prompt and completion tokens a UTC day' }),
    monthlyBudgetUsd: t.exposeFloat('monthlyBudgetUsd', { nullable: true, description: 'USD a calendar month (UTC)' }),
  }),
});

export const UsageTotalsRef = builder.objectRef<UsageTotals>('UsageTotals').implement({
  description: 'Sums over a set of usage records',
  fields: (t) => ({
    requests: t.exposeInt('requests', { description: 'Invocations recorded, failed and refused ones included' }),
    promptTokens: t.exposeInt('promptTokens', { description: 'Prompt tokens, summed' }),
    completionTokens: t.exposeInt('completionTokens', { description: 'Completion tokens, summed' }),
    costUsd: t.exposeFloat('costUsd', { description: 'Cost in USD, summed' }),
  }),
});

const KeyLimitUsageRef = builder.objectRef<KeyLimitUsage>('KeyLimitUsage').implement({
  description:
    'What a key has used of each limit right now, as the limiter counts it: the counters the next call is admitted against, ' +
    'with the worst-case estimate of calls still running and what finished calls really used. Given whether or not the ' +
    'limit is set; compare it with `limits`',
  fields: (t) => ({
    requestsThisMinute: t.exposeInt('requestsThisMinute', {
      description: 'Calls admitted in the open 60-second window of requestsPerMinute/tokensPerMinute; 0 when none is open (always, for a key without either limit: nothing is counted)',
    }),
    tokensThisMinute: t.exposeInt('tokensThisMinute', {
      description: 'Tokens counted in the same window (an estimate until the call ends, then what it used); 0 when none is open',
    }),
    tokensToday: t.exposeInt('tokensToday', {
      description: "Prompt and completion tokens of the UTC day: the tokensPerDay counter, or without one the day's recorded usage (what the counter would start from)",
    }),
    costThisMonthUsd: t.exposeFloat('costThisMonthUsd', {
      description: "USD of the calendar month (UTC): the monthlyBudgetUsd counter, or without one the month's recorded usage (what the counter would start from)",
    }),
  }),
});

export const ApiKeyRef = builder.nodeRef<ApiKeyRow, string | null>('ApiKey', {
  id: { resolve: (k) => k.id, parse: uuidKey },
  // as `apiKeys` (ADMIN, TEAM_ADMIN) and `viewer` (the key itself); another key's is FORBIDDEN, whether it exists or not
  loadMany: (ids, ctx) => (ids as string[]).map((id) => readableKey(ctx, id)),
});

const otherKey = () => refused<ApiKeyRow>(forbidden('This key may not access other keys'));

async function readableKey(ctx: Context, id: string): Promise<ApiKeyRow | null> {
  const p = ctx.principal!;
  if (readsKey(p, id)) return ctx.loaders.apiKey.load(id);
  // a TEAM_ADMIN reads its team's keys: which team a key is in takes reading it
  if (!p.isTeamAdmin) return otherKey();
  const row = await ctx.loaders.apiKey.load(id);
  return row && readsKey(p, id, row.teamId) ? row : otherKey();
}
ApiKeyRef.implement({
  description: 'An API key: who a caller is, what it may do and its limits. The secret itself is never readable',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'A label for people' }),
    prefix: t.exposeString('prefix', { description: 'First characters of the secret, for recognising a key; never the whole secret' }),
    scopes: t.field({ type: [ScopeEnum], description: 'What the key may do', resolve: (k) => k.scopes as Array<typeof ScopeEnum.$inferType> }),
    allowedModels: t.exposeStringList('allowedModels', { nullable: true, description: 'Public model names this key may invoke; null means all' }),
    limits: t.field({ type: KeyLimitsRef, description: 'Its rate limits, quotas and budget', resolve: (k) => k }),
    cache: t.field({ type: CachePolicyRef, description: "Its calls' response cache policy and scope", resolve: (k) => k }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', nullable: true, description: 'When the key stops working; null means never' }),
    logBodies: t.field({
      type: LogBodiesEnum,
      nullable: true,
      description: "How much of its calls the call log keeps (the lowest of the key's, its team's and the model's applies); null: not set",
      resolve: (k) => logBodiesOf(k.logBodies),
    }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true, description: 'When the key was revoked; null while it is not' }),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', nullable: true, description: 'When the key last authenticated a request (updated at most once a minute); null if never' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was created' }),
    monthToDate: t.field({
      type: UsageTotalsRef,
      description: "Totals of this key's usage this calendar month (UTC)",
      resolve: (k, _, ctx) => ctx.loaders.monthToDate.load(k.id),
    }),
    limitUsage: t.field({
      type: KeyLimitUsageRef,
      description: 'How much of each limit and budget it has used right now (compare with `limits`); read without reserving anything',
      resolve: (k, _, ctx) => ctx.loaders.limitUsage.load(k),
    }),
  }),
});

const CreatedApiKeyRef = builder.objectRef<{ row: ApiKeyRow; secret: string }>('CreatedApiKey').implement({
  description: 'Returned once, when a key is created or rotated: the secret cannot be read again.',
  fields: (t) => ({
    apiKey: t.field({ type: ApiKeyRef, description: 'The key', resolve: (c) => c.row }),
    secret: t.exposeString('secret', { description: 'The secret (gw_…) to send as `Authorization: Bearer <secret>`; shown this once' }),
  }),
});

export const KeyLimitsInput = builder.inputType('KeyLimitsInput', {
  description: 'Limits of a key (see KeyLimits); on update, an omitted limit stays as it is and null removes it',
  fields: (t) => ({
    requestsPerMinute: t.int({ description: 'Invocations a minute, a non-negative integer' }),
    tokensPerMinute: t.int({ description: 'Tokens a minute, a non-negative integer' }),
    tokensPerDay: t.int({ description: 'Tokens a UTC day, a non-negative integer' }),
    monthlyBudgetUsd: t.float({ description: 'USD a calendar month (UTC), non-negative' }),
  }),
});

const CreateApiKeyInput = builder.inputType('CreateApiKeyInput', {
  description: 'A new API key',
  fields: (t) => ({
    name: t.string({ required: true, description: 'A label for people, 1-200 characters' }),
    scopes: t.field({ type: [ScopeEnum], description: 'What the key may do (default [INVOKE])' }),
    allowedModels: t.stringList({ description: 'Public model names the key may invoke; omitted or null means all' }),
    limits: t.field({ type: KeyLimitsInput, description: 'Its limits (default: none)' }),
    expiresAt: t.field({ type: 'DateTime', description: 'When the key stops working, in the future; omitted means never' }),
    guardrailPolicies: t.stringList({ description: "Names of the guardrail policies its calls run, before the model's (default: none)" }),
    cache: t.field({ type: CachePolicyInput, description: "Its calls' response cache policy (default: none set, scope KEY)" }),
    logBodies: t.field({ type: LogBodiesEnum, description: "How much of its calls the call log keeps (see LogBodies; default: not set)" }),
    team: t.globalID({ description: "The team it joins (Team.id; default: none). A TEAM_ADMIN's keys always join its own team" }),
    endUserLimits: t.field({ type: KeyLimitsInput, description: 'Limits of each end user (ChatInput.user) of its calls (default: none)' }),
    budgetAlertThresholds: t.floatList({
      description: 'Fractions of its monthlyBudgetUsd that raise a budget alert when crossed, each in (0, 10], at most 10 (default [0.5, 0.8, 1])',
    }),
  }),
});

const UpdateApiKeyInput = builder.inputType('UpdateApiKeyInput', {
  description: 'Changes to a key, effective on every gateway instance within 5 seconds; an omitted field stays as it is',
  fields: (t) => ({
    name: t.string({ description: 'A label for people, 1-200 characters' }),
    scopes: t.field({ type: [ScopeEnum], description: 'Replaces its scopes (at least one)' }),
    allowedModels: t.stringList({ description: 'Replaces its list of public model names it may invoke; null allows all' }),
    limits: t.field({ type: KeyLimitsInput, description: 'Changes to its limits' }),
    expiresAt: t.field({ type: 'DateTime', description: 'When the key stops working, in the future; null means never' }),
    guardrailPolicies: t.stringList({ description: 'Replaces the names of its guardrail policies ([] removes them all)' }),
    cache: t.field({ type: CachePolicyInput, description: "Replaces its calls' response cache policy; null clears it" }),
    logBodies: t.field({ type: LogBodiesEnum, description: 'How much of its calls the call log keeps (see LogBodies); null: not set' }),
    team: t.globalID({ description: 'Moves it into this team (Team.id; ADMIN only); null takes it out of its team' }),
    endUserLimits: t.field({ type: KeyLimitsInput, description: 'Changes to the limits of each end user of its calls' }),
    budgetAlertThresholds: t.floatList({ description: 'Replaces its budget alert thresholds (each in (0, 10], at most 10); null returns to the default' }),
  }),
});

builder.queryFields((t) => ({
  viewer: t.field({
    type: ApiKeyRef,
    description: 'The key making the request',
    authScopes: { authenticated: true },
    resolve: (_, __, ctx) => ctx.principal!.key,
  }),
  apiKeys: t.field({
    type: [ApiKeyRef],
    nullable: true,
    description: "ADMIN: every key; TEAM_ADMIN: its team's keys; null with a FORBIDDEN error for other callers, so the rest of the query still answers",
    authScopes: { teamAdmin: true },
    resolve: (_, __, ctx) => ctx.services.keys.list(listedKeysTeamId(ctx.principal!)),
  }),
}));

const KEY_ID = "The key's global id (ApiKey.id); its bare UUID is still accepted until the next release, with a warning";

/**
 * The team a key created by this caller joins: the one named (ADMIN: it must exist), or for a TEAM_ADMIN its own.
 * A TEAM_ADMIN naming another team is refused by checkKeyGrant.
 */
async function createdKeyTeamId(ctx: Context, team: GlobalId | null | undefined): Promise<string | null> {
  const p = ctx.principal!;
  if (team == null) return p.isAdmin ? null : (p.team?.id ?? null);
  return existingTeamId(ctx, team);
}

async function existingTeamId(ctx: Context, team: GlobalId): Promise<string> {
  const id = keyOf(ctx, team, TeamRef, 'input.team');
  // a TEAM_ADMIN naming its own team needs no lookup; naming another is refused before anything is read
  if (!ctx.principal!.isAdmin) return id;
  const [row] = await ctx.services.teams.byIds([id]);
  if (!row) throw badInput('input.team', 'must be the global id of an existing team');
  return id;
}

/**
 * A key this caller may change (update, rotate, revoke); another team's or an unmanageable one is not found. `row` is
 * the key as it is, read for a TEAM_ADMIN (whose changes are checked against it), not for ADMIN.
 */
async function managedKey(ctx: Context, value: GlobalId): Promise<{ id: string; row?: ApiKeyRow }> {
  const id = keyOf(ctx, value, ApiKeyRef, 'id');
  const p = ctx.principal!;
  if (p.isAdmin) return { id };
  const row = await ctx.services.keys.byId(id);
  if (!managesKey(p, row)) throw notFound('ApiKey', id);
  return { id, row };
}

/**
 * A TEAM_ADMIN replacing or clearing a key's cache policy keeps the scope ADMIN gave it (the input replaces the whole
 * policy, scope included, and only ADMIN sets the scope).
 */
function keptCacheScope(input: CachePolicyInputValue | null | undefined, row: ApiKeyRow | undefined): CachePolicyInputValue | null | undefined {
  if (input === undefined || !row?.cacheScope) return input;
  return { ...(input ?? {}), scope: row.cacheScope as CachePolicyInputValue['scope'] };
}

builder.mutationFields((t) => ({
  createApiKey: t.field({
    type: CreatedApiKeyRef,
    description:
      "ADMIN, or TEAM_ADMIN for its own team (the key joins it; no ADMIN scope, limits within the team's, models within its list); the secret is in the answer, and only there",
    authScopes: { teamAdmin: true },
    args: { input: t.arg({ type: CreateApiKeyInput, required: true, description: 'The new key' }) },
    resolve: async (_, { input }, ctx) => {
      const teamId = await createdKeyTeamId(ctx, input.team);
      checkKeyGrant(ctx.principal!, { ...input, teamId });
      return ctx.services.keys.create({ ...input, teamId, guardrailPolicyIds: await policyIds(ctx, input.guardrailPolicies) });
    },
  }),
  updateApiKey: t.field({
    type: ApiKeyRef,
    description: "ADMIN, or TEAM_ADMIN for its team's keys (as createApiKey); takes effect on every gateway instance within 5 seconds",
    authScopes: { teamAdmin: true },
    args: { id: t.arg.globalID({ required: true, description: KEY_ID }), input: t.arg({ type: UpdateApiKeyInput, required: true, description: 'The changes' }) },
    resolve: async (_, { id, input }, ctx) => {
      const { id: keyId, row } = await managedKey(ctx, id);
      const teamId = input.team === undefined ? undefined : input.team === null ? null : await existingTeamId(ctx, input.team);
      const guardrailPolicyIds = await policyIds(ctx, input.guardrailPolicies);
      checkKeyGrant(ctx.principal!, { ...input, teamId, guardrailPolicyIds }, row);
      return ctx.services.keys.update(keyId, { ...input, teamId, guardrailPolicyIds, cache: keptCacheScope(input.cache, row) });
    },
  }),
  revokeApiKey: t.field({
    type: ApiKeyRef,
    description: "ADMIN, or TEAM_ADMIN for its team's keys; takes effect on every gateway instance within 5 seconds",
    authScopes: { teamAdmin: true },
    args: { id: t.arg.globalID({ required: true, description: `${KEY_ID}; revoking twice changes nothing` }) },
    resolve: async (_, { id }, ctx) => ctx.services.keys.revoke((await managedKey(ctx, id)).id),
  }),
  rotateApiKey: t.field({
    type: CreatedApiKeyRef,
    description: "ADMIN, or TEAM_ADMIN for its team's keys; the old secret stops working, a new one is returned",
    authScopes: { teamAdmin: true },
    args: { id: t.arg.globalID({ required: true, description: `${KEY_ID}; not a revoked one` }) },
    resolve: async (_, { id }, ctx) => ctx.services.keys.rotate((await managedKey(ctx, id)).id),
  }),
}));
