/* Providers and models: CRUD for admins, and the cached model resolution every invocation makes. */
import { cachePolicyColumns, type CachePolicyInput } from '../cache/cache-policy.js';
import { asc, eq, inArray } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { isDatabaseUnavailable } from '../db/is-unavailable.js';
import { modelTargets, models, providers, type ModelRow, type ModelTargetRow, type ProviderRow } from '../db/schema.js';
import { badInput, notFound, serviceUnavailable } from '../errors.js';
import type { SecretBox } from '../security/secret-box.js';
import { PROVIDER_KINDS, type ProviderKind } from '../providers/registry.js';
import type { ProviderSettings } from '../providers/types.js';
import type { LogBodies } from '../call-log/types.js';
import { upstreamModelProblem } from '../providers/upstream-model-name.js';
import { createRefreshingCache } from '../util/refreshing-cache.js';
import { firstPriced, targetPrices, type EffectivePrices } from '../pricing/effective-prices.js';

type ModelStatus = 'ACTIVE' | 'DEPRECATED' | 'RETIRED';
export type RoutingStrategy = 'PRIORITY' | 'WEIGHTED' | 'ROUND_ROBIN' | 'LEAST_BUSY' | 'LOWEST_LATENCY';
const MODEL_STATUSES: ModelStatus[] = ['ACTIVE', 'DEPRECATED', 'RETIRED'];
const STRATEGIES: RoutingStrategy[] = ['PRIORITY', 'WEIGHTED', 'ROUND_ROBIN', 'LEAST_BUSY', 'LOWEST_LATENCY'];

/** A provider as the gateway calls it: credential decrypted, in memory only. */
export interface RuntimeProvider {
  id: string;
  name: string;
  kind: ProviderKind;
  baseUrl?: string;
  apiKey?: string;
  settings?: ProviderSettings;
  enabled: boolean;
}

export interface ResolvedTarget {
  id: string;
  provider: RuntimeProvider;
  upstreamModel: string;
  weight: number;
  priority: number;
  /** What an answer from this target costs: looked up once when the model is resolved, not per call. */
  prices: EffectivePrices;
}

export interface ResolvedModel {
  row: ModelRow;
  targets: ResolvedTarget[];
  /** The model's shown prices (modelPrices): reservations are estimated and cache hits valued with them. */
  prices: EffectivePrices;
}

export interface CreateProviderInput {
  name: string;
  kind: ProviderKind;
  baseUrl?: string | null;
  apiKey?: string | null;
  settings?: ProviderSettingsInput | null;
  enabled?: boolean | null;
}

export interface UpdateProviderInput {
  baseUrl?: string | null;
  apiKey?: string | null;
  /** Replaces the settings; null clears them. */
  settings?: ProviderSettingsInput | null;
  enabled?: boolean | null;
}

type ProviderSettingsInput = { [K in keyof ProviderSettings]?: ProviderSettings[K] | null };

const SETTING_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** The settings as stored: unset fields dropped, each value a short identifier (no secrets belong here). */
function checkSettings(input: ProviderSettingsInput | null | undefined, field: string): ProviderSettings | null {
  if (input == null) return null;
  const out: ProviderSettings = {};
  for (const k of ['apiVersion', 'region', 'project'] as const) {
    const v = input[k];
    if (v == null) continue;
    if (!SETTING_RE.test(v)) throw badInput(`${field}.${k}`, 'must be 1-100 letters, digits and . _ - (not starting with a symbol)');
    out[k] = v;
  }
  if (input.authScheme != null) {
    if (input.authScheme !== 'API_KEY' && input.authScheme !== 'BEARER') throw badInput(`${field}.authScheme`, 'must be API_KEY or BEARER');
    out.authScheme = input.authScheme;
  }
  return Object.keys(out).length ? out : null;
}

/** `accessKeyId:secretAccessKey[:sessionToken]`: ids are alphanumeric, the secret and token base64 (no ':'). */
const AWS_CREDENTIAL_RE = /^[A-Za-z0-9]+:[^:\s]+(?::[^:\s]+)?$/;

/**
 * A BEDROCK provider signs for a region (settings.region, or the one in a bedrock-runtime base URL) with a
 * credential in the adapter's form; both are checked here so a mistake fails at configuration, not per request.
 * The credential is never echoed.
 */
