/* Providers, models and their targets; admin mutations call the catalogue service. */
import type { ModelRow, ModelTargetRow, ProviderRow } from '../db/schema.js';
import type { ProviderSettings } from '../providers/types.js';
import { builder, grantedScopes } from './builder.js';
import { policyIds } from './guardrail-policy-names.js';
import { CachePolicyInput, CachePolicyRef } from './cache-policy.js';
import { LogBodiesEnum, ModelStatusEnum, ProviderKindEnum, RoutingStrategyEnum, logBodiesOf } from './enums.js';
import { refused, uuidKey } from './global-id.js';
import { forbidden } from '../errors.js';
import { seesModel } from '../services/access.js';
import { effectivePricesOf, PriceSourceEnum } from './model-prices.js';

const AuthSchemeEnum = builder.enumType('ProviderAuthScheme', {
  description: 'How an AZURE_OPENAI credential is sent',
  values: {
    API_KEY: { description: 'As the `api-key` header (a key of the Azure OpenAI resource)' },
    BEARER: { description: 'As `Authorization: Bearer` (a Microsoft Entra ID access token)' },
  } as const,
});

const ProviderSettingsRef = builder.objectRef<ProviderSettings>('ProviderSettings').implement({
  description: 'What some provider kinds need besides a base URL and a credential',
  fields: (t) => ({
    apiVersion: t.exposeString('apiVersion', { nullable: true, description: 'AZURE_OPENAI: the api-version query parameter' }),
    authScheme: t.field({ type: AuthSchemeEnum, nullable: true, description: 'AZURE_OPENAI: how the credential is sent (default API_KEY)', resolve: (s) => s.authScheme ?? null }),
    region: t.exposeString('region', { nullable: true, description: 'BEDROCK: the AWS region; VERTEX: the location (us-central1, global)' }),
    project: t.exposeString('project', { nullable: true, description: "VERTEX: the Google Cloud project id (default: the service account's project_id)" }),
  }),
});

const ProviderSettingsInput = builder.inputType('ProviderSettingsInput', {
  description: 'Kind-specific provider settings; each value 1-100 letters, digits and . _ -',
  fields: (t) => ({
    apiVersion: t.string({ description: 'AZURE_OPENAI: the api-version query parameter' }),
    authScheme: t.field({ type: AuthSchemeEnum, description: 'AZURE_OPENAI: how the credential is sent (default API_KEY)' }),
    region: t.string({ description: 'BEDROCK: the AWS region; VERTEX: the location' }),
    project: t.string({ description: "VERTEX: the Google Cloud project id (default: the service account's project_id)" }),
  }),
});

const ProviderRef = builder.nodeRef<ProviderRow, string | null>('Provider', {
  id: { resolve: (p) => p.id, parse: uuidKey },
  // as the `providers` list: ADMIN only, FORBIDDEN for any other key
  loadMany: (ids, ctx) =>
    grantedScopes(ctx.principal).admin
      ? ctx.services.catalogue.providersByIds(ids as string[])
      : ids.map(() => refused<ProviderRow>(forbidden('This key may not access Provider'))),
});
ProviderRef.implement({
  description: 'An upstream API the gateway calls, with its credential (ADMIN only)',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'Unique name; model targets and usage records refer to the provider by it' }),
    kind: t.field({ type: ProviderKindEnum, description: 'The API it speaks', resolve: (p) => p.kind as typeof ProviderKindEnum.$inferType }),
    baseUrl: t.exposeString('baseUrl', { nullable: true, description: "The API's base URL; null means the kind's public endpoint" }),
    settings: t.field({
      type: ProviderSettingsRef,
      nullable: true,
      description: 'Kind-specific settings (Azure api-version, Bedrock region, Vertex project and location); null when none are set',
      resolve: (p) => p.settings ?? null,
    }),
    hasCredential: t.boolean({
      description: 'Whether a credential is stored. The credential itself is never readable.',
      resolve: (p) => p.credentialEnc != null,
    }),
    enabled: t.exposeBoolean('enabled', { description: 'False while it is switched off: routing skips its targets' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was created' }),
  }),
});

