/* The gateway core: chat, stream, embed and prompts, each one Invocation through the pipeline (pipeline.ts). */
import type { Logger } from 'pino';
import type { AdapterRegistry } from '../providers/registry.js';
import type { CatalogueService } from '../services/catalogue.js';
import type { PromptService } from '../services/prompts.js';
import type { Principal } from '../services/keys.js';
import { requireInvoke } from '../services/access.js';
import type { Executor } from './attempt.js';
import { type ChatInput, DEFAULT_INPUT_BOUNDS, type InputBounds } from './chat-input.js';
import { type EmbedInput, Invocation, type InvocationOptions } from './invocation.js';
import type { Limiter } from './limits.js';
import { BEFORE_CALL, type GatewayObserver, type PipelineDeps, runSteps } from './pipeline.js';
import type { ChatChunk, ChatResult, EmbedResult } from './results.js';
import { callUpstream, chatCall, embedCall } from './steps/call-upstream.js';
import { recordFailure, record } from './steps/record.js';
import { settleAnswer } from './steps/settle.js';
import { createStream } from './stream/create-stream.js';
import { preparePrompt, type PromptRef } from './prepare-prompt.js';
import type { UsageWriter } from './usage-writer.js';

export type { ChatChunk, ChatResult, EmbedResult, UsageOut } from './results.js';
export type { InvocationOptions } from './invocation.js';
export type { GatewayObserver } from './pipeline.js';
export type { PromptRef } from './prepare-prompt.js';

export interface GatewayDeps {
  catalogue: CatalogueService;
  adapters: AdapterRegistry;
  executor: Executor;
  limiter: Limiter;
  usage: UsageWriter;
  prompts: PromptService;
  log: Logger;
  inputBounds?: InputBounds;
  observer?: GatewayObserver;
  /** Completion tokens reserved when the caller gives no maxTokens. @default 1024 */
  defaultReserveTokens?: number;
}


export type Gateway = ReturnType<typeof createGateway>;

export function createGateway(deps: GatewayDeps) {
  const p: PipelineDeps = {
    catalogue: deps.catalogue,
    adapters: deps.adapters,
    executor: deps.executor,
    limiter: deps.limiter,
    usage: deps.usage,
    log: deps.log,
    bounds: deps.inputBounds ?? DEFAULT_INPUT_BOUNDS,
    reserveTokens: deps.defaultReserveTokens ?? 1024,
    observer: deps.observer ?? {},
  };

  async function begin(inv: Invocation): Promise<void> {
    p.observer.invocationStarted?.(inv.modelName);
    await runSteps(BEFORE_CALL, inv, p);
  }

  async function chat(input: ChatInput, opts: InvocationOptions): Promise<ChatResult> {
    const inv = new Invocation({ kind: 'chat', chat: input }, opts);
    try {
      await begin(inv);
      const outcome = await callUpstream(inv, p, chatCall(inv, p));
      const res = outcome.value;
      const usage = settleAnswer(inv, outcome, res);
      record(inv, p);
      return {
        id: inv.id,
        model: inv.modelName,
        provider: outcome.target.provider.name,
        upstreamModel: inv.event.upstreamModel!,
        message: { role: 'ASSISTANT', content: res.content, toolCalls: res.toolCalls },
        finishReason: res.finishReason,
        usage,
        latencyMs: inv.event.latencyMs,
        attempts: outcome.attempts,
      };
    } catch (err) {
      return recordFailure(inv, err, p);
    }
  }

  /** Everything that can fail before streaming fails here, as a plain error; then the stream's channel. */
  async function stream(input: ChatInput, opts: InvocationOptions): Promise<AsyncIterable<ChatChunk>> {
    const inv = new Invocation({ kind: 'stream', chat: input }, opts);
    try {
      await begin(inv);
    } catch (err) {
      return recordFailure(inv, err, p);
    }
    return createStream(inv, p);
  }

  async function embed(input: EmbedInput, opts: InvocationOptions): Promise<EmbedResult> {
    const inv = new Invocation({ kind: 'embed', embed: input }, opts);
    try {
      await begin(inv);
      const outcome = await callUpstream(inv, p, embedCall(inv, p));
      const usage = settleAnswer(inv, outcome, outcome.value);
      record(inv, p);
      return { model: inv.modelName, provider: outcome.target.provider.name, vectors: outcome.value.vectors, usage };
    } catch (err) {
      return recordFailure(inv, err, p);
    }
  }

  return {
    chat,
    stream,
    embed,
    preparePrompt: (ref: PromptRef, opts: InvocationOptions) => preparePrompt(deps.prompts, ref, opts),
    async runPrompt(ref: PromptRef, opts: InvocationOptions): Promise<ChatResult> {
      const prepared = await preparePrompt(deps.prompts, ref, opts);
      return chat(prepared.input, prepared.opts);
    },
    /** The INVOKE rule, for surfaces that check it before reading the request (REST prompts). */
    requireInvoke: (principal: Principal) => requireInvoke(principal),
  };
}
