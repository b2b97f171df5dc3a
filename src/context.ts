/* One context factory for every transport: HTTP, SSE, websockets and the REST routes. */
import type { Logger } from 'pino';
import type { ResponseCache } from './cache/response-cache.js';
import type { Database } from './db/client.js';
import { createLoaders, type Loaders } from './db/loaders.js';
import type { Gateway } from './gateway/gateway.js';
import type { Router } from './gateway/route.js';
import type { UsageFeed } from './gateway/usage-feed.js';
import type { CallLogQueries } from './services/call-logs.js';
import type { BudgetAlertService } from './services/budget-alerts.js';
import type { CatalogueService } from './services/catalogue.js';
import type { KeyService, Principal } from './services/keys.js';
import type { LimitUsageReader } from './services/limit-usage.js';
import type { ModelAccessService } from './services/model-access.js';
import type { PromptService } from './services/prompts.js';
import type { StoredResponseService } from './services/stored-responses.js';
import type { TeamService } from './services/teams.js';
import type { GuardrailPolicyService } from './services/guardrail-policies.js';
import type { TeamEvents } from './services/team-events.js';
import type { UsageQueries } from './services/usage-queries.js';
import type { WebhookService } from './services/webhooks.js';
import type { CancelSignal } from './util/cancellation.js';

/** Everything built once per process. */
export interface Services {
  database: Database;
  keys: KeyService;
  teams: TeamService;
  catalogue: CatalogueService;
  prompts: PromptService;
  guardrailPolicies: GuardrailPolicyService;
  usageQueries: UsageQueries;
  /** Call log reads (Query.invocation, invocations). */
  callLogs: CallLogQueries;
  /** What keys have used of their limits, read from the limiter's counters. */
  limitUsage: LimitUsageReader;
  gateway: Gateway;
  router: Router;
  feed: UsageFeed;
  /** The response cache: its settings and purge, for the API. */
  cache: ResponseCache;
  modelAccess: ModelAccessService;
  webhooks: WebhookService;
  budgetAlerts: BudgetAlertService;
  /** Model access decisions and budget alerts, for the subscriptions. */
  teamEvents: TeamEvents;
  /** Responses kept for GET /v1/responses/{id} and previous_response_id. */
  storedResponses: StoredResponseService;
  log: Logger;
}

export interface Context {
  principal: Principal | null;
  services: Services;
  gateway: Gateway;
  loaders: Loaders;
  /** Aborts when the client goes away (HTTP); undefined on websockets, where ending the iterator cancels. */
  signal?: CancelSignal;
  /** Collected for extensions.warnings (e.g. a deprecated model). */
  warnings: string[];
  /**
   * The model a subscription invokes, set by its resolver when the arguments do not name it (a prompt's model is
   * read from the prompt), so the stream ends when that model leaves the key's allow-list as a chatStream does.
   */
  invokedModel?: string;
  requestId: string;
  log: Logger;
}

export function createContext(args: { services: Services; principal: Principal | null; signal?: CancelSignal; requestId: string }): Context {
  const { services } = args;
  return {
    principal: args.principal,
    services,
    gateway: services.gateway,
    loaders: createLoaders(services),
    signal: args.signal,
    warnings: [],
    requestId: args.requestId,
    log: services.log,
  };
}

export function newLoaders(ctx: Context): Loaders {
  return createLoaders(ctx.services);
}
