/*
 * The invocation pipeline: the ordered steps every call goes through, for GraphQL, REST, prompts and embeddings alike.
 * A step is one file in steps/ and one line in PIPELINE; no step knows which surface the call came from.
 *
 *   before, in order:   authorize → read input → resolve model → call log → guardrails (input) → cache lookup → reserve limits
 *   the call:           unless a step answered: call upstream | open stream → relay (output filters) → classify end
 *   after, in reverse:  output schemas → cache store → guardrails (output) on the complete answer
 *   then:               settle → record
 *
 * A step's `before` may refuse the call (throw) or answer it (set `inv.answer`: the steps after it and the upstream
 * are skipped, a stream replays the answer as chunks). Its `after` sees the complete answer, the upstream's or a
 * step's, and may replace it (a streamed answer has already been sent by then: it can be stored or judged, not
 * changed) or refuse it (throw). Only the steps whose `before` ran get their `after`.
 */
import type { Logger } from 'pino';
import type { ResponseCache } from '../cache/response-cache.js';
import type { AdapterRegistry } from '../providers/registry.js';
import type { CatalogueService } from '../services/catalogue.js';
import type { GuardrailPolicyService } from '../services/guardrail-policies.js';
import type { ModelAccessService } from '../services/model-access.js';
import type { Executor } from './attempt.js';
import type { InputBounds } from './chat-input.js';
import type { Invocation } from './invocation.js';
import type { Limiter } from './limits.js';
import type { UsageEvent, UsageWriter } from './usage-writer.js';
import { authorize } from './steps/authorize.js';
import { readInput } from './steps/read-input.js';
import { resolveModel } from './steps/resolve-model.js';
import { callLog } from './steps/call-log.js';
import { reserveLimits } from './steps/reserve-limits.js';
import { guardrails } from './steps/guardrails.js';
import { cache } from './steps/cache.js';
import { outputSchema } from './steps/output-schema.js';

/** Hooks for metrics; all optional. */
export interface GatewayObserver {
  invocationStarted?(model: string): void;
  invocationFinished?(e: UsageEvent): void;
  attemptFailed?(provider: string, status: number | undefined): void;
  firstToken?(model: string, ms: number): void;
  streamOpened?(): void;
  streamClosed?(): void;
  /** The response cache was consulted for a call (its mode was not OFF). */
  cacheLookup?(result: 'hit_exact' | 'hit_semantic' | 'miss'): void;
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
  /** The compiled guardrail policies by id (the guardrails step); absent: no policies apply. */
  guardrailPolicies?: Pick<GuardrailPolicyService, 'compiledByIds'>;
  /** The response cache; without it every call goes upstream. */
  cache?: ResponseCache;
  /** Teams' model access requests, read to say why a model that requires approval is refused. */
  modelAccess?: Pick<ModelAccessService, 'statusOf'>;
  /** The step list this gateway runs: PIPELINE unless an embedder (or a test) gives its own. */
  steps: readonly Step[];
  /** The call log's limits (CALL_LOG_*); absent: the defaults. */
  callLog?: { maxBodyBytes: number };
}

export interface Step {
  readonly name: string;
  /** Before the upstream is asked: may refuse the call (throw) or answer it instead (set `inv.answer`). */
  before?(inv: Invocation, deps: PipelineDeps): void | Promise<void>;
  /** Once the whole answer is known, before it is settled and recorded: may read or replace `inv.answer`, or refuse it. */
  after?(inv: Invocation, deps: PipelineDeps): void | Promise<void>;
}

/** Every step of an invocation, in order. */
// guardrails first: a refused input reserves nothing, and the cache is looked up with the input as they left it
// (redacted); the cache before the limits: a hit skips them, admitted by the cache step as a request that uses no
// tokens or budget; the output schemas last: they judge (and may ask again for) an answer before it is stored
// the call log right after the model is known: every call that gets that far is logged, refused or not
export const PIPELINE: readonly Step[] = [authorize, readInput, resolveModel, callLog, guardrails, cache, reserveLimits, outputSchema];

/**
 * Each step's `before` in order, until one answers; remembers which ran. Only a hook that returned a promise is
 * awaited: most steps, on most calls, decide at once, and every call pays for each await on its path.
 */
export async function runBefore(inv: Invocation, deps: PipelineDeps): Promise<void> {
  const { steps } = deps;
  for (let i = 0; i < steps.length; i++) {
    const pending = steps[i]!.before?.(inv, deps);
    if (pending) await pending;
    if (inv.answer) {
      inv.stepsRun = steps.slice(0, i + 1);
      return;
    }
  }
  inv.stepsRun = steps;
}

/** The `after` of every step whose `before` ran, last first. */
export async function runAfter(inv: Invocation, deps: PipelineDeps): Promise<void> {
  const ran = inv.stepsRun;
  for (let i = ran.length - 1; i >= 0; i--) {
    const pending = ran[i]!.after?.(inv, deps);
    if (pending) await pending;
  }
}
