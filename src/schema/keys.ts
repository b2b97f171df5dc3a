/* API keys: viewer, admin listing and lifecycle. Secrets are returned once, at creation or rotation. */
import type { ApiKeyRow } from '../db/schema.js';
import type { UsageTotals } from '../services/usage-queries.js';
import { builder } from './builder.js';
import { ScopeEnum } from './enums.js';
import { keyOf, refused, uuidKey } from './global-id.js';
import { forbidden } from '../errors.js';
import { readsKey } from '../services/access.js';

const KeyLimitsRef = builder.objectRef<ApiKeyRow>('KeyLimits').implement({
  fields: (t) => ({
    requestsPerMinute: t.exposeInt('requestsPerMinute', { nullable: true }),
    tokensPerMinute: t.exposeInt('tokensPerMinute', { nullable: true }),
    tokensPerDay: t.exposeInt('tokensPerDay', { nullable: true }),
    monthlyBudgetUsd: t.exposeFloat('monthlyBudgetUsd', { nullable: true, description: 'USD a calendar month (UTC)' }),
  }),
});

const UsageTotalsRef = builder.objectRef<UsageTotals>('UsageTotals').implement({
  fields: (t) => ({
    requests: t.exposeInt('requests'),
    promptTokens: t.exposeInt('promptTokens'),
    completionTokens: t.exposeInt('completionTokens'),
    costUsd: t.exposeFloat('costUsd'),
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
  fields: (t) => ({
    name: t.exposeString('name'),
    prefix: t.exposeString('prefix', { description: 'First characters of the secret, for recognising a key; never the whole secret' }),
    scopes: t.field({ type: [ScopeEnum], resolve: (k) => k.scopes as Array<typeof ScopeEnum.$inferType> }),
    allowedModels: t.exposeStringList('allowedModels', { nullable: true, description: 'Public model names this key may invoke; null means all' }),
    limits: t.field({ type: KeyLimitsRef, resolve: (k) => k }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', nullable: true }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true }),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    monthToDate: t.field({
      type: UsageTotalsRef,
      description: "Totals of this key's usage this calendar month (UTC)",
      resolve: (k, _, ctx) => ctx.loaders.monthToDate.load(k.id),
    }),
  }),
});

const CreatedApiKeyRef = builder.objectRef<{ row: ApiKeyRow; secret: string }>('CreatedApiKey').implement({
  description: 'Returned once, when a key is created or rotated: the secret cannot be read again.',
  fields: (t) => ({
    apiKey: t.field({ type: ApiKeyRef, resolve: (c) => c.row }),
    secret: t.exposeString('secret'),
  }),
});

const KeyLimitsInput = builder.inputType('KeyLimitsInput', {
  fields: (t) => ({
    requestsPerMinute: t.int(),
    tokensPerMinute: t.int(),
    tokensPerDay: t.int(),
    monthlyBudgetUsd: t.float(),
  }),
});

const CreateApiKeyInput = builder.inputType('CreateApiKeyInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    scopes: t.field({ type: [ScopeEnum] }),
    allowedModels: t.stringList(),
    limits: t.field({ type: KeyLimitsInput }),
    expiresAt: t.field({ type: 'DateTime' }),
  }),
});

const UpdateApiKeyInput = builder.inputType('UpdateApiKeyInput', {
  fields: (t) => ({
    name: t.string(),
    scopes: t.field({ type: [ScopeEnum] }),
    allowedModels: t.stringList(),
    limits: t.field({ type: KeyLimitsInput }),
    expiresAt: t.field({ type: 'DateTime' }),
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
    description: 'ADMIN',
    authScopes: { admin: true },
    args: { input: t.arg({ type: CreateApiKeyInput, required: true }) },
    resolve: (_, { input }, ctx) => ctx.services.keys.create(input),
  }),
  updateApiKey: t.field({
    type: ApiKeyRef,
    description: 'ADMIN',
    authScopes: { admin: true },
    args: { id: t.arg.globalID({ required: true, description: KEY_ID }), input: t.arg({ type: UpdateApiKeyInput, required: true }) },
    resolve: (_, { id, input }, ctx) => ctx.services.keys.update(keyOf(ctx, id, ApiKeyRef, 'id'), input),
  }),
  revokeApiKey: t.field({
    type: ApiKeyRef,
    description: 'ADMIN; takes effect on every gateway instance within 5 seconds',
    authScopes: { admin: true },
    args: { id: t.arg.globalID({ required: true, description: KEY_ID }) },
    resolve: (_, { id }, ctx) => ctx.services.keys.revoke(keyOf(ctx, id, ApiKeyRef, 'id')),
  }),
  rotateApiKey: t.field({
    type: CreatedApiKeyRef,
    description: 'ADMIN; the old secret stops working, a new one is returned',
    authScopes: { admin: true },
    args: { id: t.arg.globalID({ required: true, description: KEY_ID }) },
    resolve: (_, { id }, ctx) => ctx.services.keys.rotate(keyOf(ctx, id, ApiKeyRef, 'id')),
  }),
}));
