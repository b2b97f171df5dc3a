/* createApp(config): wires everything once and returns { start, stop }. */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type pino from 'pino';
import type { Plugin } from 'graphql-yoga';
import type { Config } from './config.js';
import { createExactStore } from './cache/exact/create-store.js';
import { createPurgeBroadcast } from './cache/purge-broadcast.js';
import { purgeInProcessStores, type ResponseCache } from './cache/response-cache.js';
import { createSemanticCache, embedThroughGateway } from './cache/semantic/index.js';
import type { SemanticCache } from './cache/types.js';
import type { Services } from './context.js';
import { createDatabase, type Database } from './db/client.js';
import { createExecutor, type AttemptPolicy } from './gateway/attempt.js';
import { createGateway, type GatewayObserver, type Step } from './gateway/gateway.js';
import { createDbRecordedUsage, createDbUsageSeeder, createLimiter, type Limiter } from './gateway/limits.js';
import { createRouter, type RouterOptions } from './gateway/route.js';
import { createRedisEventTarget } from './gateway/redis-event-target.js';
import { createUsageFeed } from './gateway/usage-feed.js';
import { createUsageWriter, type UsageEvent } from './gateway/usage-writer.js';
import { createUsageSpool } from './gateway/usage-spool.js';
import { registerSpoolMetrics } from './gateway/usage-spool-metrics.js';
import { startCallLogRetention } from './call-log/retention.js';
import { ensureUsagePartitions, startUsagePartitionUpkeep } from './db/usage-partitions.js';
import { createRestHandler } from './http/rest/index.js';
import { createGraphqlFastPath } from './http/graphql-fast-path.js';
import { createHttpServer, DEFAULT_MAX_BODY_BYTES } from './http/server.js';
import type { DrainBounds } from './http/drain-unread-body.js';
import { attachWebSockets } from './http/ws.js';
import { createGatewayYoga } from './http/yoga.js';
import { createMetricsRoute } from './http/metrics-route.js';
import { createReadiness } from './http/readiness.js';
import { createConsoleRoute } from './http/console/route.js';
import { createGraphiqlAssetsRoute } from './http/graphiql/route.js';
import { createOpenSessions } from './http/open-sessions.js';
import { revalidateSessions } from './http/revalidate-sessions.js';
import { createLogger } from './logger.js';
import { createMetrics } from './telemetry/metrics.js';
import { createTracing } from './telemetry/tracing.js';
import { withTimeout } from './util/with-timeout.js';
import { closeUpstreamAgent } from './providers/http.js';
import { createAdapterRegistry, type AdapterRegistry, type ProviderKind } from './providers/registry.js';
import { WELL_KNOWN_MODELS } from './providers/well-known.js';
import { createSecretBox } from './security/secret-box.js';
import { createBudgetAlertService } from './services/budget-alerts.js';
import { createCacheSettingsService } from './services/cache-settings.js';
import { createCatalogueService } from './services/catalogue.js';
import { createKeyInvalidation } from './services/key-invalidation.js';
import { createKeyService } from './services/keys.js';
import { createLimitUsageReader } from './services/limit-usage.js';
import { createModelAccessService } from './services/model-access.js';
import { createPromptService } from './services/prompts.js';
import { createStoredResponseService, type StoredResponseService } from './services/stored-responses.js';
import { createTeamService } from './services/teams.js';
import { createGuardrailPolicyService } from './services/guardrail-policies.js';
import { createTeamEvents } from './services/team-events.js';
import { createUsageQueries } from './services/usage-queries.js';
import { createCallLogQueries } from './services/call-logs.js';
import { createWebhookDelivery } from './services/webhook-delivery.js';
import { createWebhookService } from './services/webhooks.js';

