/* What the response cache keeps and the contract of its semantic part: shared by the cache step and the stores. */
import type { ChatResponse } from '../providers/types.js';
import type { Principal } from '../services/keys.js';
import type { RequestTrace } from '../telemetry/request-trace.js';

/** One cached answer: enough to answer a later call as the upstream did, and to price what the hit saved. */
export interface CachedAnswer {
  response: ChatResponse;
  provider: string;
  upstreamModel: string;
  /** The public model the answer was asked of (its prices value the saving). */
  model: string;
  /** Epoch ms. */
  storedAt: number;
}

/** Where a cached answer may be found again: `key:<apiKeyId>` or `global` (`team:<id>` once teams exist). */
export type CacheScopeKey = string;

/**
 * The semantic half: a hit when a stored prompt in the same scope and context (everything but the last user
 * message, hashed) is close enough to this one. The embedding call goes through the gateway on the caller's key,
 * so it is recorded and limited like any other.
 */
export interface SemanticCache {
  readonly index: 'pgvector' | 'usearch';
  lookup(q: {
    scope: CacheScopeKey;
    contextHash: string;
    text: string;
    principal: Principal;
    /** On log lines only. */
    requestId?: string;
    /** The calling invocation's trace: the embedding is made in it. */
    trace?: RequestTrace;
  }): Promise<{
    /** The prompt's embedding, for store() to reuse. */
    vector: number[];
    hit: { entry: CachedAnswer; similarity: number } | null;
  }>;
  store(e: { scope: CacheScopeKey; contextHash: string; vector: number[]; entry: CachedAnswer; ttlSeconds: number }): Promise<void>;
  /** Removes entries of a scope and/or model (both undefined: all); returns how many. */
  purge(f: { scope?: CacheScopeKey; model?: string }): Promise<number>;
}