function checkBedrock(baseUrl: string | null | undefined, settings: ProviderSettings | null | undefined, apiKey: string | null | undefined): void {
  const regionInUrl = baseUrl ? /^https?:\/\/bedrock-runtime(?:-fips)?\.[a-z0-9-]+\.amazonaws\.com(?::\d+)?(?:\/|$)/.test(baseUrl) : false;
  if (!settings?.region && !regionInUrl) throw badInput('input.settings.region', 'is required for BEDROCK providers (the AWS region, e.g. us-east-1)');
  if (apiKey && !AWS_CREDENTIAL_RE.test(apiKey)) {
    throw badInput('input.apiKey', 'must be accessKeyId:secretAccessKey or accessKeyId:secretAccessKey:sessionToken for BEDROCK providers');
  }
}

export interface ModelTargetInput {
  provider: string;
  upstreamModel: string;
  weight?: number | null;
  priority?: number | null;
}

export interface ModelInput {
  name?: string;
  description?: string | null;
  strategy?: RoutingStrategy | null;
  targets?: ModelTargetInput[] | null;
  fallbacks?: string[] | null;
  inputPricePerMTok?: number | null;
  outputPricePerMTok?: number | null;
  /** USD per million input tokens read from the provider's prompt cache; null: the input price. */
  cachedInputPricePerMTok?: number | null;
  /** USD per million input tokens written to the prompt cache; null: the input price. */
  cacheWritePricePerMTok?: number | null;
  /** USD per million reasoning tokens; null: the output price. */
  reasoningPricePerMTok?: number | null;
  contextWindow?: number | null;
  timeoutMs?: number | null;
  status?: ModelStatus | null;
  /** Whether keys need their team granted it (requestModelAccess, approveModelAccess) before invoking it. */
  requiresApproval?: boolean | null;
  /** Replaces its guardrail policies (ids; the schema resolves names); null or omitted leaves them. */
  guardrailPolicyIds?: string[] | null;
  /** undefined: unchanged; null: cleared; otherwise replaces the policy. */
  cache?: CachePolicyInput | null;
  /** How much of its calls the call log keeps; undefined: unchanged, null: not set. */
  logBodies?: LogBodies | null;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}$/;

function checkEntityName(name: string, field: string): void {
  if (!NAME_RE.test(name)) {
    throw badInput(field, 'must be 1-128 characters: letters, digits and . _ : / @ - (not starting with a symbol)');
  }
}

