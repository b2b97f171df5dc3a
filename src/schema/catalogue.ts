/* Providers, models and their targets; admin mutations call the catalogue service. */
import type { ModelRow, ModelTargetRow, ProviderRow } from '../db/schema.js';
import { builder, grantedScopes } from './builder.js';
import { ModelStatusEnum, ProviderKindEnum, RoutingStrategyEnum } from './enums.js';
import { refused, uuidKey } from './global-id.js';
import { forbidden } from '../errors.js';
import { seesModel } from '../services/access.js';

export const ProviderRef = builder.nodeRef<ProviderRow, string | null>('Provider', {
  id: { resolve: (p) => p.id, parse: uuidKey },
  // as the `providers` list: ADMIN only, FORBIDDEN for any other key
  loadMany: (ids, ctx) =>
    grantedScopes(ctx.principal).admin
      ? ctx.services.catalogue.providersByIds(ids as string[])
      : ids.map(() => refused<ProviderRow>(forbidden('This key may not access Provider'))),
});
ProviderRef.implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    kind: t.field({ type: ProviderKindEnum, resolve: (p) => p.kind as typeof ProviderKindEnum.$inferType }),
    baseUrl: t.exposeString('baseUrl', { nullable: true }),
    hasCredential: t.boolean({
      description: 'Whether a credential is stored. The credential itself is never readable.',
      resolve: (p) => p.credentialEnc != null,
    }),
    enabled: t.exposeBoolean('enabled'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

export const ModelTargetRef = builder.objectRef<ModelTargetRow>('ModelTarget').implement({
  fields: (t) => ({
    provider: t.field({ type: ProviderRef, resolve: (row, _, ctx) => ctx.loaders.provider.load(row.providerId) }),
    upstreamModel: t.exposeString('upstreamModel'),
    weight: t.exposeInt('weight'),
    priority: t.exposeInt('priority'),
    healthy: t.boolean({
      description: 'False while the target is cooling down after failures',
      resolve: (row, _, ctx) => ctx.services.router.isHealthy(row.id),
    }),
  }),
});

export const ModelRef = builder.nodeRef<ModelRow, string | null>('Model', {
  id: { resolve: (m) => m.id, parse: uuidKey },
  // as the `models` list: a model this key does not see is null, as one that does not exist
  loadMany: async (ids, ctx) =>
    (await ctx.services.catalogue.modelsByIds(ids as string[])).map((m) => (m && seesModel(ctx.principal!, m) ? m : null)),
});
ModelRef.implement({
  fields: (t) => ({
    name: t.exposeString('name', { description: 'Public name clients invoke' }),
    description: t.exposeString('description', { nullable: true }),
    status: t.field({ type: ModelStatusEnum, resolve: (m) => m.status as typeof ModelStatusEnum.$inferType }),
    strategy: t.field({ type: RoutingStrategyEnum, resolve: (m) => m.strategy as typeof RoutingStrategyEnum.$inferType }),
    targets: t.field({
      type: [ModelTargetRef],
      description: 'Visible to ADMIN keys only (empty list otherwise)',
      authScopes: { admin: true },
      unauthorizedResolver: () => [],
      resolve: (m, _, ctx) => ctx.loaders.targetsByModel.load(m.id),
    }),
    fallbacks: t.exposeStringList('fallbacks', { description: 'Other public model names tried, in order, when every target failed' }),
    inputPricePerMTok: t.exposeFloat('inputPricePerMTok', { nullable: true, description: 'USD per million prompt tokens' }),
    outputPricePerMTok: t.exposeFloat('outputPricePerMTok', { nullable: true, description: 'USD per million completion tokens' }),
    contextWindow: t.exposeInt('contextWindow', { nullable: true }),
    timeoutMs: t.exposeInt('timeoutMs', { nullable: true, description: 'Per-attempt upstream timeout in milliseconds' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const ModelTargetInput = builder.inputType('ModelTargetInput', {
  fields: (t) => ({
    provider: t.string({ required: true, description: 'Provider name' }),
    upstreamModel: t.string({ required: true }),
    weight: t.int(),
    priority: t.int(),
  }),
});

const CreateProviderInput = builder.inputType('CreateProviderInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    kind: t.field({ type: ProviderKindEnum, required: true }),
    baseUrl: t.string(),
    apiKey: t.string({ description: 'Stored encrypted; never returned' }),
    enabled: t.boolean(),
  }),
});

const UpdateProviderInput = builder.inputType('UpdateProviderInput', {
  fields: (t) => ({
    baseUrl: t.string(),
    apiKey: t.string(),
    enabled: t.boolean(),
  }),
});


const CreateModelInput = builder.inputType('CreateModelInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    description: t.string(),
    strategy: t.field({ type: RoutingStrategyEnum }),
    targets: t.field({ type: [ModelTargetInput], required: true }),
    fallbacks: t.stringList(),
    inputPricePerMTok: t.float(),
    outputPricePerMTok: t.float(),
    contextWindow: t.int(),
    timeoutMs: t.int(),
    status: t.field({ type: ModelStatusEnum }),
  }),
});

const UpdateModelInput = builder.inputType('UpdateModelInput', {
  fields: (t) => ({
    description: t.string(),
    strategy: t.field({ type: RoutingStrategyEnum }),
    targets: t.field({ type: [ModelTargetInput] }),
    fallbacks: t.stringList(),
    inputPricePerMTok: t.float(),
    outputPricePerMTok: t.float(),
    contextWindow: t.int(),
    timeoutMs: t.int(),
    status: t.field({ type: ModelStatusEnum }),
  }),
});

builder.queryFields((t) => ({
  models: t.field({
    type: [ModelRef],
    description: 'Models the caller may invoke (all of them for ADMIN)',
    authScopes: { authenticated: true },
    resolve: async (_, __, ctx) => (await ctx.services.catalogue.listModels()).filter((m) => seesModel(ctx.principal!, m)),
  }),
  model: t.field({
    type: ModelRef,
    nullable: true,
    authScopes: { authenticated: true },
    args: { name: t.arg.string({ required: true }) },
    resolve: async (_, { name }, ctx) => {
      const m = await ctx.services.catalogue.findModel(name);
      return m && seesModel(ctx.principal!, m) ? m : null;
    },
  }),
  providers: t.field({
    type: [ProviderRef],
    nullable: true,
    description: 'ADMIN; null with a FORBIDDEN error for other callers, so the rest of the query still answers',
    authScopes: { admin: true },
    resolve: (_, __, ctx) => ctx.services.catalogue.listProviders(),
  }),
}));

builder.mutationFields((t) => ({
  createProvider: t.field({
    type: ProviderRef,
    description: 'ADMIN',
    authScopes: { admin: true },
    args: { input: t.arg({ type: CreateProviderInput, required: true }) },
    resolve: (_, { input }, ctx) => ctx.services.catalogue.createProvider(input),
  }),
  updateProvider: t.field({
    type: ProviderRef,
    description: 'ADMIN',
    authScopes: { admin: true },
    args: { name: t.arg.string({ required: true }), input: t.arg({ type: UpdateProviderInput, required: true }) },
    resolve: (_, { name, input }, ctx) => ctx.services.catalogue.updateProvider(name, input),
  }),
  deleteProvider: t.boolean({
    description: 'ADMIN; fails while a model still routes to it',
    authScopes: { admin: true },
    args: { name: t.arg.string({ required: true }) },
    resolve: (_, { name }, ctx) => ctx.services.catalogue.deleteProvider(name),
  }),
  createModel: t.field({
    type: ModelRef,
    description: 'ADMIN',
    authScopes: { admin: true },
    args: { input: t.arg({ type: CreateModelInput, required: true }) },
    resolve: (_, { input }, ctx) => ctx.services.catalogue.createModel(input),
  }),
  updateModel: t.field({
    type: ModelRef,
    description: 'ADMIN',
    authScopes: { admin: true },
    args: { name: t.arg.string({ required: true }), input: t.arg({ type: UpdateModelInput, required: true }) },
    resolve: (_, { name, input }, ctx) => ctx.services.catalogue.updateModel(name, input),
  }),
  deleteModel: t.boolean({
    description: 'ADMIN',
    authScopes: { admin: true },
    args: { name: t.arg.string({ required: true }) },
    resolve: (_, { name }, ctx) => ctx.services.catalogue.deleteModel(name),
  }),
}));