const ModelTargetRef = builder.objectRef<ModelTargetRow>('ModelTarget').implement({
  description: 'One provider model a public model routes to',
  fields: (t) => ({
    provider: t.field({ type: ProviderRef, description: 'The provider called', resolve: (row, _, ctx) => ctx.loaders.provider.load(row.providerId) }),
    upstreamModel: t.exposeString('upstreamModel', { description: "The provider's own model id sent upstream" }),
    weight: t.exposeInt('weight', { description: 'Share of calls under the WEIGHTED strategy (0: tried only after every weighted target)' }),
    priority: t.exposeInt('priority', { description: 'Order under the PRIORITY strategy: lower first' }),
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
  description: 'A public model name clients invoke, routed to one or more provider models (targets)',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'Public name clients invoke' }),
    description: t.exposeString('description', { nullable: true, description: 'Free text for people choosing a model' }),
    status: t.field({ type: ModelStatusEnum, description: 'Whether it is served', resolve: (m) => m.status as typeof ModelStatusEnum.$inferType }),
    strategy: t.field({ type: RoutingStrategyEnum, description: 'How its targets are ordered for each call', resolve: (m) => m.strategy as typeof RoutingStrategyEnum.$inferType }),
    targets: t.field({
      type: [ModelTargetRef],
      description: 'Visible to ADMIN keys only (empty list otherwise)',
      authScopes: { admin: true },
      unauthorizedResolver: () => [],
      resolve: (m, _, ctx) => ctx.loaders.targetsByModel.load(m.id),
    }),
    fallbacks: t.exposeStringList('fallbacks', { description: 'Other public model names tried, in order, when every target failed' }),
    inputPricePerMTok: t.float({
      nullable: true,
      description: "USD per million uncached prompt tokens: the operator's price, else the catalogue's (priceSource says which); null counts as 0",
      resolve: async (m, _, ctx) => (await effectivePricesOf(m, ctx)).inputPricePerMTok,
    }),
    outputPricePerMTok: t.float({
      nullable: true,
      description: "USD per million completion tokens: the operator's price, else the catalogue's; null counts as 0",
      resolve: async (m, _, ctx) => (await effectivePricesOf(m, ctx)).outputPricePerMTok,
    }),
    cachedInputPricePerMTok: t.float({
      nullable: true,
      description: "USD per million prompt tokens read from the provider's prompt cache; null: inputPricePerMTok",
      resolve: async (m, _, ctx) => (await effectivePricesOf(m, ctx)).cachedInputPricePerMTok ?? null,
    }),
    cacheWritePricePerMTok: t.float({
      nullable: true,
      description: "USD per million prompt tokens written to the provider's prompt cache; null: inputPricePerMTok",
      resolve: async (m, _, ctx) => (await effectivePricesOf(m, ctx)).cacheWritePricePerMTok ?? null,
    }),
    reasoningPricePerMTok: t.float({
      nullable: true,
      description: 'USD per million reasoning tokens (part of the completion); null: outputPricePerMTok',
      resolve: async (m, _, ctx) => (await effectivePricesOf(m, ctx)).reasoningPricePerMTok ?? null,
    }),
    priceSource: t.field({
      type: PriceSourceEnum,
      description:
        "Where the prices above come from. An answer is billed at the prices of the target that gave it: with CATALOGUE, another target's provider model may be priced differently",
      resolve: async (m, _, ctx) => (await effectivePricesOf(m, ctx)).source,
    }),
    priceCatalogueVersion: t.string({
      nullable: true,
      description: 'The price catalogue version (@pydantic/genai-prices) the prices come from; null unless priceSource is CATALOGUE',
      resolve: async (m, _, ctx) => (await effectivePricesOf(m, ctx)).catalogueVersion,
    }),
    contextWindow: t.int({
      nullable: true,
      description: "Most tokens (prompt and answer together) the model takes, for information: the operator's, else the catalogue's; null when unknown",
      resolve: async (m, _, ctx) => m.contextWindow ?? (await effectivePricesOf(m, ctx)).contextWindow,
    }),
    timeoutMs: t.exposeInt('timeoutMs', { nullable: true, description: "Per-attempt upstream timeout in milliseconds; null means the gateway's DEFAULT_TIMEOUT_MS" }),
    cache: t.field({
      type: CachePolicyRef,
      description: "Its calls' response cache policy, for calls whose key sets none (scope is the key's)",
      resolve: (m) => ({ cacheMode: m.cacheMode, cacheTtlSeconds: m.cacheTtlSeconds }),
    }),
    logBodies: t.field({
      type: LogBodiesEnum,
      nullable: true,
      description: "How much of its calls the call log keeps (the lowest of the key's, its team's and the model's applies); null: not set",
      resolve: (m) => logBodiesOf(m.logBodies),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was created' }),
  }),
});

