/* API keys: viewer, admin listing and lifecycle. Secrets are returned once, at creation or rotation. */
import type { ApiKeyRow } from '../db/schema.js';
import type { KeyLimitUsage } from '../services/limit-usage.js';
import type { UsageTotals } from '../services/usage-queries.js';
import { builder } from './builder.js';
import { CachePolicyInput, CachePolicyRef } from './cache-policy.js';
import { ScopeEnum } from './enums.js';
import { keyOf, refused, uuidKey } from './global-id.js';
import { forbidden } from '../errors.js';
import { readsKey } from '../services/access.js';
import { policyIds } from './guardrail-policy-names.js';

const KeyLimitsRef = builder.objectRef<ApiKeyRow>('KeyLimits').implement({
  description: 'What a key may use; null means no limit. Rates answer RATE_LIMITED, quotas and the budget QUOTA_EXCEEDED',
  fields: (t) => ({
    requestsPerMinute: t.exposeInt('requestsPerMinute', { nullable: true, description: 'Invocations a minute (a 60-second window that opens with the first call)' }),
    tokensPerMinute: t.exposeInt('tokensPerMinute', { nullable: true, description: 'Prompt and completion tokens a minute (same window as requestsPerMinute)' }),
    tokensPerDay: t.exposeInt('tokensPerDay', { nullable: true, description: 'Prompt and completion tokens a UTC day' }),
    monthlyBudgetUsd: t.exposeFloat('monthlyBudgetUsd', { nullable: true, description: 'USD a calendar month (UTC)' }),
  }),
});

const UsageTotalsRef = builder.objectRef<UsageTotals>('UsageTotals').implement({
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
  // as `apiKeys` (ADMIN) and `viewer` (the key itself); another key's is FORBIDDEN, whether it exists or not
  loadMany: (ids, ctx) =>
    (ids as string[]).map((id) =>
      readsKey(ctx.principal!, id) ? ctx.loaders.apiKey.load(id) : refused<ApiKeyRow>(forbidden('This key may not access other keys')),
    ),
});
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

const KeyLimitsInput = builder.inputType('KeyLimitsInput', {
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
    description: 'ADMIN; null with a FORBIDDEN error for other callers, so the rest of the query still answers',
    authScopes: { admin: true },
    resolve: (_, __, ctx) => ctx.services.keys.list(),
  }),
}));

const KEY_ID = "The key's global id (ApiKey.id); its bare UUID is still accepted until the next release, with a warning";

builder.mutationFields((t) => ({
  createApiKey: t.field({
    type: CreatedApiKeyRef,
    description: 'ADMIN; the secret is in the answer, and only there',
    authScopes: { admin: true },
    args: { input: t.arg({ type: CreateApiKeyInput, required: true, description: 'The new key' }) },
    resolve: async (_, { input }, ctx) => ctx.services.keys.create({ ...input, guardrailPolicyIds: await policyIds(ctx, input.guardrailPolicies) }),
  }),
  updateApiKey: t.field({
    type: ApiKeyRef,
    description: 'ADMIN; takes effect on every gateway instance within 5 seconds',
    authScopes: { admin: true },
    args: { id: t.arg.globalID({ required: true, description: KEY_ID }), input: t.arg({ type: UpdateApiKeyInput, required: true, description: 'The changes' }) },
    resolve: async (_, { id, input }, ctx) =>
      ctx.services.keys.update(keyOf(ctx, id, ApiKeyRef, 'id'), { ...input, guardrailPolicyIds: await policyIds(ctx, input.guardrailPolicies) }),
  }),
  revokeApiKey: t.field({
    type: ApiKeyRef,
    description: 'ADMIN; takes effect on every gateway instance within 5 seconds',
    authScopes: { admin: true },
    args: { id: t.arg.globalID({ required: true, description: `${KEY_ID}; revoking twice changes nothing` }) },
    resolve: (_, { id }, ctx) => ctx.services.keys.revoke(keyOf(ctx, id, ApiKeyRef, 'id')),
  }),
  rotateApiKey: t.field({
    type: CreatedApiKeyRef,
    description: 'ADMIN; the old secret stops working, a new one is returned',
    authScopes: { admin: true },
    args: { id: t.arg.globalID({ required: true, description: `${KEY_ID}; not a revoked one` }) },
    resolve: (_, { id }, ctx) => ctx.services.keys.rotate(keyOf(ctx, id, ApiKeyRef, 'id')),
  }),
}));