export interface AppOptions {
  /** Replace adapters (tests: a fast echo). */
  adapters?: Partial<AdapterRegistry>;
  router?: RouterOptions;
  policy?: Partial<AttemptPolicy>;
  limiter?: Limiter;
  /** Prefix of Redis keys and channels (limits, key invalidation), e.g. to share one Redis between deployments. @default 'gw:' */
  redisPrefix?: string;
  logDestination?: pino.DestinationStream;
  observer?: GatewayObserver;
  /** Close sockets that never send connection_init after this long. */
  wsInitTimeoutMs?: number;
  /** How often webhook deliveries left PENDING (by an instance that died) are looked for. @default 30000 */
  webhookSweepMs?: number;
  /** More Yoga plugins (an operator's: a response cache, result processors); they turn the GraphQL fast path off. */
  yogaPlugins?: Plugin[];
  /** Bounds on reading and dropping a body that is still arriving after its answer (a 413). */
  drainBounds?: Partial<DrainBounds>;
  /** The invocation's steps (src/gateway/pipeline.ts). @default PIPELINE */
  steps?: readonly Step[];
  /** Replaces the semantic half of the response cache (pgvector or usearch, chosen at start-up). */
  semanticCache?: SemanticCache;
  /** The database of `config.db`, already being opened (src/main.ts starts it before loading the app). */
  database?: Promise<Database>;
}

