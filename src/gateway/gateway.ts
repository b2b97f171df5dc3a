/* The gateway core: chat, stream, embed and prompts, each one Invocation through the pipeline (pipeline.ts). */
import type { Logger } from 'pino';
import type { ResponseCache } from '../cache/response-cache.js';
import type { AdapterRegistry } from '../providers/registry.js';
import type { CatalogueService } from '../services/catalogue.js';
import type { PromptService } from '../services/prompts.js';
import type { Principal } from '../services/keys.js';
import { requireInvoke } from '../services/access.js';
import type { Executor } from './attempt.js';
import { type ChatInput, DEFAULT_INPUT_BOUNDS, type InputBounds } from './chat-input.js';
import { type Answer, type EmbedInput, Invocation, type InvocationOptions } from './invocation.js';
import type { Limiter } from './limits.js';
import { type GatewayObserver, PIPELINE, type PipelineDeps, runAfter, runBefore, type Step } from './pipeline.js';
import type { ChatResponse, EmbedResponse } from '../providers/types.js';
import type { ChatChunk, ChatResult, EmbedResult, UsageOut } from './results.js';
import { callUpstream, chatCall, embedCall, upstreamAnswer } from './call/call-upstream.js';
import { recordFailure, record } from './call/record.js';
import { settleAnswer } from './call/settle.js';
import { createStream } from './stream/create-stream.js';
import { preparePrompt, type PromptRef } from './prepare-prompt.js';
import type { UsageWriter } from './usage-writer.js';

export type { ChatChunk, ChatResult, EmbedResult, UsageOut } from './results.js';
export type { InvocationOptions } from './invocation.js';
export type { GatewayObserver, Step } from './pipeline.js';
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
  /** The invocation's steps. @default PIPELINE */
  steps?: readonly Step[];
  /** The guardrail policies keys and models name; without it none apply. */
  guardrailPolicies?: PipelineDeps['guardrailPolicies'];
  /** The response cache; none: every call goes upstream. */
  cache?: ResponseCache;
  /** Teams' model access requests (the refusal of a model that requires approval says where its request stands). */
  modelAccess?: PipelineDeps['modelAccess'];
  /** The call log's limits (config.callLog). */
  callLog?: PipelineDeps['callLog'];
}

export type Gateway = ReturnType<typeof createGateway>;

function chatResult(inv: Invocation, answer: Answer<ChatResponse>, usage: UsageOut): ChatResult {
  const res = answer.response;
  return {
    id: inv.id,
    model: inv.modelName,
    provider: answer.provider,
    upstreamModel: answer.upstreamModel,
    message: res.reasoning?.length
      ? { role: 'ASSISTANT', content: res.content, toolCalls: res.toolCalls, reasoning: res.reasoning }
      : { role: 'ASSISTANT', content: res.content, toolCalls: res.toolCalls },
    finishReason: res.finishReason,
    usage,
    latencyMs: inv.event.latencyMs,
    attempts: answer.attempts,
  };
}

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
    steps: deps.steps ?? PIPELINE,
    guardrailPolicies: deps.guardrailPolicies,
    cache: deps.cache,
    modelAccess: deps.modelAccess,
    callLog: deps.callLog,
  };

  async function begin(inv: Invocation): Promise<void> {
    p.observer.invocationStarted?.(inv.modelName);
    await runBefore(inv, p);
  }

  /** A unary call: the steps before, the upstream unless a step answered, the steps after, then settle and record. */
  async function unary<R extends ChatResponse | EmbedResponse>(inv: Invocation, call: () => Promise<Answer<R>>): Promise<{ answer: Answer<R>; usage: UsageOut }> {
    try {
      await begin(inv);
      const answered = (inv.answer ??= await call());
      try {
        await runAfter(inv, p);
      } catch (err) {
        // a refused answer was still produced: what it used is charged, not refunded
        settleAnswer(inv, answered);
        throw err;
      }
      // settled by the answer as the after-steps left it
      const usage = settleAnswer(inv, inv.answer);
      record(inv, p);
      return { answer: inv.answer as Answer<R>, usage };
    } catch (err) {
      return recordFailure(inv, err, p);
    }
  }

  async function chat(input: ChatInput, opts: InvocationOptions): Promise<ChatResult> {
    const inv = new Invocation({ kind: 'chat', chat: input }, opts);
    const { answer, usage } = await unary<ChatResponse>(inv, async () => upstreamAnswer(await callUpstream(inv, p, chatCall(inv, p))));
    return chatResult(inv, answer, usage);
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
    const { answer, usage } = await unary<EmbedResponse>(inv, async () => upstreamAnswer(await callUpstream(inv, p, embedCall(inv, p))));
    return { model: inv.modelName, provider: answer.provider, vectors: answer.response.vectors, usage };
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
    /** A stored prompt, filled on the server as runPrompt fills it, streamed as chatStream streams. */
    /** The prompt's model (read from the stored prompt) with its stream. */
    async streamPrompt(ref: PromptRef, opts: InvocationOptions): Promise<{ model: string; chunks: AsyncIterable<ChatChunk> }> {
      const prepared = await preparePrompt(deps.prompts, ref, opts);
      return { model: prepared.input.model, chunks: await stream(prepared.input, prepared.opts) };
    },
    /** The INVOKE rule, for surfaces that check it before reading the request (REST prompts). */
    requireInvoke: (principal: Principal) => requireInvoke(principal),
  };
}
