/* The only module that reads process.env: everything else receives a Config. */
import { resolve } from 'node:path';
import { z } from 'zod';
import { readTrustedDocuments, TrustedDocumentsError } from './http/trusted-documents.js';

const optionalUrl = z.string().trim().min(1).optional();

/** An OTLP endpoint: an exporter given anything else fails on every export, quietly, inside the SDK. */
const otlpEndpoint = z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional();

/** OTEL_EXPORTER_OTLP_HEADERS: `key1=value1,key2=value2`, values URL-encoded (the OTLP exporter spec). */
const otlpHeaders = z
  .string()
  .optional()
  .transform((raw, ctx) => {
    const out: Record<string, string> = {};
    for (const pair of (raw ?? '').split(',')) {
      if (!pair.trim()) continue;
      const at = pair.indexOf('=');
      const name = pair.slice(0, at).trim();
      if (at <= 0 || !name) {
        ctx.addIssue({ code: 'custom', message: `"${pair.trim().slice(0, 40)}" is not key=value` });
        return z.NEVER;
      }
      try {
        out[name.toLowerCase()] = decodeURIComponent(pair.slice(at + 1).trim());
      } catch {
        // the value may be a credential: only the header's name is repeated
        ctx.addIssue({ code: 'custom', message: `the value of "${name.slice(0, 40)}" is not valid URL encoding` });
        return z.NEVER;
      }
    }
    return out;
  });

const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  HOST: z.string().default('127.0.0.1'),
  DATABASE_URL: z
    .string()
    .trim()
    .optional()
    .refine((v) => !v || v === 'memory://' || /^postgres(ql)?:\/\//.test(v), 'must be postgres://…, postgresql://… or memory://'),
  DATA_DIR: z.string().default('./.data'),
  // embedded PGlite's shared_buffers (Postgres units: 16MB, 1GB); undefined: src/db/client.ts's default
  PGLITE_SHARED_BUFFERS: z
    .string()
    .trim()
    .regex(/^\d+(kB|MB|GB)$/, 'must be a size like 16MB, 512kB or 1GB')
    // Postgres' own floor; below it the embedded database would fail to start with a less clear message
    .refine((v) => Number.parseInt(v, 10) * { kB: 1, MB: 1024, GB: 1024 * 1024 }[v.replace(/^\d+/, '') as 'kB' | 'MB' | 'GB'] >= 128, 'must be at least 128kB')
    .optional(),
  GATEWAY_ADMIN_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
  GATEWAY_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  REDIS_URL: optionalUrl,
  OPENAI_API_KEY: z.string().optional(),
  OPENAI_BASE_URL: optionalUrl,
  ANTHROPIC_API_KEY: z.string().optional(),
  ANTHROPIC_BASE_URL: optionalUrl,
  GEMINI_API_KEY: z.string().optional(),
  GEMINI_BASE_URL: optionalUrl,
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  USAGE_FLUSH_MS: z.coerce.number().int().min(1).default(200),
  USAGE_BUFFER_MAX: z.coerce.number().int().min(100).default(100_000),
  USAGE_RETENTION_DAYS: z.coerce.number().int().min(0).default(0),
  // where usage records (and call logs) are appended before the batching writer takes them; `off` disables it
  USAGE_SPOOL_DIR: z.string().trim().min(1).optional(),
  // SIGTERM: /readyz answers 503 this long before the listener closes, so a load balancer stops sending first
  SHUTDOWN_DRAIN_DELAY_MS: z.coerce.number().int().min(0).max(600_000).default(2000),
  // SIGTERM: the whole stop (drain delay, in-flight calls and streams, last usage flush) within this long
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(1000).max(3_600_000).default(10_000),
  KEY_CACHE_TTL_MS: z.coerce.number().int().min(0).max(5000).default(2000),
  DEFAULT_TIMEOUT_MS: z.coerce.number().int().min(1).default(60_000),
  GRAPHQL_INTROSPECTION: z.stringbool().default(true),
  GRAPHQL_FAST_PATH: z.stringbool().default(true),
  GRAPHQL_TRUSTED_DOCUMENTS: z.string().optional(),
  METRICS_TOKEN: z.string().optional(),
  CORS_ORIGIN: z.string().optional(),
  GRAPHQL_MAX_DEPTH: z.coerce.number().int().min(1).default(10),
  GRAPHQL_MAX_ALIASES: z.coerce.number().int().min(0).default(15),
  GRAPHQL_MAX_DIRECTIVES: z.coerce.number().int().min(0).default(20),
  GRAPHQL_MAX_TOKENS: z.coerce.number().int().min(1).default(2000),
  GRAPHQL_MAX_COST: z.coerce.number().int().min(1).default(50_000),
  MAX_SUBSCRIPTIONS_PER_KEY: z.coerce.number().int().min(1).default(100),
  // websocket keep-alive: a ping this often, and the socket is terminated when its pong takes longer (0 = no pings)
  WS_KEEPALIVE_MS: z.coerce.number().int().min(0).max(3_600_000).default(12_000),
  // the LRU bounded in bytes needs a positive bound; no cache at all is a cache mode (OFF), not a size
  CACHE_MEMORY_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1, 'must be at least 1 byte (to cache nothing, leave the cache mode OFF on keys and models)')
    .default(64 * 1024 * 1024),
  CACHE_SEMANTIC_MAX_BYTES: z.coerce.number().int().min(1, 'must be at least 1 byte').default(64 * 1024 * 1024),
  WEBHOOK_RETRY_BASE_MS: z.coerce.number().int().min(1).default(1000),
  WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(8),
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(1).default(5000),
  WEBHOOK_ALLOW_PRIVATE_ADDRESSES: z.stringbool().default(false),
  // OpenAI keeps stored responses 30 days; so does the gateway unless told otherwise
  RESPONSES_TTL_SECONDS: z.coerce.number().int().min(1).default(30 * 86_400),
  CALL_LOG_RETENTION_DAYS: z.coerce.number().int().min(1).default(30),
  CALL_LOG_MAX_BODY_BYTES: z.coerce.number().int().min(1024).default(1024 * 1024),
  // OpenTelemetry's own variable names (https://opentelemetry.io/docs/specs/otel/protocol/exporter/)
  OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint,
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: otlpEndpoint,
  OTEL_EXPORTER_OTLP_HEADERS: otlpHeaders,
  OTEL_SERVICE_NAME: z.string().trim().min(1).default('ai-gateway'),
  OTEL_BSP_SCHEDULE_DELAY: z.coerce.number().int().min(1).default(5000),
});

