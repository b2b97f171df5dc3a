/* The call: route and call for a unary answer (chat, embed): the executor's attempts, retries and fallbacks over the model's targets. */
import { fallbackAccess } from '../fallback-access.js';
import type { ChatResponse, EmbedResponse, ProviderAdapter, CallOptions, UpstreamObserver } from '../../providers/types.js';
import { UpstreamError } from '../../providers/types.js';
import type { AdapterRegistry } from '../../providers/registry.js';
import type { ResolvedTarget } from '../../services/catalogue.js';
import { NEVER, type CancelSignal } from '../../util/cancellation.js';
import type { AttemptContext, AttemptOutcome } from '../attempt.js';
import { withModel } from '../chat-input.js';
import { embedTexts } from '../embed-texts.js';
import type { Answer, Invocation } from '../invocation.js';
import type { PipelineDeps } from '../pipeline.js';

export function adapterFor(adapters: AdapterRegistry, target: ResolvedTarget): ProviderAdapter {
  const a = adapters[target.provider.kind];
  if (!a) throw new UpstreamError({ provider: target.provider.name, message: `no adapter for provider kind ${target.provider.kind}`, retryable: true });
  return a;
}

export function callOptions(target: ResolvedTarget, signal: CancelSignal, timeoutMs: number, observe?: UpstreamObserver): CallOptions {
  return { signal, timeoutMs, baseUrl: target.provider.baseUrl, apiKey: target.provider.apiKey, settings: target.provider.settings, observe };
}

/** What the attempts produced, as the invocation's answer. */
export function upstreamAnswer<R extends ChatResponse | EmbedResponse>(outcome: AttemptOutcome<R>): Answer<R> {
  return {
    response: outcome.value,
    provider: outcome.target.provider.name,
    upstreamModel: outcome.value.upstreamModel || outcome.target.upstreamModel,
    pricedBy: outcome.target.prices,
    attempts: outcome.attempts,
    source: 'upstream',
  };
}

/** Runs the attempts; a failure releases the reservation (nothing was used). */
export async function callUpstream<T>(inv: Invocation, deps: PipelineDeps, call: (a: AttemptContext) => Promise<T>): Promise<AttemptOutcome<T>> {
  try {
    return await deps.executor.run(inv.resolved, inv.options.signal ?? NEVER, call, { requestId: inv.options.requestId, invocationId: inv.id, fallbackAllowed: fallbackAccess(inv), observer: inv.attemptObserver });
  } catch (err) {
    inv.settle(0, 0);
    throw err;
  }
}

export function chatCall(inv: Invocation, { adapters }: PipelineDeps): (a: AttemptContext) => Promise<ChatResponse> {
  const req = inv.request!;
  return ({ target, signal, timeoutMs, observe }) => adapterFor(adapters, target).chat(withModel(req, target.upstreamModel), callOptions(target, signal, timeoutMs, observe));
}

export function embedCall(inv: Invocation, { adapters }: PipelineDeps): (a: AttemptContext) => Promise<EmbedResponse> {
  const input = embedTexts(inv);
  return async ({ target, signal, timeoutMs, observe }) => {
    const a = adapterFor(adapters, target);
    if (!a.embed) throw new UpstreamError({ provider: target.provider.name, message: `${target.provider.kind} providers do not support embeddings`, retryable: false });
    return a.embed({ model: target.upstreamModel, input }, callOptions(target, signal, timeoutMs, observe));
  };
}
