/* drizzle tables: the only source drizzle-kit generates migrations from. */
import { sql } from 'drizzle-orm';
import type { AttemptRecord } from '../call-log/types.js';
import type { ProviderSettings } from '../providers/types.js';
import {
  bigint,
  boolean,
  customType,
  doublePrecision,
  index,
  integer,
  jsonb,
  numeric,
  pgTable,
  primaryKey,
  text,
  timestamp,
  unique,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

const createdAt = () => timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow();

export const providers = pgTable('providers', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: text('name').notNull().unique(),
  kind: text('kind').notNull(),
  baseUrl: text('base_url'),
  /** AES-256-GCM: base64(iv ‖ tag ‖ ciphertext); never returned by any API */
  credentialEnc: text('credential_enc'),
  /** Kind-specific settings (ProviderSettings: Azure api-version, Bedrock region, Vertex project); no secrets. */
  settings: jsonb('settings').$type<ProviderSettings>(),
  enabled: boolean('enabled').notNull().default(true),
  createdAt: createdAt(),
});

export const models = pgTable('models', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: text('name').notNull().unique(),
  description: text('description'),
  status: text('status').notNull().default('ACTIVE'),
  strategy: text('strategy').notNull().default('PRIORITY'),
  fallbacks: text('fallbacks').array().notNull().default(sql`'{}'::text[]`),
  inputPricePerMTok: doublePrecision('input_price_per_mtok'),
  outputPricePerMTok: doublePrecision('output_price_per_mtok'),
  /** Input tokens read from the provider's prompt cache; null: the input price. */
  cachedInputPricePerMTok: doublePrecision('cached_input_price_per_mtok'),
  /** Input tokens written to the provider's prompt cache; null: the input price. */
  cacheWritePricePerMTok: doublePrecision('cache_write_price_per_mtok'),
  /** Reasoning output tokens; null: the output price. */
  reasoningPricePerMTok: doublePrecision('reasoning_price_per_mtok'),
  contextWindow: integer('context_window'),
  timeoutMs: integer('timeout_ms'),
  /** Response cache default for calls to this model (OFF / EXACT / SEMANTIC); null: not set here. */
  cacheMode: text('cache_mode'),
  cacheTtlSeconds: integer('cache_ttl_seconds'),
  guardrailPolicyIds: uuid('guardrail_policy_ids').array().notNull().default(sql`'{}'::uuid[]`),
  /** Calls need an approved model access request of the caller's team (ADMIN keys excepted). */
  requiresApproval: boolean('requires_approval').notNull().default(false),
  /** Call log level for calls to this model (NONE / METADATA / FULL); null: not set here. */
  logBodies: text('log_bodies'),
  createdAt: createdAt(),
});

export const modelTargets = pgTable(
  'model_targets',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    modelId: uuid('model_id')
      .notNull()
      .references(() => models.id, { onDelete: 'cascade' }),
    // restrict: a provider cannot be deleted while a model routes to it
    providerId: uuid('provider_id')
      .notNull()
      .references(() => providers.id, { onDelete: 'restrict' }),
    upstreamModel: text('upstream_model').notNull(),
    weight: integer('weight').notNull().default(1),
    priority: integer('priority').notNull().default(0),
    position: integer('position').notNull().default(0),
  },
  (t) => [index('model_targets_model_idx').on(t.modelId), index('model_targets_provider_idx').on(t.providerId)],
);

/** Limits shared by the calls of every key of a team, or set per end user; null means no limit (as on keys). */
const endUserLimitColumns = () => ({
  endUserRequestsPerMinute: integer('end_user_requests_per_minute'),
  endUserTokensPerMinute: integer('end_user_tokens_per_minute'),
  endUserTokensPerDay: integer('end_user_tokens_per_day'),
  endUserMonthlyBudgetUsd: doublePrecision('end_user_monthly_budget_usd'),
});

/**
 * A team (tenant): its keys share its limits and budget on top of their own, its TEAM_ADMIN keys manage its keys,
 * prompts and usage, and it is granted the models that need approval.
 */
export const teams = pgTable('teams', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: text('name').notNull().unique(),
  description: text('description'),
  requestsPerMinute: integer('requests_per_minute'),
  tokensPerMinute: integer('tokens_per_minute'),
  tokensPerDay: integer('tokens_per_day'),
  monthlyBudgetUsd: doublePrecision('monthly_budget_usd'),
  /** Public model names its keys may invoke; null means all. A key's own list narrows it further. */
  allowedModels: text('allowed_models').array(),
  ...endUserLimitColumns(),
  /** Fractions of monthlyBudgetUsd that raise a budget alert when crossed; null: the default (0.5, 0.8, 1). */
  budgetAlertThresholds: doublePrecision('budget_alert_thresholds').array(),
  /** Call log level for its keys' calls (NONE / METADATA / FULL); null: not set here. */
  logBodies: text('log_bodies'),
  createdAt: createdAt(),
});