/** GATEWAY_SECRET, or one generated once into DATA_DIR for embedded use, or an ephemeral one in memory. */
function resolveSecret(config: Config): string {
  if (config.secret) return config.secret;
  if (config.db.url === 'memory://') return randomBytes(32).toString('hex');
  const file = join(config.db.dataDir, 'gateway-secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(config.db.dataDir, { recursive: true });
  const secret = randomBytes(32).toString('hex');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

function envProviders(config: Config) {
  const out: Array<{ name: string; kind: ProviderKind; apiKey: string; baseUrl?: string; models: Array<{ name: string; upstreamModel: string; inputPricePerMTok: number; outputPricePerMTok: number; contextWindow: number }> }> = [];
  const add = (name: string, kind: ProviderKind, p: { apiKey: string; baseUrl?: string } | undefined) => {
    if (p) out.push({ name, kind, apiKey: p.apiKey, baseUrl: p.baseUrl, models: WELL_KNOWN_MODELS[kind] ?? [] });
  };
  add('openai', 'OPENAI', config.providers.openai);
  add('anthropic', 'ANTHROPIC', config.providers.anthropic);
  add('gemini', 'GEMINI', config.providers.gemini);
  return out;
}

async function connectFeedRedis(url: string) {
  const { Redis } = await import('ioredis');
  const opts = { lazyConnect: false, maxRetriesPerRequest: 1, enableOfflineQueue: false } as const;
  const publishClient = new Redis(url, opts);
  const subscribeClient = new Redis(url, { ...opts, enableOfflineQueue: true });
  // errors are retried by ioredis; log nothing per attempt, the limiter reports Redis outages
  publishClient.on('error', () => {});
  subscribeClient.on('error', () => {});
  return { publishClient, subscribeClient };
}

/** Drops old usage days and deletes the old records left hourly, off the request path. */
function startRetention(queries: ReturnType<typeof createUsageQueries>, days: number, log: pino.Logger): NodeJS.Timeout {
  const run = () =>
    queries.retain(days).then(
      ({ partitions, deleted }) =>
        (partitions.length || deleted) && log.info({ partitions, deleted, days }, 'usage retention: old records deleted'),
      (err) => log.warn({ err }, 'usage retention failed; will retry'),
    );
  const timer = setInterval(run, 3_600_000);
  timer.unref();
  setTimeout(run, 5_000).unref();
  return timer;
}

/** Deletes expired stored responses (POST /v1/responses) every ten minutes, off the request path; reads skip them before that. */
function startResponseSweep(stored: StoredResponseService, log: pino.Logger): { stop(): void } {
  const run = () =>
    stored.sweep().then(
      (n) => n && log.info({ deleted: n }, 'stored responses: expired ones deleted'),
      (err: unknown) => log.warn({ err }, 'stored responses: sweep failed; will retry'),
    );
  const timer = setInterval(run, 600_000);
  timer.unref();
  const first = setTimeout(run, 5_000);
  first.unref();
  return {
    stop() {
      clearInterval(timer);
      clearTimeout(first);
    },
  };
}

/** Rows per statement of the percentile job, and statements per run at most (a run catches up after an upgrade). */
const SEAL_BATCH = 1000;
const SEAL_BATCHES_PER_RUN = 100;

/**
 * Computes the percentiles of finished hours (usage_group_rollups.quantiles) every minute, off the request path, so
 * usageSeries reads them instead of each hour's histograms. Reads are right without it, only slower.
 */
function startQuantileSealing(queries: ReturnType<typeof createUsageQueries>, log: pino.Logger) {
  let running: Promise<void> | undefined;
  let stopped = false;
  const run = () => {
    running ??= (async () => {
      // a stop waits for the batch in progress only, not the rest of the run: the usage writer's last flush is next
      for (let i = 0; i < SEAL_BATCHES_PER_RUN && !stopped && (await queries.sealQuantiles(SEAL_BATCH)) === SEAL_BATCH; i++);
    })()
      .catch((err: unknown) => log.warn({ err }, 'usage rollups: percentiles of finished hours not computed; will retry'))
      .finally(() => (running = undefined));
  };
  // the first run a minute after start too: a start-up is busy enough, and reads are right meanwhile
  const timer = setInterval(run, 60_000);
  timer.unref();
  return {
    async stop(): Promise<void> {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}

/** The part of the stop's grace kept for the last usage flush and the closing (a quarter of shorter graces). */
const FLUSH_RESERVE_MS = 2000;

/**
 * Counts invocations the gateway core started and has not yet recorded (the observer hooks are balanced:
 * one invocationFinished per usage record), so stop() can wait for streams cut by closing websockets.
 */
function trackInvocations(base: GatewayObserver) {
  let active = 0;
  let idle: (() => void) | undefined;
  const observer: GatewayObserver = Object.assign(Object.create(base) as GatewayObserver, {
    invocationStarted(model: string) {
      active++;
      base.invocationStarted?.(model);
    },
    invocationFinished(e: UsageEvent) {
      try {
        base.invocationFinished?.(e);
      } finally {
        if (--active <= 0) {
          active = 0;
          idle?.();
        }
      }
    },
  });
  return {
    observer,
    /** Resolves when every started invocation has recorded its usage (or after `timeoutMs`). */
    settled(timeoutMs: number): Promise<void> {
      if (active <= 0) return Promise.resolve();
      return new Promise((resolve) => {
        const t = setTimeout(resolve, timeoutMs);
        idle = () => {
          clearTimeout(t);
          resolve();
        };
      });
    },
  };
}

export type App = Awaited<ReturnType<typeof createApp>>;

export async function createApp(config: Config, options: AppOptions = {}) {
  const log = createLogger(config.logLevel, options.logDestination);
  const database = await (options.database ?? createDatabase(config.db));
  await database.migrate();
  const db = database.db;
  // today's and the next days' usage partitions before the first record; a failure leaves them to the hourly runs
  await ensureUsagePartitions(db).catch((err: unknown) => log.warn({ err }, 'usage partitions: days not added; will retry'));

  const box = createSecretBox(resolveSecret(config));
  // revoke/rotate/update reach the other instances' key caches at once (Redis pub/sub or LISTEN/NOTIFY)
  const keyInvalidation = createKeyInvalidation({ redisUrl: config.redis?.url, redisPrefix: options.redisPrefix, database, log });
  const keys = createKeyService(db, { cacheTtlMs: config.keyCacheTtlMs, broadcast: keyInvalidation?.publish });
  await keyInvalidation?.start((hash) => keys.invalidate(hash), () => keys.invalidateAll());
  const catalogue = createCatalogueService(db, box, { cacheTtlMs: 2000 });
  const prompts = createPromptService(db);
  const storedResponses = createStoredResponseService(db, { ttlSeconds: config.responses.ttlSeconds });
  const teams = createTeamService(db, keys);
  const guardrailPolicies = createGuardrailPolicyService(db, { cacheTtlMs: 2000, log });
  const usageQueries = createUsageQueries(db);
  const metrics = createMetrics();
  const tracing = await createTracing(config.tracing);
  // with Redis, a record written by any instance reaches subscribers on every instance
  const feedRedis = config.redis ? await connectFeedRedis(config.redis.url) : undefined;
  const feed = createUsageFeed(feedRedis ? createRedisEventTarget({ ...feedRedis, channelPrefix: `${options.redisPrefix ?? 'gw:'}feed:` }) : undefined);
  // model access decisions and budget alerts reach subscribers on every instance, through the same Redis clients
  const teamEvents = createTeamEvents(feedRedis ? createRedisEventTarget({ ...feedRedis, channelPrefix: `${options.redisPrefix ?? 'gw:'}events:` }) : undefined);
  const modelAccess = createModelAccessService(db, { keys, events: teamEvents });
  const webhooks = createWebhookService(db, box, config.webhooks);
  const deliveries = createWebhookDelivery(db, box, log, { ...config.webhooks, sweepMs: options.webhookSweepMs });
  const budgetAlerts = createBudgetAlertService(db, { events: teamEvents, deliveries, log });
  // taken before anything is served: a second process on the same folder fails here, before its first record
  const spool = config.usage.spoolDir ? createUsageSpool({ dir: config.usage.spoolDir, log }) : undefined;
  if (spool) registerSpoolMetrics(metrics.registry, spool);
  const usage = createUsageWriter(db, {
    flushMs: config.usage.flushMs,
    bufferMax: config.usage.bufferMax,
    log,
    onWritten: (events) => feed.publish(events),
    onDropped: (n) => metrics.usageDropped.inc(n),
    copyRows: database.copyRows,
    spool,
  });
  const router = createRouter(options.router);
  const executor = createExecutor({
    router,
    catalogue,
    log,
    onAttemptFailed: (target, err) => metrics.observer.attemptFailed?.(target.provider.name, err.status),
    policy: { maxAttemptsPerModel: 3, maxAttempts: 8, deadlineMs: 120_000, backoffBaseMs: 100, backoffMaxMs: 2000, defaultTimeoutMs: config.defaultTimeoutMs, ...options.policy },
  });
  const limiter =
    options.limiter ??
    (await createLimiter({
      seeder: createDbUsageSeeder(db),
      log,
      redisUrl: config.redis?.url,
      redisPrefix: options.redisPrefix,
      onBudgetSettled: (r) => budgetAlerts.observe(r),
    }));
  const invocations = trackInvocations(options.observer ?? metrics.observer);
  const cache: ResponseCache = {
    exact: await createExactStore(config, log, options.redisPrefix),
    semantic: options.semanticCache,
    settings: createCacheSettingsService(db, { cacheTtlMs: 2000, modelExists: async (name) => (await catalogue.findModel(name)) != null }),
  };
  const gateway = createGateway({
    catalogue,
    adapters: createAdapterRegistry(options.adapters),
    executor,
    limiter,
    usage,
    prompts,
    log,
    observer: invocations.observer,
    steps: options.steps,
    guardrailPolicies,
    cache,
    modelAccess,
    tracing,
    callLog: config.callLog,
  });
  // the semantic half embeds through the gateway (recorded and limited on the caller's key), so it is made after it
  cache.semantic ??= await createSemanticCache({
    db,
    embed: embedThroughGateway(gateway),
    settings: () => cache.settings.get(),
    log,
    maxBytes: config.cache.semanticMaxBytes,
  });
  const purgeBroadcast = createPurgeBroadcast({ redisUrl: config.redis?.url, redisPrefix: options.redisPrefix, log });
  cache.purgeBroadcast = purgeBroadcast;
  await purgeBroadcast?.start((f) => {
    purgeInProcessStores(cache, f).catch((err: unknown) => log.warn({ err }, "cache purge broadcast: purging this instance's stores failed"));
  });

  await catalogue.seed(envProviders(config));
  let bootstrapAdminSecret: string | undefined;
  if (config.adminKey) {
    await keys.ensureAdminSecret(config.adminKey);
  } else if ((await keys.count()) === 0) {
    const created = await keys.create({ name: 'bootstrap admin', scopes: ['ADMIN', 'INVOKE', 'READ_USAGE'] });
    bootstrapAdminSecret = created.secret;
  }

  const limitUsage = createLimitUsageReader(limiter, createDbRecordedUsage(db));
  const services: Services = {
    database,
    keys,
    teams,
    catalogue,
    prompts,
    guardrailPolicies,
    usageQueries,
    callLogs: createCallLogQueries(db),
    limitUsage,
    gateway,
    router,
    feed,
    cache,
    modelAccess,
    webhooks,
    budgetAlerts,
    teamEvents,
    storedResponses,
    log,
    tracing,
  };
  // open subscriptions and websockets by key: a revoked, rotated, expired or narrowed key ends what it has open
  const sessions = createOpenSessions();
  const revalidation = revalidateSessions({ sessions, keys, intervalMs: Math.max(config.keyCacheTtlMs, 250), log });
  const readiness = createReadiness(() => database.ping());
  const yoga = createGatewayYoga(config, services, { metrics, sessions, plugins: options.yogaPlugins, readiness });
  const fastPath = createGraphqlFastPath(yoga, services, DEFAULT_MAX_BODY_BYTES);
  const http = createHttpServer(yoga, createRestHandler(services, { sessions }), { log, metrics, fastPath, drainBounds: options.drainBounds, tracing }, [
    createMetricsRoute(metrics, () => usage.pending(), config.metricsToken),
    createGraphiqlAssetsRoute(),
    createConsoleRoute(),
  ]);
  const ws = attachWebSockets(http.server, yoga, services, { connectionInitWaitTimeout: options.wsInitTimeoutMs, keepAliveMs: config.graphql.wsKeepAliveMs, metrics, sessions });

  const retention = config.usage.retentionDays > 0 ? startRetention(usageQueries, config.usage.retentionDays, log) : undefined;
  const sealing = startQuantileSealing(usageQueries, log);
  const partitionUpkeep = startUsagePartitionUpkeep(db, log);
  const responseSweep = startResponseSweep(storedResponses, log);
  const callLogRetention = startCallLogRetention(db, config.callLog.retentionDays, log);
  // alerts whose webhooks were still being retried when the last run stopped
  deliveries.resumePending().then(
    (n) => n && log.info({ deliveries: n }, 'budget alert webhooks: resuming pending deliveries'),
    (err: unknown) => log.warn({ err }, 'budget alert webhooks: pending deliveries not resumed'),
  );

  let stopping: Promise<void> | undefined;

  return {
    config,
    services,
    metrics,
    usage,
    yoga,
    server: http.server,
    /** Printed once by main when the first start created the admin key. */
    bootstrapAdminSecret,
    url: '',
    async start(port = config.http.port, host = config.http.host): Promise<string> {
      await new Promise<void>((resolve, reject) => {
        http.server.once('error', reject);
        http.server.listen(port, host, () => {
          http.server.off('error', reject);
          resolve();
        });
      });
      const addr = http.server.address() as AddressInfo;
      this.url = `http://${addr.address.includes(':') ? `[${addr.address}]` : addr.address}:${addr.port}`;
      log.info({ url: this.url }, 'gateway listening');
      return this.url;
    },
    /**
     * The graceful stop, all within `graceMs`: /readyz turns 503 at once and the instance keeps serving for
     * `drainDelayMs` (a load balancer notices and stops sending); then the listener closes, websockets are told to
     * reconnect elsewhere (each once its operations have ended), calls and streams in flight finish; only then is
     * usage flushed and everything closed. What still runs near the deadline is cut (and recorded) so the last
     * flush keeps its share of the grace.
     */
    stop(graceMs = 10_000, drainDelayMs = 0): Promise<void> {
      stopping ??= (async () => {
        // one deadline for every wait: an orchestrator's stop timeout (docker's 10 s) must still see the last usage flush
        const deadline = Date.now() + graceMs;
        const left = () => Math.max(0, deadline - Date.now());
        // calls and streams may run until here; the rest of the grace is the last flush's and the closing's
        const streamsUntil = deadline - Math.min(FLUSH_RESERVE_MS, graceMs / 4);
        const streamsLeft = () => Math.max(0, streamsUntil - Date.now());
        readiness.drain();
        if (drainDelayMs > 0) {
          log.info({ drainDelayMs, graceMs }, 'draining: /readyz answers 503; still serving until the load balancer notices');
          await new Promise((resolve) => setTimeout(resolve, Math.min(drainDelayMs, streamsLeft())));
        }
        revalidation.close();
        const { closed } = await http.stopAccepting();
        const wsDrained = ws.drain(streamsUntil);
        // a connection whose answer said `close` is closed by node; one idle since the stop is closed once no request
        // has come for a second (its client may have been writing one when the stop began, on a busy client a while ago)
        await http.quiet(1000, streamsLeft());
        http.server.closeIdleConnections();
        // calls and SSE streams in flight, and requests that arrived meanwhile (on a connection whose answer had gone
        // out before the stop), then the websockets' operations
        await http.drained(streamsLeft());
        await wsDrained;
        // past the streams' deadline: what is left is cut; a stream cut so records its usage (CANCELLED) a moment
        // later, so that is waited for before the last flush
        await ws.dispose(left());
        http.server.closeAllConnections();
        await invocations.settled(left());
        await http.drained(left());
        await closed;
        // http.Server's own close clears its connection-checking timer (the listener is already closed: that error is expected)
        http.server.close(() => {});
        if (retention) clearInterval(retention);
        responseSweep.stop();
        // the housekeeping is told to stop now (no new sweep starts) but waited for only after the last flush: the
        // flush is what the reserve is kept for, and a sweep stuck on a hanging database must not eat it
        const housekeeping = Promise.all([callLogRetention.stop(), sealing.stop(), partitionUpkeep.stop()]);
        // its failure is logged below, once waited for: not an unhandled rejection meanwhile
        housekeeping.catch(() => {});
        await usage.stop(left());
        // every later wait is bounded by the deadline: what has not ended by then is abandoned (the process exits)
        const bounded = (what: string, p: Promise<unknown> | undefined): Promise<unknown> =>
          p ? withTimeout(p, left()).catch((err: unknown) => log.warn({ err, what }, 'stop: failed, or not done by the deadline (left behind)')) : Promise.resolve();
        await bounded('housekeeping', housekeeping);
        // after the usage flush, which ends the last usage-write spans; a collector that is away costs at most the deadline
        await bounded('tracing', tracing?.shutdown(left()));
        await bounded('deliveries', deliveries.stop());
        if (feedRedis) {
          feedRedis.publishClient.disconnect();
          feedRedis.subscribeClient.disconnect();
        }
        await bounded('limiter', limiter.close());
        await bounded('exact cache', cache.exact.close());
        await bounded('key invalidation', keyInvalidation?.close());
        await bounded('purge broadcast', purgeBroadcast?.close());
        await bounded('upstream agent', closeUpstreamAgent());
        // postgres.js waits up to 5 s for queries in flight: on a hanging database, longer than the grace has left
        await bounded('database', database.close());
        log.info('gateway stopped');
      })();
      return stopping;
    },
  };
}
