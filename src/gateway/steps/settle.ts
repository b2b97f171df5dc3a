/* Step: the reservation settled to what the call really used, and the usage event filled; priced by the model that answered. */
import type { ResolvedModel, ResolvedTarget } from '../../services/catalogue.js';
import type { Usage } from '../../providers/types.js';
import { costUsd } from '../pricing.js';
import type { Invocation } from '../invocation.js';
import type { UsageOut } from '../results.js';

export function priceUsage(model: ResolvedModel, promptTokens: number, completionTokens: number): UsageOut {
  return { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens, costUsd: costUsd(model.row, promptTokens, completionTokens) };
}

/** A unary answer (chat, embed). A fallback may cost more or less than the model asked for. */
export function settleAnswer(
  inv: Invocation,
  outcome: { target: ResolvedTarget; model: ResolvedModel; attempts: number },
  answer: { usage: Usage; upstreamModel: string },
): UsageOut {
  const usage = priceUsage(outcome.model, answer.usage.promptTokens, answer.usage.completionTokens);
  inv.settle(usage.totalTokens, usage.costUsd);
  const ev = inv.event;
  ev.provider = outcome.target.provider.name;
  ev.upstreamModel = answer.upstreamModel || outcome.target.upstreamModel;
  ev.promptTokens = usage.promptTokens;
  ev.completionTokens = usage.completionTokens;
  ev.costUsd = usage.costUsd;
  ev.latencyMs = inv.elapsedMs();
  ev.attempts = outcome.attempts;
  ev.usageExact = answer.usage.exact;
  return usage;
}

/** A stream, however it ended: what was relayed counts when a target answered, nothing otherwise. */
export function settleStreamed(inv: Invocation, answered: boolean, usage: UsageOut, exact: boolean): void {
  inv.settle(answered ? usage.totalTokens : 0, answered ? usage.costUsd : 0);
  const ev = inv.event;
  ev.latencyMs = inv.elapsedMs();
  ev.promptTokens = answered ? usage.promptTokens : 0;
  ev.completionTokens = answered ? usage.completionTokens : 0;
  ev.costUsd = answered ? usage.costUsd : 0;
  ev.usageExact = exact;
}