export const apiKeys = pgTable(
  'api_keys',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    prefix: text('prefix').notNull(),
    /** sha256(secret), hex */
    secretHash: text('secret_hash').notNull(),
    scopes: text('scopes').array().notNull(),
    allowedModels: text('allowed_models').array(),
    requestsPerMinute: integer('requests_per_minute'),
    tokensPerMinute: integer('tokens_per_minute'),
    tokensPerDay: integer('tokens_per_day'),
    monthlyBudgetUsd: doublePrecision('monthly_budget_usd'),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }),
    revokedAt: timestamp('revoked_at', { withTimezone: true, mode: 'date' }),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true, mode: 'date' }),
    /** Response cache default for this key's calls (OFF / EXACT / SEMANTIC); null: not set here. */
    cacheMode: text('cache_mode'),
    cacheTtlSeconds: integer('cache_ttl_seconds'),
    /** Whose cached answers this key's calls may receive: KEY (its own; null means KEY) or GLOBAL. */
    cacheScope: text('cache_scope'),
    guardrailPolicyIds: uuid('guardrail_policy_ids').array().notNull().default(sql`'{}'::uuid[]`),
    /** The team it belongs to; null: none (limited by its own limits only, as before teams existed). */
    teamId: uuid('team_id').references(() => teams.id, { onDelete: 'restrict' }),
    ...endUserLimitColumns(),
    /** Fractions of monthlyBudgetUsd that raise a budget alert when crossed; null: the default (0.5, 0.8, 1). */
    budgetAlertThresholds: doublePrecision('budget_alert_thresholds').array(),
    /** Call log level for this key's calls (NONE / METADATA / FULL); null: not set here. */
    logBodies: text('log_bodies'),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('api_keys_secret_hash_idx').on(t.secretHash), index('api_keys_team_idx').on(t.teamId)],
);

/** A team's request to use a model that requires approval, and ADMIN's decision. One per team and model. */
export const modelAccessRequests = pgTable(
  'model_access_requests',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    teamId: uuid('team_id')
      .notNull()
      .references(() => teams.id, { onDelete: 'cascade' }),
    /** The public model name. */
    model: text('model').notNull(),
    reason: text('reason').notNull(),
    /** PENDING, APPROVED or REJECTED. */
    status: text('status').notNull().default('PENDING'),
    requestedByKeyId: uuid('requested_by_key_id'),
    decidedByKeyId: uuid('decided_by_key_id'),
    decisionNote: text('decision_note'),
    decidedAt: timestamp('decided_at', { withTimezone: true, mode: 'date' }),
    createdAt: createdAt(),
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex('model_access_requests_team_model_idx').on(t.teamId, t.model)],
);

/** Where budget alerts are sent: every webhook (teamId null), or only a team's own alerts. */
export const webhooks = pgTable('webhooks', {
  id: uuid('id').primaryKey().defaultRandom(),
  url: text('url').notNull(),
  description: text('description'),
  /** null: receives every alert (created by ADMIN); otherwise only alerts about this team and its keys. */
  teamId: uuid('team_id').references(() => teams.id, { onDelete: 'cascade' }),
  /** The HMAC-SHA256 signing secret, sealed like provider credentials (src/security/secret-box.ts). */
  secretEnc: text('secret_enc').notNull(),
  enabled: boolean('enabled').notNull().default(true),
  /** Created by a TEAM_ADMIN: may not reach loopback, private or link-local addresses (src/services/webhook-address.ts). */
  publicOnly: boolean('public_only').notNull().default(false),
  createdAt: createdAt(),
});

/**
 * A budget threshold crossed: one row per subject (a team or a key), period (UTC month) and threshold. The unique
 * index is what makes an alert fire once across every instance: only the insert that wins sends it.
 */
export const budgetAlerts = pgTable(
  'budget_alerts',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** TEAM or API_KEY. */
    subjectKind: text('subject_kind').notNull(),
    subjectId: uuid('subject_id').notNull(),
    /** The team the subject is or belongs to (for scoping reads and team webhooks); null for a key without team. */
    teamId: uuid('team_id'),
    /** The UTC month, 2026-12. */
    period: text('period').notNull(),
    /** The fraction of the budget crossed, e.g. 0.8. */
    threshold: doublePrecision('threshold').notNull(),
    budgetUsd: doublePrecision('budget_usd').notNull(),
    spentUsd: doublePrecision('spent_usd').notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('budget_alerts_once_idx').on(t.subjectKind, t.subjectId, t.period, t.threshold), index('budget_alerts_team_idx').on(t.teamId, t.createdAt)],
);