export type Config = ReturnType<typeof toConfig>;

function toConfig(env: z.infer<typeof envSchema>, trustedDocuments: ReadonlyMap<string, string> | undefined) {
  const dbUrl = env.DATABASE_URL || undefined;
  return {
    http: { port: env.PORT, host: env.HOST, corsOrigin: env.CORS_ORIGIN },
    db: {
      /** undefined → embedded PGlite in dataDir */
      url: dbUrl,
      dataDir: env.DATA_DIR,
      /** embedded PGlite's shared_buffers; undefined: the default of src/db/client.ts */
      pgliteSharedBuffers: env.PGLITE_SHARED_BUFFERS,
    },
    redis: env.REDIS_URL ? { url: env.REDIS_URL } : undefined,
    adminKey: env.GATEWAY_ADMIN_KEY,
    secret: env.GATEWAY_SECRET,
    providers: {
      openai: env.OPENAI_API_KEY ? { apiKey: env.OPENAI_API_KEY, baseUrl: env.OPENAI_BASE_URL } : undefined,
      anthropic: env.ANTHROPIC_API_KEY ? { apiKey: env.ANTHROPIC_API_KEY, baseUrl: env.ANTHROPIC_BASE_URL } : undefined,
      gemini: env.GEMINI_API_KEY ? { apiKey: env.GEMINI_API_KEY, baseUrl: env.GEMINI_BASE_URL } : undefined,
    },
    logLevel: env.LOG_LEVEL,
    usage: {
      flushMs: env.USAGE_FLUSH_MS,
      bufferMax: env.USAGE_BUFFER_MAX,
      retentionDays: env.USAGE_RETENTION_DAYS,
      /**
       * The crash spool's folder; undefined when off. Default: DATA_DIR/spool, except for memory:// where the records
       * would have nowhere to be replayed into after a restart.
       */
      spoolDir: spoolDirOf(env.USAGE_SPOOL_DIR, dbUrl, env.DATA_DIR),
    },
    shutdown: { drainDelayMs: env.SHUTDOWN_DRAIN_DELAY_MS, graceMs: env.SHUTDOWN_GRACE_MS },
    callLog: { retentionDays: env.CALL_LOG_RETENTION_DAYS, maxBodyBytes: env.CALL_LOG_MAX_BODY_BYTES },
    /** Set only when an OTLP endpoint is: without it no tracer exists and no span is made. */
    tracing: tracingConfig(env),
    keyCacheTtlMs: env.KEY_CACHE_TTL_MS,
    defaultTimeoutMs: env.DEFAULT_TIMEOUT_MS,
    graphql: {
      introspection: env.GRAPHQL_INTROSPECTION,
      /** Plain JSON queries and mutations, and subscriptions over GraphQL SSE, skip the Fetch-API layer (src/http/graphql-fast-path.ts); answers are the same either way. */
      fastPath: env.GRAPHQL_FAST_PATH,
      /**
       * GRAPHQL_TRUSTED_DOCUMENTS, read: id → document. When set, only these documents run (by id); otherwise
       * automatic persisted queries are on.
       */
      trustedDocuments,
      limits: {
        maxDepth: env.GRAPHQL_MAX_DEPTH,
        maxAliases: env.GRAPHQL_MAX_ALIASES,
        maxDirectives: env.GRAPHQL_MAX_DIRECTIVES,
        maxTokens: env.GRAPHQL_MAX_TOKENS,
        maxCost: env.GRAPHQL_MAX_COST,
      },
      /** Open subscriptions (chatStream, usageRecorded) per API key, over websockets and SSE together. */
      maxSubscriptionsPerKey: env.MAX_SUBSCRIPTIONS_PER_KEY,
      /** graphql-ws keep-alive: ping interval and pong deadline in one (its own default, 12 s); 0 sends none. */
      wsKeepAliveMs: env.WS_KEEPALIVE_MS,
    },
    metricsToken: env.METRICS_TOKEN,
    /** The response cache's in-process stores, bounded in bytes: the exact one (without REDIS_URL), the usearch index (without pgvector). */
    cache: { memoryMaxBytes: env.CACHE_MEMORY_MAX_BYTES, semanticMaxBytes: env.CACHE_SEMANTIC_MAX_BYTES },
    /** Budget alert webhooks: the first retry waits retryBaseMs, each next one twice as long, up to maxAttempts tries of timeoutMs each. */
    webhooks: {
      retryBaseMs: env.WEBHOOK_RETRY_BASE_MS,
      maxAttempts: env.WEBHOOK_MAX_ATTEMPTS,
      timeoutMs: env.WEBHOOK_TIMEOUT_MS,
      /** true: TEAM_ADMIN webhooks may reach loopback/private/link-local addresses too (ADMIN's always may). */
      allowPrivateAddresses: env.WEBHOOK_ALLOW_PRIVATE_ADDRESSES,
    },
    /** POST /v1/responses with `store`: how long a response can be read back or continued by previous_response_id. */
    responses: { ttlSeconds: env.RESPONSES_TTL_SECONDS },
  };
}

