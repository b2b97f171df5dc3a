/*
 * What the response cache and the guardrails did to finished invocations, counted from their usage events: the same
 * facts the usage records keep, as Prometheus series. Label values come from the events' fixed enums (lower-cased,
 * as Prometheus label values usually are), never from what a caller sent.
 */
import type { Registry } from 'prom-client';
import type { UsageEvent } from '../gateway/usage-writer.js';
import { HotCounter } from './hot-metrics.js';

export function createOutcomeMetrics(registry: Registry) {
  const guardrailActions = new HotCounter({
    name: 'gateway_guardrail_actions_total',
    help: 'Guardrail rule actions by stage (input|output), rule (pii|deny_list|input_tokens|json_schema) and action (redacted|blocked|restored|retried)',
    labelNames: ['stage', 'rule', 'action'] as const,
    registry,
  });
  const cacheHits = new HotCounter({
    name: 'gateway_cache_hits_total',
    help: 'Invocations the response cache answered, by kind (exact|semantic)',
    labelNames: ['kind'] as const,
    registry,
  });
  const costSaved = new HotCounter({
    name: 'gateway_cost_saved_usd_total',
    help: 'What the cache hits would have cost upstream, USD',
    labelNames: [] as const,
    registry,
  });

  return {
    invocationFinished(e: UsageEvent): void {
      if (e.cacheHit) cacheHits.inc([e.cacheHit.toLowerCase()]);
      if (e.costSavedUsd) costSaved.inc([], e.costSavedUsd);
      for (const g of e.guardrails ?? []) guardrailActions.inc([g.stage.toLowerCase(), g.rule.toLowerCase(), g.action.toLowerCase()]);
    },
  };
}