/** Each webhook's delivery of each alert: attempts, last error, when it got through. */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    alertId: uuid('alert_id')
      .notNull()
      .references(() => budgetAlerts.id, { onDelete: 'cascade' }),
    webhookId: uuid('webhook_id')
      .notNull()
      .references(() => webhooks.id, { onDelete: 'cascade' }),
    /** PENDING, DELIVERED or FAILED (gave up). */
    status: text('status').notNull().default('PENDING'),
    attempts: integer('attempts').notNull().default(0),
    lastError: text('last_error'),
    /** When the last try was claimed: the sweep resumes a PENDING delivery only once its backoff has passed. */
    lastAttemptAt: timestamp('last_attempt_at', { withTimezone: true, mode: 'date' }),
    deliveredAt: timestamp('delivered_at', { withTimezone: true, mode: 'date' }),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('webhook_deliveries_once_idx').on(t.alertId, t.webhookId)],
);

/** Named guardrail policies; `input` and `output` are rule sets (src/guardrails validates their shape). */
export const guardrailPolicies = pgTable('guardrail_policies', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: text('name').notNull().unique(),
  description: text('description'),
  input: jsonb('input'),
  output: jsonb('output'),
  createdAt: createdAt(),
  updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
});

/** The response cache's gateway-wide settings: one row, id 1. */
export const cacheSettings = pgTable('cache_settings', {
  id: integer('id').primaryKey().default(1),
  /** The public name of the embedding model the semantic cache embeds prompts with; null: semantic cache off. */
  embeddingModel: text('embedding_model'),
  similarityThreshold: doublePrecision('similarity_threshold').notNull().default(0.95),
  defaultTtlSeconds: integer('default_ttl_seconds').notNull().default(3600),
  updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
});

export const usageRecords = pgTable(
  'usage_records',
  {
    // generated by the gateway (time-ordered, see time-ordered-id.ts) so a record is identifiable before it is written
    id: uuid('id').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
    apiKeyId: uuid('api_key_id'),
    model: text('model').notNull(),
    provider: text('provider'),
    upstreamModel: text('upstream_model'),
    promptTokens: integer('prompt_tokens').notNull().default(0),
    completionTokens: integer('completion_tokens').notNull().default(0),
    /** Parts of promptTokens / completionTokens the provider reported separately (Usage in providers/types.ts). */
    cachedReadTokens: integer('cached_read_tokens').notNull().default(0),
    cacheWriteTokens: integer('cache_write_tokens').notNull().default(0),
    reasoningTokens: integer('reasoning_tokens').notNull().default(0),
    // exact decimal so sums over millions of records equal the sum of the returned costs
    costUsd: numeric('cost_usd', { precision: 20, scale: 10 }).notNull().default('0'),
    latencyMs: integer('latency_ms').notNull().default(0),
    ttftMs: integer('ttft_ms'),
    status: text('status').notNull(),
    errorCode: text('error_code'),
    streamed: boolean('streamed').notNull().default(false),
    attempts: integer('attempts').notNull().default(0),
    usageExact: boolean('usage_exact').notNull().default(true),
    metadata: jsonb('metadata'),
    /** EXACT or SEMANTIC when the response cache answered; null when the upstream did (or nothing did). */
    cacheHit: text('cache_hit'),
    /** What a cache hit would have cost upstream: a hit's own cost is 0. */
    costSavedUsd: numeric('cost_saved_usd', { precision: 20, scale: 10 }).notNull().default('0'),
    cacheSimilarity: doublePrecision('cache_similarity'),
    /** The guardrail rules that acted on this call (GuardrailEvent[]); null when none did. */
    guardrails: jsonb('guardrails'),
    /** The caller's key's team at the time of the call; null for a key without team. */
    teamId: uuid('team_id'),
    /** The end user the caller named (ChatInput.user, REST `user`); null when none. */
    endUser: text('end_user'),
  },
  // The primary key is (created_at, id), the order every page is read in: one btree serves both the pages and the
  // duplicate check of a re-sent batch, where an `id` key plus a (created_at, id) index cost a btree insert more a
  // row (see bench/README.md for what that saved). Every index is in the default order:
  // pages ask for `created_at desc, id desc` and read them backwards, while new records (time-ordered ids and
  // times) go to the right edge, where btree inserts take their fast path and page splits leave full pages.
  // The table is range-partitioned by created_at, a partition per UTC day and a default one
  // (migrations/0011_usage_partitions.sql makes it, as drizzle-kit cannot; src/db/usage-partitions.ts keeps the days).
  (t) => [
    primaryKey({ name: 'usage_records_pkey', columns: [t.createdAt, t.id] }),
    index('usage_key_created_idx').on(t.apiKeyId, t.createdAt, t.id),
    index('usage_model_created_idx').on(t.model, t.createdAt),
    index('usage_provider_created_idx').on(t.provider, t.createdAt),
    // partial: records of keys without a team (or calls without an end user) cost these indexes nothing
    index('usage_team_created_idx').on(t.teamId, t.createdAt).where(sql`team_id is not null`),
    index('usage_end_user_created_idx').on(t.endUser, t.createdAt).where(sql`end_user is not null`),
  ],
);

