/* Prometheus metrics (prom-client) with OpenTelemetry GenAI-style names, fed by the gateway's observer hooks. */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { GatewayObserver } from '../gateway/gateway.js';
import type { UsageEvent } from '../gateway/usage-writer.js';
import { HotCounter, HotHistogram } from './hot-metrics.js';
import { createOutcomeMetrics } from './outcome-metrics.js';

export type Metrics = ReturnType<typeof createMetrics>;

/** Failures before the model name was known to be real. */
const UNRESOLVED = new Set(['MODEL_NOT_FOUND', 'BAD_USER_INPUT', 'FORBIDDEN', 'UNAUTHENTICATED']);

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'gateway_process_' });

  const requests = new HotCounter({
    name: 'gateway_invocations_total',
    help: 'Invocations by public model, provider that answered (or last tried) and usage status',
    labelNames: ['model', 'provider', 'status', 'streamed'] as const,
    registry,
  });
  const tokens = new HotCounter({
    name: 'gen_ai_client_token_usage_total',
    help: 'Tokens by model, provider and type (input|output)',
    labelNames: ['model', 'provider', 'type'] as const,
    registry,
  });
  const cost = new HotCounter({
    name: 'gateway_cost_usd_total',
    help: 'Cost in USD by model and provider',
    labelNames: ['model', 'provider'] as const,
    registry,
  });
  const duration = new HotHistogram({
    name: 'gen_ai_client_operation_duration_seconds',
    help: 'Invocation latency, seconds',
    labelNames: ['model', 'provider', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registry,
  });
  const ttft = new HotHistogram({
    name: 'gen_ai_client_operation_time_to_first_chunk_seconds',
    help: 'Time to first streamed chunk, seconds',
    labelNames: ['model'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registry,
  });
  const upstreamErrors = new Counter({
    name: 'gateway_upstream_errors_total',
    help: 'Failed upstream attempts (each retry counts) by provider and HTTP status (none for network errors and timeouts)',
    labelNames: ['provider', 'status'] as const,
    registers: [registry],
  });
  const retries = new Counter({
    name: 'gateway_upstream_retries_total',
    help: 'Attempts beyond the first, by model',
    labelNames: ['model'] as const,
    registers: [registry],
  });
  const inFlight = new Gauge({ name: 'gateway_invocations_in_flight', help: 'Invocations in progress', registers: [registry] });
  const openStreams = new Gauge({ name: 'gateway_open_streams', help: 'chatStream subscriptions and REST streams open', registers: [registry] });
  const usagePending = new Gauge({ name: 'gateway_usage_records_pending', help: 'Usage records waiting to be written', registers: [registry] });
  const usageDropped = new Counter({ name: 'gateway_usage_records_dropped_total', help: 'Usage records dropped because the buffer bound was reached', registers: [registry] });
  const armorRejections = new Counter({
    name: 'gateway_operations_rejected_total',
    help: 'GraphQL operations refused by query hardening, by rule (maxDepth|maxAliases|maxDirectives|maxTokens|costLimit)',
    labelNames: ['rule'] as const,
    registers: [registry],
  });
  const subscriptionsOpen = new Gauge({
    name: 'gateway_subscriptions_open',
    help: 'GraphQL subscriptions open, by field and transport (ws|sse)',
    labelNames: ['field', 'transport'] as const,
    registers: [registry],
  });
  const subscriptionsRefused = new Counter({
    name: 'gateway_subscriptions_refused_total',
    help: 'Subscriptions refused because the key already had MAX_SUBSCRIPTIONS_PER_KEY open',
    labelNames: ['field'] as const,
    registers: [registry],
  });
  const httpRequests = new HotCounter({
    name: 'gateway_http_requests_total',
    help: 'HTTP requests by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registry,
  });
  const httpDuration = new HotHistogram({
    name: 'gateway_http_request_duration_seconds',
    help: 'HTTP request duration (for streams: until the response ended), seconds',
    labelNames: ['route', 'method'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registry,
  });
  const cacheLookups = new Counter({
    name: 'gateway_cache_lookups_total',
    help: 'Response cache lookups (calls whose cache mode was not OFF) by result (hit_exact|hit_semantic|miss)',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const outcomes = createOutcomeMetrics(registry);
  const wsConnections = new Gauge({ name: 'gateway_websocket_connections_open', help: 'graphql-ws connections open', registers: [registry] });

  const observer: GatewayObserver = {
    invocationStarted() {
      inFlight.inc();
    },
    invocationFinished(e: UsageEvent) {
      inFlight.dec();
      const provider = e.provider ?? 'none';
      // a caller may send any model name: names that never resolved must not become label values
      if (e.errorCode && UNRESOLVED.has(e.errorCode)) e = { ...e, model: '(unresolved)' };
      requests.inc([e.model, provider, e.status, e.streamed ? 'true' : 'false']);
      // a hit's tokens were not sent upstream again: gateway_cache_hits_total and the cost saved count hits
      if (!e.cacheHit) {
        if (e.promptTokens) tokens.inc([e.model, provider, 'input'], e.promptTokens);
        if (e.completionTokens) tokens.inc([e.model, provider, 'output'], e.completionTokens);
      }
      if (e.costUsd) cost.inc([e.model, provider], e.costUsd);
      duration.observe([e.model, provider, e.status], e.latencyMs / 1000);
      if (e.attempts > 1) retries.inc({ model: e.model }, e.attempts - 1);
      outcomes.invocationFinished(e);
    },
    attemptFailed(provider, status) {
      upstreamErrors.inc({ provider, status: status === undefined ? 'none' : String(status) });
    },
    firstToken(model, ms) {
      ttft.observe([model], ms / 1000);
    },
    streamOpened() {
      openStreams.inc();
    },
    streamClosed() {
      openStreams.dec();
    },
    cacheLookup(result) {
      cacheLookups.inc({ result });
    },
  };

  return {
    registry,
    observer,
    usagePending,
    usageDropped,
    armorRejections,
    subscriptionsOpen,
    subscriptionsRefused,
    wsConnections,
    /** One completed HTTP request; `route` must come from a fixed set (label cardinality). */
    httpRequest(route: string, method: string, status: number, seconds: number): void {
      httpRequests.inc([route, method, String(status)]);
      httpDuration.observe([route, method], seconds);
    },
    async render(pendingUsage: number): Promise<string> {
      usagePending.set(pendingUsage);
      return registry.metrics();
    },
  };
}
