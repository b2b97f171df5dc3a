/*
 * The invocation pipeline: the ordered steps every call goes through before the upstream is called, for GraphQL, REST,
 * prompts and embeddings alike. A check that may refuse a call before any upstream is asked (input guardrails, say) is
 * one file in steps/ and one line in BEFORE_CALL; a step that answers instead of the upstream (a cache hit) or acts on
 * the answer (output guardrails, cache store) still needs its place around the call in gateway.ts and
 * stream/create-stream.ts. No step knows which surface the call came from.
 *
 *   authorize → read input → resolve model → reserve limits → [call upstream | open stream → relay → classify end]
 *   → settle → record
 */
import type { Logger } from 'pino';
import type { AdapterRegistry } from '../providers/registry.js';
import type { CatalogueService } from '../services/catalogue.js';
import type { Executor } from './attempt.js';
import type { InputBounds } from './chat-input.js';
import type { Invocation } from './invocation.js';
import type { Limiter } from './limits.js';
import type { UsageEvent, UsageWriter } from './usage-writer.js';
import { authorize } from './steps/authorize.js';
import { readInput } from './steps/read-input.js';
import { resolveModel } from './steps/resolve-model.js';
import { reserveLimits } from './steps/reserve-limits.js';

/** Hooks for metrics; all optional. */
export interface GatewayObserver {
  invocationStarted?(model: string): void;
  invocationFinished?(e: UsageEvent): void;
  attemptFailed?(provider: string, status: number | undefined): void;
  firstToken?(model: string, ms: number): void;
  streamOpened?(): void;
  streamClosed?(): void;
}

/** What the steps share: built once by createGateway. */
export interface PipelineDeps {
  catalogue: CatalogueService;
  adapters: AdapterRegistry;
  executor: Executor;
  limiter: Limiter;
  usage: UsageWriter;
  log: Logger;
  bounds: InputBounds;
  /** Completion tokens reserved when the caller gives no maxTokens. */
  reserveTokens: number;
  observer: GatewayObserver;
}

export interface Step {
  readonly name: string;
  run(inv: Invocation, deps: PipelineDeps): void | Promise<void>;
}

/** Everything that can refuse a call before any upstream is asked, in order. */
export const BEFORE_CALL: readonly Step[] = [authorize, readInput, resolveModel, reserveLimits];

export async function runSteps(steps: readonly Step[], inv: Invocation, deps: PipelineDeps): Promise<void> {
  for (const step of steps) await step.run(inv, deps);
}