/**
 * What a rollup row sums over the records of its hour. A histogram is one exact numeric whose 12-digit fields
 * are the counts of the log-linear bins of src/services/usage-histogram.ts (field b holds bin b's count): adding
 * two histograms is adding the numbers, which Postgres's own `+` and `sum()` do, so merging hours costs no more than
 * summing the tokens. Rows are written only by the triggers on usage_records (migrations/0004_usage_rollups_maintenance.sql,
 * replaced by 0006_usage_cache_rollups.sql).
 */
const rollupSums = () => ({
  requests: bigint('requests', { mode: 'number' }).notNull().default(0),
  /** Records whose status is not OK. */
  errors: bigint('errors', { mode: 'number' }).notNull().default(0),
  promptTokens: bigint('prompt_tokens', { mode: 'number' }).notNull().default(0),
  completionTokens: bigint('completion_tokens', { mode: 'number' }).notNull().default(0),
  // unconstrained numeric: the exact sum of the records' numeric(20,10) costs
  costUsd: numeric('cost_usd').notNull().default('0'),
  /** Records with a ttft_ms (streamed ones); every record has a latency, so the latency count is `requests`. */
  ttftCount: bigint('ttft_count', { mode: 'number' }).notNull().default(0),
  latencyHist: numeric('latency_hist').notNull().default('0'),
  ttftHist: numeric('ttft_hist').notNull().default('0'),
  /** Records the response cache answered (cache_hit not null). */
  cacheHits: bigint('cache_hits', { mode: 'number' }).notNull().default(0),
  // unconstrained numeric, as cost_usd: the exact sum of the records' cost_saved_usd
  costSavedUsd: numeric('cost_saved_usd').notNull().default('0'),
});

/**
 * Usage per hour (UTC) and per (key, model, provider, status): any filter of usageSummary/usageSeries can be
 * answered from these rows. Kept equal to usage_records by the triggers, inserts, deletes and updates alike.
 */
export const usageRollups = pgTable(
  'usage_rollups',
  {
    bucketStart: timestamp('bucket_start', { withTimezone: true, mode: 'date' }).notNull(),
    apiKeyId: uuid('api_key_id'),
    model: text('model').notNull(),
    provider: text('provider'),
    status: text('status').notNull(),
    ...rollupSums(),
  },
  // a record may have no key or no provider: NULLS NOT DISTINCT makes those one row each, and ON CONFLICT finds them
  (t) => [
    unique('usage_rollups_key').on(t.bucketStart, t.apiKeyId, t.model, t.provider, t.status).nullsNotDistinct(),
    index('usage_rollups_key_bucket_idx').on(t.apiKeyId, t.bucketStart),
  ],
);

/**
 * The same hours summed per one dimension: group_by ALL (group_key ''), MODEL, PROVIDER or API_KEY (the key's
 * UUID; '' for records without provider or key). An unfiltered overview reads a row per hour and group here
 * instead of one per key, model, provider and status. Partitioned by group_by (migrations/0004_usage_rollups_maintenance.sql
 * makes the table again, as drizzle-kit cannot), so reading one dimension reads only its rows. `quantiles` caches [p50, p95] of latency then TTFT, in whole
 * ms (null elements: no samples), computed from the histograms once the hour is over; null while not yet computed
 * or since the row last changed.
 */
export const usageGroupRollups = pgTable(
  'usage_group_rollups',
  {
    groupBy: text('group_by').notNull(),
    bucketStart: timestamp('bucket_start', { withTimezone: true, mode: 'date' }).notNull(),
    groupKey: text('group_key').notNull(),
    ...rollupSums(),
    quantiles: doublePrecision('quantiles').array(),
  },
  (t) => [
    primaryKey({ name: 'usage_group_rollups_pkey', columns: [t.groupBy, t.bucketStart, t.groupKey] }),
    // the rows whose quantiles are still to be computed, found without reading the table
    index('usage_group_rollups_unsealed_idx').on(t.bucketStart).where(sql`quantiles is null`),
  ],
);

