/*
 * Step: the response cache. before: the call's cache policy, then an exact lookup and (SEMANTIC) a semantic one; a
 * hit answers the call. after: an upstream answer that finished normally is stored in both.
 *
 * The cache never fails a call: a store that errors (Redis down, say) is logged and treated as a miss, and a store
 * that cannot keep an answer only means the next call asks the upstream again.
 */
import { cacheKeysOf, type CacheKeys } from '../../cache/cache-key.js';
import { effectiveCache, type EffectiveCache } from '../../cache/cache-policy.js';
import type { ResponseCache } from '../../cache/response-cache.js';
import type { CachedAnswer } from '../../cache/types.js';
import type { ChatResponse, FinishReason } from '../../providers/types.js';
import type { Answer, Invocation } from '../invocation.js';
import type { PipelineDeps, Step } from '../pipeline.js';

/** What before() decided, for after() to store under. */
interface Pending {
  policy: EffectiveCache;
  keys: CacheKeys;
  /** The prompt's embedding from the semantic lookup, reused to store. */
  vector?: number[];
}

const pending = new WeakMap<Invocation, Pending>();

// an answer cut by the filter or broken off is not the answer to this question
const CACHEABLE: ReadonlySet<FinishReason> = new Set(['STOP', 'LENGTH', 'TOOL_CALLS']);

export const cache: Step = {
  name: 'cache',
  before(inv, deps) {
    if (inv.input.kind === 'embed' || !deps.cache) return;
    // the common call asks for no cache anywhere: it reads no settings and waits for nothing
    if (!cacheRequested(inv.input.chat.cache?.mode, inv.principal.key.cacheMode, inv.resolved.row.cacheMode)) return;
    return lookup(inv, deps, deps.cache);
  },

  after(inv, deps) {
    const p = pending.get(inv);
    if (!p) return;
    pending.delete(inv);
    return store(inv, deps, p);
  },
};

/** Exact, then (SEMANTIC) semantic: a hit answers the call; a miss leaves what after() needs to store the answer. */
async function lookup(inv: Invocation, deps: PipelineDeps, rc: ResponseCache): Promise<void> {
  const decided = await policyOf(inv, rc, deps);
  if (!decided || decided.policy.mode === 'OFF') return;
  const { policy, semanticOn } = decided;
  const keys = cacheKeysOf(inv.modelName, inv.request!);
  const p: Pending = { policy, keys };
  pending.set(inv, p);

  const found = await rc.exact.get(policy.scope, keys.key, inv.modelName).catch((err: unknown) => {
    deps.log.warn({ err, requestId: inv.options.requestId }, 'cache: exact lookup failed; treated as a miss');
    return null;
  });
  if (found) return hit(inv, deps, found, 'EXACT', 1);

  if (policy.mode === 'SEMANTIC' && semanticOn && rc.semantic && keys.lastUserText) {
    const { principal, requestId } = inv.options;
    // the embedding is part of this call: a child of its invocation span (tracing on), or sent upstream with the
    // caller's traceparent (tracing off)
    const trace = inv.trace ? { context: inv.trace.context } : inv.options.trace;
    const near = await rc.semantic
      .lookup({ scope: policy.scope, contextHash: keys.contextHash, text: keys.lastUserText, principal, requestId, trace })
      .catch((err: unknown) => {
        deps.log.warn({ err, requestId }, 'cache: semantic lookup failed; treated as a miss');
        return null;
      });
    if (near?.hit) return hit(inv, deps, near.hit.entry, 'SEMANTIC', near.hit.similarity);
    p.vector = near?.vector;
  }
  deps.observer.cacheLookup?.('miss');
  inv.options.onCacheLookup?.('MISS');
}

/** An upstream answer that finished normally, stored under the keys lookup() computed. */
async function store(inv: Invocation, deps: PipelineDeps, p: Pending): Promise<void> {
  const answer = inv.answer as Answer<ChatResponse> | undefined;
  if (!deps.cache || !answer || answer.source !== 'upstream' || !CACHEABLE.has(answer.response.finishReason)) return;
  const { policy, keys, vector } = p;
  const entry: CachedAnswer = {
    // a copy: the output guardrails' after runs next and may change the answer in place (restoring redacted values)
    response: structuredClone(answer.response),
    provider: answer.provider,
    upstreamModel: answer.upstreamModel,
    model: inv.modelName,
    storedAt: Date.now(),
  };
  const { exact, semantic } = deps.cache;
  const failed = (what: string) => (err: unknown) => deps.log.warn({ err, requestId: inv.options.requestId }, `cache: ${what} store failed; the answer is not cached`);
  await Promise.all([
    exact.set(policy.scope, keys.key, entry, policy.ttlSeconds).catch(failed('exact')),
    policy.mode === 'SEMANTIC' && semantic && vector?.length
      ? semantic.store({ scope: policy.scope, contextHash: keys.contextHash, vector, entry, ttlSeconds: policy.ttlSeconds }).catch(failed('semantic'))
      : undefined,
  ]);
}

/** The call's policy, and whether semantic lookups are on at all (an embedding model is set). */
async function policyOf(inv: Invocation, rc: ResponseCache, deps: PipelineDeps): Promise<{ policy: EffectiveCache; semanticOn: boolean } | null> {
  if (inv.input.kind === 'embed') return null;
  try {
    const settings = await rc.settings.get();
    return {
      policy: effectiveCache(inv.input.chat.cache, inv.principal.key, inv.resolved.row, settings.defaultTtlSeconds),
      semanticOn: settings.embeddingModel != null,
    };
  } catch (err) {
    deps.log.warn({ err, requestId: inv.options.requestId }, 'cache: settings unreadable; the call skips the cache');
    return null;
  }
}

/**
 * A hit answers the call. The cache stands before the limits step, which a hit skips: it is admitted here as a
 * request that uses no tokens and no budget, so it counts against requestsPerMinute (of the key, its team and the end
 * user) and nothing else refuses it.
 */
async function hit(inv: Invocation, deps: PipelineDeps, entry: CachedAnswer, kind: 'EXACT' | 'SEMANTIC', similarity: number | null): Promise<void> {
  inv.reservation = await deps.limiter.admit({ principal: inv.principal, model: inv.modelName, estimatedTokens: 0, estimatedCostUsd: 0, requestOnly: true, endUser: inv.event.endUser });
  inv.answer = {
    response: entry.response,
    provider: entry.provider,
    upstreamModel: entry.upstreamModel,
    // the saving is valued at the model's prices now
    pricedBy: inv.resolved.prices,
    attempts: 0,
    source: 'cache',
    cacheHit: { kind, similarity },
  };
  deps.observer.cacheLookup?.(kind === 'EXACT' ? 'hit_exact' : 'hit_semantic');
  inv.options.onCacheLookup?.(kind === 'EXACT' ? 'HIT-EXACT' : 'HIT-SEMANTIC');
}

/** Whether the first level that says anything (request, key, model) turns the cache on. */
function cacheRequested(...modes: Array<string | null | undefined>): boolean {
  const mode = modes.find((m) => m != null);
  return mode != null && mode !== 'OFF';
}