function checkBaseUrl(url: string | null | undefined, field: string): void {
  if (url == null) return;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw badInput(field, 'must be an absolute http(s) URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw badInput(field, 'must be an absolute http(s) URL');
}

function checkNonNegative(v: number | null | undefined, field: string, integer = false): void {
  if (v == null) return;
  if (!Number.isFinite(v) || v < 0 || (integer && !Number.isInteger(v))) {
    throw badInput(field, integer ? 'must be a non-negative integer' : 'must be a non-negative number');
  }
}

export type CatalogueService = ReturnType<typeof createCatalogueService>;

/** How long past its TTL a cached model is still routed by while a background load refreshes it. */
const REVALIDATE_MS = 10_000;

export function createCatalogueService(db: Db, box: SecretBox, opts: { cacheTtlMs: number }) {
  /**
   * Models by name, unknown names too (null). Past its TTL an entry still routes while one load refreshes it, so
   * requests never queue behind the database (on embedded PGlite, behind a whole usage batch) each time the TTL
   * runs out; while the database is away the last known routing keeps serving. Catalogue changes on this instance
   * clear it, so they are seen at once (and a load that started before one is not cached).
   */
  const cache = createRefreshingCache<ResolvedModel | null>({ max: 10_000, ttlMs: opts.cacheTtlMs, revalidateMs: REVALIDATE_MS, load: loadResolved });
  const clearCache = () => cache.clear();

  function toRuntime(p: ProviderRow): RuntimeProvider {
    return {
      id: p.id,
      name: p.name,
      kind: p.kind as ProviderKind,
      baseUrl: p.baseUrl ?? undefined,
      apiKey: p.credentialEnc ? box.open(p.credentialEnc) : undefined,
      settings: p.settings ?? undefined,
      enabled: p.enabled,
    };
  }

  async function providerByName(name: string): Promise<ProviderRow> {
    const [row] = await db.select().from(providers).where(eq(providers.name, name));
    if (!row) throw notFound('Provider', name);
    return row;
  }

  async function modelByName(name: string): Promise<ModelRow> {
    const [row] = await db.select().from(models).where(eq(models.name, name));
    if (!row) throw notFound('Model', name);
    return row;
  }

  function checkModelInput(input: ModelInput, selfName: string): void {
    if (input.strategy != null && !STRATEGIES.includes(input.strategy)) throw badInput('input.strategy', 'unknown strategy');
    if (input.status != null && !MODEL_STATUSES.includes(input.status)) throw badInput('input.status', 'unknown status');
    checkNonNegative(input.inputPricePerMTok, 'input.inputPricePerMTok');
    checkNonNegative(input.outputPricePerMTok, 'input.outputPricePerMTok');
    checkNonNegative(input.cachedInputPricePerMTok, 'input.cachedInputPricePerMTok');
    checkNonNegative(input.cacheWritePricePerMTok, 'input.cacheWritePricePerMTok');
    checkNonNegative(input.reasoningPricePerMTok, 'input.reasoningPricePerMTok');
    checkNonNegative(input.contextWindow, 'input.contextWindow', true);
    if (input.timeoutMs != null && (!Number.isInteger(input.timeoutMs) || input.timeoutMs < 1 || input.timeoutMs > 3_600_000)) {
      throw badInput('input.timeoutMs', 'must be an integer between 1 and 3600000');
    }
    if (input.targets != null) {
      if (!input.targets.length) throw badInput('input.targets', 'must name at least one target');
      input.targets.forEach((t, i) => {
        if (!t.upstreamModel?.trim()) throw badInput(`input.targets[${i}].upstreamModel`, 'must not be empty');
        checkNonNegative(t.weight, `input.targets[${i}].weight`, true);
        if (t.priority != null && !Number.isInteger(t.priority)) throw badInput(`input.targets[${i}].priority`, 'must be an integer');
      });
    }
    input.fallbacks?.forEach((f, i) => {
      if (f === selfName) throw badInput(`input.fallbacks[${i}]`, 'a model cannot fall back to itself');
    });
  }

  /** `q` is the open transaction when there is one: on PGlite (one connection) a query on `db` inside it waits forever. */
  async function targetRows(q: Pick<Db, 'select'>, modelId: string, targets: ModelTargetInput[]) {
    const names = [...new Set(targets.map((t) => t.provider))];
    const found = await q.select().from(providers).where(inArray(providers.name, names));
    const byName = new Map(found.map((p) => [p.name, p]));
    return targets.map((t, i) => {
      const p = byName.get(t.provider);
      if (!p) throw badInput(`input.targets[${i}].provider`, `unknown provider "${t.provider}"`);
      const problem = upstreamModelProblem(p.kind as ProviderKind, t.upstreamModel.trim());
      if (problem) throw badInput(`input.targets[${i}].upstreamModel`, problem);
      return {
        modelId,
        providerId: p.id,
        upstreamModel: t.upstreamModel.trim(),
        weight: t.weight ?? 1,
        priority: t.priority ?? 0,
        position: i,
      };
    });
  }

  function modelColumns(input: ModelInput) {
    const out: Partial<ModelRow> = {};
    if (input.description !== undefined) out.description = input.description;
    if (input.strategy != null) out.strategy = input.strategy;
    if (input.status != null) out.status = input.status;
    if (input.requiresApproval != null) out.requiresApproval = input.requiresApproval;
    if (input.fallbacks != null) out.fallbacks = input.fallbacks;
    if (input.inputPricePerMTok !== undefined) out.inputPricePerMTok = input.inputPricePerMTok;
    if (input.outputPricePerMTok !== undefined) out.outputPricePerMTok = input.outputPricePerMTok;
    if (input.cachedInputPricePerMTok !== undefined) out.cachedInputPricePerMTok = input.cachedInputPricePerMTok;
    if (input.cacheWritePricePerMTok !== undefined) out.cacheWritePricePerMTok = input.cacheWritePricePerMTok;
    if (input.reasoningPricePerMTok !== undefined) out.reasoningPricePerMTok = input.reasoningPricePerMTok;
    if (input.contextWindow !== undefined) out.contextWindow = input.contextWindow;
    if (input.timeoutMs !== undefined) out.timeoutMs = input.timeoutMs;
    if (input.guardrailPolicyIds != null) out.guardrailPolicyIds = input.guardrailPolicyIds;
    if (input.logBodies !== undefined) out.logBodies = input.logBodies;
    Object.assign(out, cachePolicyColumns(input.cache, 'input.cache', false));
    return out;
  }

  /** The model's row and its targets' rows; an unreachable database means the model cannot be routed now (503, not a 500). */
  async function readResolved(name: string) {
    try {
      const [row] = await db.select().from(models).where(eq(models.name, name));
      if (!row) return null;
      const rows = await db
        .select({ t: modelTargets, p: providers })
        .from(modelTargets)
        .innerJoin(providers, eq(modelTargets.providerId, providers.id))
        .where(eq(modelTargets.modelId, row.id))
        .orderBy(asc(modelTargets.position));
      return { row, rows };
    } catch (err) {
      if (!isDatabaseUnavailable(err)) throw err;
      throw Object.assign(serviceUnavailable(`Model "${name}" cannot be looked up now: the database is not answering; retry shortly`), { cause: err });
    }
  }

  async function loadResolved(name: string): Promise<ResolvedModel | null> {
    const read = await readResolved(name);
    if (!read) return null;
    const { row, rows } = read;
    const targets = rows.map(({ t, p }) => ({
      id: t.id,
      provider: toRuntime(p),
      upstreamModel: t.upstreamModel,
      weight: t.weight,
      priority: t.priority,
      prices: targetPrices(row, { kind: p.kind as ProviderKind, upstreamModel: t.upstreamModel }),
    }));
    // the model's prices are its first priced target's: picked from the targets', not worked out again
    return { row, targets, prices: firstPriced(row, targets.map((t) => t.prices)) };
  }

  return {
    clearCache,

    /** The model with its targets and runtime providers; cached briefly (no DB round trip per request). */
    resolve: (name: string): Promise<ResolvedModel | null> => cache.get(name),

    listProviders: () => db.select().from(providers).orderBy(asc(providers.name)),
    listModels: () => db.select().from(models).orderBy(asc(models.name)),
    modelByName,
    async findModel(name: string): Promise<ModelRow | null> {
      const [row] = await db.select().from(models).where(eq(models.name, name));
      return row ?? null;
    },
    async targetsOf(modelIds: readonly string[]): Promise<ModelTargetRow[][]> {
      const rows = await db
        .select()
        .from(modelTargets)
        .where(inArray(modelTargets.modelId, [...modelIds]))
        .orderBy(asc(modelTargets.position));
      return modelIds.map((id) => rows.filter((r) => r.modelId === id));
    },
    /** Null where there is none. */
    async modelsByIds(ids: readonly string[]): Promise<Array<ModelRow | null>> {
      const rows = await db.select().from(models).where(inArray(models.id, [...ids]));
      const byId = new Map(rows.map((r) => [r.id, r]));
      return ids.map((id) => byId.get(id) ?? null);
    },
    async providersByIds(ids: readonly string[]): Promise<ProviderRow[]> {
      const rows = await db.select().from(providers).where(inArray(providers.id, [...ids]));
      const byId = new Map(rows.map((r) => [r.id, r]));
      return ids.map((id) => byId.get(id)!);
    },

    async createProvider(input: CreateProviderInput): Promise<ProviderRow> {
      checkEntityName(input.name, 'input.name');
      if (!PROVIDER_KINDS.includes(input.kind)) throw badInput('input.kind', 'unknown provider kind');
      checkBaseUrl(input.baseUrl, 'input.baseUrl');
      if ((input.kind === 'OPENAI_COMPATIBLE' || input.kind === 'AZURE_OPENAI') && !input.baseUrl) {
        throw badInput('input.baseUrl', `is required for ${input.kind} providers`);
      }
      const settings = checkSettings(input.settings, 'input.settings');
      if (input.kind === 'BEDROCK') checkBedrock(input.baseUrl, settings, input.apiKey);
      const [existing] = await db.select({ id: providers.id }).from(providers).where(eq(providers.name, input.name));
      if (existing) throw badInput('input.name', `a provider named "${input.name}" already exists`);
      const [row] = await db
        .insert(providers)
        .values({
          name: input.name,
          kind: input.kind,
          baseUrl: input.baseUrl ?? null,
          credentialEnc: input.apiKey ? box.seal(input.apiKey) : null,
          settings,
          enabled: input.enabled ?? true,
        })
        .returning();
      clearCache();
      return row;
    },

    async updateProvider(name: string, input: UpdateProviderInput): Promise<ProviderRow> {
      const current = await providerByName(name);
      checkBaseUrl(input.baseUrl, 'input.baseUrl');
      if (current.kind === 'BEDROCK') {
        checkBedrock(
          input.baseUrl === undefined ? current.baseUrl : input.baseUrl,
          input.settings === undefined ? current.settings : checkSettings(input.settings, 'input.settings'),
          input.apiKey,
        );
      }
      const patch: Partial<ProviderRow> = {};
      if (input.baseUrl !== undefined) patch.baseUrl = input.baseUrl;
      // an empty string clears the stored credential
      if (input.apiKey !== undefined) patch.credentialEnc = input.apiKey ? box.seal(input.apiKey) : null;
      if (input.settings !== undefined) patch.settings = checkSettings(input.settings, 'input.settings');
      if (input.enabled != null) patch.enabled = input.enabled;
      if (!Object.keys(patch).length) return providerByName(name);
      const [row] = await db.update(providers).set(patch).where(eq(providers.name, name)).returning();
      clearCache();
      return row;
    },

    async deleteProvider(name: string): Promise<boolean> {
      const p = await providerByName(name);
      const used = await db
        .select({ model: models.name })
        .from(modelTargets)
        .innerJoin(models, eq(modelTargets.modelId, models.id))
        .where(eq(modelTargets.providerId, p.id));
      if (used.length) {
        const names = [...new Set(used.map((u) => u.model))].join(', ');
        throw badInput('name', `provider "${name}" is still routed to by model(s): ${names}`);
      }
      await db.delete(providers).where(eq(providers.id, p.id));
      clearCache();
      return true;
    },

    async createModel(input: ModelInput & { name: string; targets: ModelTargetInput[] }): Promise<ModelRow> {
      checkEntityName(input.name, 'input.name');
      checkModelInput(input, input.name);
      const [existing] = await db.select({ id: models.id }).from(models).where(eq(models.name, input.name));
      if (existing) throw badInput('input.name', `a model named "${input.name}" already exists`);
      const row = await db.transaction(async (tx) => {
        const [m] = await tx
          .insert(models)
          .values({ name: input.name, ...modelColumns(input) })
          .returning();
        const targets = await targetRows(tx, m.id, input.targets);
        await tx.insert(modelTargets).values(targets);
        return m;
      });
      clearCache();
      return row;
    },

    async updateModel(name: string, input: ModelInput): Promise<ModelRow> {
      const current = await modelByName(name);
      checkModelInput(input, name);
      const row = await db.transaction(async (tx) => {
        const patch = modelColumns(input);
        const [m] = Object.keys(patch).length
          ? await tx.update(models).set(patch).where(eq(models.id, current.id)).returning()
          : [current];
        if (input.targets) {
          const targets = await targetRows(tx, current.id, input.targets);
          await tx.delete(modelTargets).where(eq(modelTargets.modelId, current.id));
          await tx.insert(modelTargets).values(targets);
        }
        return m;
      });
      clearCache();
      return row;
    },

    async deleteModel(name: string): Promise<boolean> {
      const current = await modelByName(name);
      await db.delete(models).where(eq(models.id, current.id));
      clearCache();
      return true;
    },

    /**
     * Start-up seeding: the echo provider and model, and providers named by the environment.
     * Idempotent; existing rows are left as operators changed them, except env credentials, which are refreshed.
     */
    async seed(envProviders: Array<{ name: string; kind: ProviderKind; apiKey: string; baseUrl?: string; models: Array<Omit<ModelInput, 'targets'> & { name: string; upstreamModel: string }> }>): Promise<void> {
      await db.insert(providers).values({ name: 'echo', kind: 'ECHO' }).onConflictDoNothing();
      const seedModels: Array<{ provider: string; model: Omit<ModelInput, 'targets'> & { name: string; upstreamModel: string } }> = [
        { provider: 'echo', model: { name: 'echo', upstreamModel: 'echo', description: 'Built-in offline model: answers "echo: <last user message>"', inputPricePerMTok: 0, outputPricePerMTok: 0 } },
      ];
      for (const p of envProviders) {
        const sealed = box.seal(p.apiKey);
        await db
          .insert(providers)
          .values({ name: p.name, kind: p.kind, baseUrl: p.baseUrl ?? null, credentialEnc: sealed })
          .onConflictDoUpdate({ target: providers.name, set: { credentialEnc: sealed, ...(p.baseUrl ? { baseUrl: p.baseUrl } : {}) } });
        for (const m of p.models) seedModels.push({ provider: p.name, model: m });
      }
      for (const { provider, model } of seedModels) {
        const [prov] = await db.select().from(providers).where(eq(providers.name, provider));
        const { upstreamModel, name, ...rest } = model;
        const inserted = await db
          .insert(models)
          .values({ name, ...modelColumns(rest) })
          .onConflictDoNothing()
          .returning();
        if (inserted[0]) {
          await db.insert(modelTargets).values({ modelId: inserted[0].id, providerId: prov.id, upstreamModel, weight: 1, priority: 0, position: 0 });
        }
      }
      clearCache();
    },
  };
}