export const prompts = pgTable(
  'prompts',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    version: integer('version').notNull(),
    model: text('model').notNull(),
    messages: jsonb('messages').notNull().$type<Array<{ role: string; content: string }>>(),
    variables: text('variables').array().notNull(),
    /** The team that owns it (its TEAM_ADMINs manage it, only its keys read it); null: the gateway's, for every key. */
    teamId: uuid('team_id').references(() => teams.id, { onDelete: 'restrict' }),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('prompts_name_version_idx').on(t.name, t.version)],
);

/**
 * Responses created through POST /v1/responses with `store` (OpenAI's default): read back by
 * GET /v1/responses/{id}, and continued by `previous_response_id`, until they expire (RESPONSES_TTL_SECONDS).
 */
export const storedResponses = pgTable(
  'stored_responses',
  {
    /** `resp_…`, as the API returned it. */
    id: text('id').primaryKey(),
    /** The key that created it; only that key (or an ADMIN key) reads or continues it. */
    apiKeyId: uuid('api_key_id'),
    /** The public model name asked for. */
    model: text('model').notNull(),
    /** {previous, messages}: the response this one continued and the gateway's messages its turn added (see stored-responses.ts). */
    conversation: jsonb('conversation').notNull(),
    /** The Response object as it was returned. */
    response: jsonb('response').notNull(),
    createdAt: createdAt(),
    expiresAt: timestamp('expires_at', { withTimezone: true, mode: 'date' }).notNull(),
  },
  (t) => [index('stored_responses_expires_idx').on(t.expiresAt)],
);

const tsvector = customType<{ data: string }>({ dataType: () => 'tsvector' });

/**
 * The call log: one row per invocation whose level (key, team, model) is METADATA or FULL, written by the usage
 * writer in the same batch as its usage record, with the same id. Large bodies are compressed by PostgreSQL
 * (TOAST); rows older than CALL_LOG_RETENTION_DAYS are deleted.
 */
export const callLogs = pgTable(
  'call_logs',
  {
    /** The invocation's id: the usage record's too. */
    id: uuid('id').primaryKey(),
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull(),
    /** x-request-id / extensions.requestId of the request that made it. */
    requestId: text('request_id'),
    apiKeyId: uuid('api_key_id'),
    teamId: uuid('team_id'),
    model: text('model').notNull(),
    status: text('status').notNull(),
    /** METADATA or FULL. */
    level: text('level').notNull(),
    parameters: jsonb('parameters'),
    /** FULL only. */
    request: jsonb('request'),
    /** FULL only. */
    response: jsonb('response'),
    attempts: jsonb('attempts').$type<AttemptRecord[]>().notNull(),
    traceId: text('trace_id'),
    bodyBytes: integer('body_bytes').notNull().default(0),
    truncated: boolean('truncated').notNull().default(false),
    /** to_tsvector('simple', message and answer text): FULL rows only. */
    search: tsvector('search'),
  },
  (t) => [
    index('call_logs_created_idx').on(t.createdAt.desc(), t.id.desc()),
    index('call_logs_key_created_idx').on(t.apiKeyId, t.createdAt.desc()),
    index('call_logs_team_created_idx').on(t.teamId, t.createdAt.desc()),
    index('call_logs_request_idx').on(t.requestId),
    index('call_logs_search_idx').using('gin', t.search),
  ],
);

export type ProviderRow = typeof providers.$inferSelect;
export type ModelRow = typeof models.$inferSelect;
export type ModelTargetRow = typeof modelTargets.$inferSelect;
export type ApiKeyRow = typeof apiKeys.$inferSelect;
export type UsageRow = typeof usageRecords.$inferSelect;
export type UsageInsert = typeof usageRecords.$inferInsert;
export type PromptRow = typeof prompts.$inferSelect;
export type GuardrailPolicyRow = typeof guardrailPolicies.$inferSelect;
export type CacheSettingsRow = typeof cacheSettings.$inferSelect;
export type TeamRow = typeof teams.$inferSelect;
export type CallLogRow = typeof callLogs.$inferSelect;
export type ModelAccessRequestRow = typeof modelAccessRequests.$inferSelect;
export type WebhookRow = typeof webhooks.$inferSelect;
export type BudgetAlertRow = typeof budgetAlerts.$inferSelect;
export type WebhookDeliveryRow = typeof webhookDeliveries.$inferSelect;
export type StoredResponseRow = typeof storedResponses.$inferSelect;