const ModelTargetInput = builder.inputType('ModelTargetInput', {
  description: 'One target of a model: a provider and its model id',
  fields: (t) => ({
    provider: t.string({ required: true, description: 'The name of an existing provider' }),
    upstreamModel: t.string({ required: true, description: "The provider's own model id (not empty)" }),
    weight: t.int({ description: 'Share of calls under the WEIGHTED strategy, a non-negative integer (default 1)' }),
    priority: t.int({ description: 'Order under the PRIORITY strategy, lower first (default 0; ties keep the order given)' }),
  }),
});

const CreateProviderInput = builder.inputType('CreateProviderInput', {
  description: 'A new provider',
  fields: (t) => ({
    name: t.string({ required: true, description: 'Unique name: 1-128 letters, digits and . _ : / @ - (not starting with a symbol)' }),
    kind: t.field({ type: ProviderKindEnum, required: true, description: 'The API it speaks' }),
    baseUrl: t.string({ description: "Absolute http(s) base URL; required for OPENAI_COMPATIBLE, otherwise defaults to the kind's public endpoint" }),
    apiKey: t.string({ description: 'Stored encrypted; never returned' }),
    settings: t.field({ type: ProviderSettingsInput, description: 'Kind-specific settings (see ProviderKind)' }),
    enabled: t.boolean({ description: 'Whether routing may use it (default true)' }),
  }),
});

const UpdateProviderInput = builder.inputType('UpdateProviderInput', {
  description: 'Changes to a provider; an omitted field stays as it is',
  fields: (t) => ({
    baseUrl: t.string({ description: "Absolute http(s) base URL; null returns to the kind's public endpoint" }),
    apiKey: t.string({ description: 'A new credential, stored encrypted; an empty string removes the stored one' }),
    settings: t.field({ type: ProviderSettingsInput, description: 'Replaces the settings; null clears them' }),
    enabled: t.boolean({ description: 'Switch routing to it on or off' }),
  }),
});


const CreateModelInput = builder.inputType('CreateModelInput', {
  description: 'A new public model',
  fields: (t) => ({
    name: t.string({ required: true, description: 'Unique public name clients invoke: 1-128 letters, digits and . _ : / @ - (not starting with a symbol)' }),
    description: t.string({ description: 'Free text for people choosing a model' }),
    strategy: t.field({ type: RoutingStrategyEnum, description: 'How its targets are ordered for each call (default PRIORITY)' }),
    targets: t.field({ type: [ModelTargetInput], required: true, description: 'The provider models it routes to (at least one)' }),
    fallbacks: t.stringList({ description: 'Other public model names tried, in order, when every target failed (not the model itself)' }),
    inputPricePerMTok: t.float({ description: "USD per million prompt tokens, non-negative. With neither this nor outputPricePerMTok, the price catalogue's prices apply (a cost of 0 for a model it does not list)" }),
    outputPricePerMTok: t.float({ description: 'USD per million completion tokens, non-negative (see inputPricePerMTok)' }),
    cachedInputPricePerMTok: t.float({ description: "USD per million prompt tokens read from the provider's prompt cache, non-negative (default: the input price, or the catalogue's)" }),
    cacheWritePricePerMTok: t.float({ description: "USD per million prompt tokens written to the provider's prompt cache, non-negative (default: the input price, or the catalogue's)" }),
    reasoningPricePerMTok: t.float({ description: 'USD per million reasoning tokens, non-negative (default: the output price)' }),
    contextWindow: t.int({ description: 'Most tokens the model takes, for information (a non-negative integer)' }),
    timeoutMs: t.int({ description: "Per-attempt upstream timeout in milliseconds, 1 to 3600000 (default: the gateway's DEFAULT_TIMEOUT_MS)" }),
    status: t.field({ type: ModelStatusEnum, description: 'Lifecycle status (default ACTIVE)' }),
    requiresApproval: t.boolean({ description: 'Whether keys other than ADMIN ones need their team granted it (requestModelAccess) before invoking it (default false)' }),
    guardrailPolicies: t.stringList({ description: 'Names of the guardrail policies every call to it runs, after those of the calling key (default: none)' }),
    cache: t.field({ type: CachePolicyInput, description: "Its calls' response cache policy, for calls whose key sets none (no scope: the key's applies)" }),
    logBodies: t.field({ type: LogBodiesEnum, description: 'How much of its calls the call log keeps (see LogBodies; default: not set)' }),
  }),
});