export class ConfigError extends Error {}

function spoolDirOf(setting: string | undefined, dbUrl: string | undefined, dataDir: string): string | undefined {
  if (setting?.toLowerCase() === 'off') return undefined;
  if (setting) return resolve(setting);
  return dbUrl === 'memory://' ? undefined : resolve(dataDir, 'spool');
}

function tracingConfig(env: z.infer<typeof envSchema>) {
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  // the signal-specific variable is used as given; the general one gets the signal's path appended
  const url = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? (base ? `${base.replace(/\/+$/, '')}/v1/traces` : undefined);
  if (!url) return undefined;
  return { url, headers: env.OTEL_EXPORTER_OTLP_HEADERS, serviceName: env.OTEL_SERVICE_NAME, scheduleDelayMs: env.OTEL_BSP_SCHEDULE_DELAY };
}

/** `FOO=` in a compose file or a shell means "not set", not "set to nothing": drop empty and blank values before parsing. */
function withoutEmpty(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (value !== undefined && value.trim() !== '') out[name] = value;
  return out;
}

/** The manifest GRAPHQL_TRUSTED_DOCUMENTS names, read once; a missing or malformed file stops the start. */
function trustedDocumentsOf(path: string | undefined): ReadonlyMap<string, string> | undefined {
  if (!path) return undefined;
  const file = resolve(path);
  try {
    return readTrustedDocuments(file);
  } catch (e) {
    if (!(e instanceof TrustedDocumentsError)) throw e;
    throw new ConfigError(`Invalid configuration:\n  GRAPHQL_TRUSTED_DOCUMENTS: ${file} ${e.message}`);
  }
}

/** Parses the environment once; reports every problem at once. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Readonly<Config> {
  const parsed = envSchema.safeParse(withoutEmpty(env));
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(env)'}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const config = toConfig(parsed.data, trustedDocumentsOf(parsed.data.GRAPHQL_TRUSTED_DOCUMENTS));
  if (config.db.url?.startsWith('postgres') && !config.secret) {
    throw new ConfigError('Invalid configuration:\n  GATEWAY_SECRET: required when DATABASE_URL points at a Postgres server');
  }
  return Object.freeze(config);
}

/** Test helper: a config for an in-memory gateway with overrides. */
export function testConfig(overrides: Record<string, string | undefined> = {}): Readonly<Config> {
  // no spool unless a test asks: tests on one Postgres must not share (and replay) each other's ./.data/spool
  return loadConfig({ DATABASE_URL: 'memory://', PORT: '0', LOG_LEVEL: 'silent', GATEWAY_SECRET: 'test-secret-test-secret', USAGE_SPOOL_DIR: 'off', ...overrides });
}