const UpdateModelInput = builder.inputType('UpdateModelInput', {
  description: 'Changes to a model; an omitted field stays as it is',
  fields: (t) => ({
    description: t.string({ description: 'Free text for people choosing a model; null clears it' }),
    strategy: t.field({ type: RoutingStrategyEnum, description: 'How its targets are ordered for each call' }),
    targets: t.field({ type: [ModelTargetInput], description: 'Replaces every target (at least one)' }),
    fallbacks: t.stringList({ description: 'Replaces the fallback list: other public model names tried, in order, when every target failed' }),
    inputPricePerMTok: t.float({ description: "USD per million prompt tokens, non-negative; null removes the price (with no output price either, the catalogue's apply)" }),
    outputPricePerMTok: t.float({ description: 'USD per million completion tokens, non-negative; null removes the price' }),
    cachedInputPricePerMTok: t.float({ description: "USD per million prompt tokens read from the provider's prompt cache, non-negative; null: the input price" }),
    cacheWritePricePerMTok: t.float({ description: "USD per million prompt tokens written to the provider's prompt cache, non-negative; null: the input price" }),
    reasoningPricePerMTok: t.float({ description: 'USD per million reasoning tokens, non-negative; null: the output price' }),
    contextWindow: t.int({ description: 'Most tokens the model takes, for information; null clears it' }),
    timeoutMs: t.int({ description: "Per-attempt upstream timeout in milliseconds, 1 to 3600000; null returns to the gateway's DEFAULT_TIMEOUT_MS" }),
    status: t.field({ type: ModelStatusEnum, description: 'Lifecycle status: DEPRECATED warns callers, RETIRED stops serving it' }),
    requiresApproval: t.boolean({ description: 'Whether keys other than ADMIN ones need their team granted it before invoking it; teams already granted keep it' }),
    guardrailPolicies: t.stringList({ description: 'Replaces the names of its guardrail policies ([] removes them all)' }),
    cache: t.field({ type: CachePolicyInput, description: "Replaces its calls' response cache policy; null clears it" }),
    logBodies: t.field({ type: LogBodiesEnum, description: 'How much of its calls the call log keeps (see LogBodies); null: not set' }),
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
    description: 'One model by its public name; null when it does not exist or the caller may not see it (see models)',
    authScopes: { authenticated: true },
    args: { name: t.arg.string({ required: true, description: 'The public model name' }) },
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
    description: 'ADMIN; registers a provider under a new name',
    authScopes: { admin: true },
    args: { input: t.arg({ type: CreateProviderInput, required: true, description: 'The new provider' }) },
    resolve: (_, { input }, ctx) => ctx.services.catalogue.createProvider(input),
  }),
  updateProvider: t.field({
    type: ProviderRef,
    description: 'ADMIN; changes its base URL, credential or whether it is enabled',
    authScopes: { admin: true },
    args: { name: t.arg.string({ required: true, description: 'The name of the provider to change' }), input: t.arg({ type: UpdateProviderInput, required: true, description: 'The changes' }) },
    resolve: (_, { name, input }, ctx) => ctx.services.catalogue.updateProvider(name, input),
  }),
  deleteProvider: t.boolean({
    description: 'ADMIN; fails while a model still routes to it',
    authScopes: { admin: true },
    args: { name: t.arg.string({ required: true, description: 'The name of the provider to delete' }) },
    resolve: (_, { name }, ctx) => ctx.services.catalogue.deleteProvider(name),
  }),
  createModel: t.field({
    type: ModelRef,
    description: 'ADMIN; a new public model, under a new name, with its targets',
    authScopes: { admin: true },
    args: { input: t.arg({ type: CreateModelInput, required: true, description: 'The new model and its targets' }) },
    resolve: async (_, { input }, ctx) =>
      ctx.services.catalogue.createModel({ ...input, guardrailPolicyIds: await policyIds(ctx, input.guardrailPolicies) }),
  }),
  updateModel: t.field({
    type: ModelRef,
    description: 'ADMIN; changes its targets, routing, prices or status',
    authScopes: { admin: true },
    args: { name: t.arg.string({ required: true, description: 'The public name of the model to change' }), input: t.arg({ type: UpdateModelInput, required: true, description: 'The changes' }) },
    resolve: async (_, { name, input }, ctx) =>
      ctx.services.catalogue.updateModel(name, { ...input, guardrailPolicyIds: await policyIds(ctx, input.guardrailPolicies) }),
  }),
  deleteModel: t.boolean({
    description: 'ADMIN; removes the model and its targets (its usage records stay)',
    authScopes: { admin: true },
    args: { name: t.arg.string({ required: true, description: 'The public name of the model to delete' }) },
    resolve: (_, { name }, ctx) => ctx.services.catalogue.deleteModel(name),
  }),
}));
