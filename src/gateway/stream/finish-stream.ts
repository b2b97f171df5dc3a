/* Stream, part 4: settle and record however it ended, run the after-steps on a complete answer, send the last chunk. */
import { countMessagesTokens, countTextTokens } from '../../providers/count-tokens.js';
import { isGatewayError } from '../../errors.js';
import type { ChatResponse, Usage } from '../../providers/types.js';
import { isUpstreamError } from '../../providers/types.js';
import { AttemptsCancelled, AttemptsFailed, type AttemptEnd } from '../attempt.js';
import type { Channel } from '../channel.js';
import type { Answer, Invocation } from '../invocation.js';
import { runAfter, type PipelineDeps } from '../pipeline.js';
import type { ChatChunk, UsageOut } from '../results.js';
import { markCancelled, noteAttempts, record } from '../call/record.js';
import { priceUsage, settleStreamed } from '../call/settle.js';
import { lastChunk, streamChunk } from './chunks.js';
import { flushFilters } from './text-filter.js';
import { isTimeout, type StreamEnd } from './classify-end.js';
import type { StreamProgress } from './open-stream.js';

/** Settles and records the stream, then tells the client how it ended: the last chunk with usage, or the error. */
export async function finishStream(inv: Invocation, deps: PipelineDeps, progress: StreamProgress, end: StreamEnd, channel: Channel<ChatChunk>): Promise<void> {
  const { failure, final, target } = progress;
  progress.release?.(end.broke ? (isUpstreamError(failure) ? { retryAfterMs: failure.retryAfterMs, error: failure } : {}) : undefined, attemptEnd(end, failure));
  const promptTokens = final?.usage?.promptTokens ?? countMessagesTokens(inv.request!.messages);
  const completionTokens = final?.usage?.completionTokens ?? countTextTokens(progress.text) + (progress.argsChars ? countTextTokens(progress.argsChars) : 0);
  // the target that answered sets the price; before any did, the model's prices value nothing (settled as 0 below)
  const prices = target?.prices ?? progress.answeredBy.prices;
  const usage = priceUsage(prices, final?.usage ? { ...final.usage, promptTokens, completionTokens } : { promptTokens, completionTokens });
  const exact = Boolean(final?.usage?.exact);
  settleStreamed(inv, Boolean(target), usage, exact);

  const ev = inv.event;
  if (end.kind === 'cancelled') {
    markCancelled(ev);
    // cancelled before the first chunk: name the attempt(s) the client walked away from
    if (failure instanceof AttemptsCancelled) noteAttempts(ev, failure);
    record(inv, deps);
    return channel.end();
  }
  if (end.kind === 'failed') {
    if (failure instanceof AttemptsFailed) noteAttempts(ev, failure);
    ev.status = 'ERROR';
    ev.errorCode = end.error.code;
    record(inv, deps);
    // the client already has partial text: end with a final ERROR chunk, then the error
    if (target) await channel.push(lastChunk(inv, progress.sent, 'ERROR', usage)).catch(() => {});
    return channel.end(end.error);
  }
  const upstreamModel = ev.upstreamModel ?? target!.upstreamModel;
  inv.answer = {
    response: {
      id: inv.id,
      upstreamModel,
      content: progress.text,
      toolCalls: progress.toolCalls.filter(Boolean),
      finishReason: end.finishReason,
      usage: { ...usageParts(usage), promptTokens, completionTokens, totalTokens: promptTokens + completionTokens, exact },
      ...(progress.reasoning.length ? { reasoning: progress.reasoning } : {}),
    },
    provider: target!.provider.name,
    upstreamModel,
    pricedBy: prices,
    attempts: ev.attempts,
    source: 'upstream',
  };
  await closeAnswered(inv, deps, channel, progress.sent, usage);
}

/**
 * How the held attempt ended, for its timeline entry and span: whether or not it counts against the target, a
 * stream that failed upstream (timed out, broke, closed without a finish reason) did not end OK. A step's refusal
 * (an output guardrail) is not the upstream's failure.
 */
function attemptEnd(end: StreamEnd, failure: unknown): AttemptEnd {
  if (end.kind === 'cancelled') return { cancelled: true };
  if (end.kind === 'finished' || (isGatewayError(failure) && !(failure instanceof AttemptsFailed))) return {};
  return { error: isUpstreamError(failure) ? failure : undefined, timeout: isTimeout(failure), failed: true };
}

/**
 * A stream whose whole answer is known (the upstream's, all relayed, or a step's, replayed): the after-steps judge
 * it, then the record and the last chunk. An after-step that refuses ends the stream with its error.
 */
export async function closeAnswered(inv: Invocation, deps: PipelineDeps, channel: Channel<ChatChunk>, index: number, usage: UsageOut): Promise<void> {
  try {
    // the text output filters held back, now that nothing more can complete a match
    const rest = inv.outputFilters.length ? flushFilters(inv) : '';
    if (rest) await channel.push(streamChunk(inv, index++, rest, null));
    const held = inv.guardToolArguments ? heldToolCalls(inv, inv.guardToolArguments) : null;
    if (held) await channel.push(streamChunk(inv, index++, '', held));
    await runAfter(inv, deps);
  } catch (err) {
    return endRefused(inv, deps, channel, index, usage, err);
  }
  record(inv, deps);
  await channel.push(lastChunk(inv, index, (inv.answer as Answer<ChatResponse>).response.finishReason, usage));
  channel.end();
}

/** A step refused the stream (an after-step, or an output filter): recorded with its code, then a final ERROR chunk and the error. */
export async function endRefused(inv: Invocation, deps: PipelineDeps, channel: Channel<ChatChunk>, index: number, usage: UsageOut, err: unknown): Promise<void> {
  // anything but a typed refusal is a bug: the producer's catch logs it and ends the stream
  if (!isGatewayError(err)) throw err;
  inv.event.status = 'ERROR';
  inv.event.errorCode = err.code;
  record(inv, deps);
  await channel.push(lastChunk(inv, index, 'ERROR', usage)).catch(() => {});
  channel.end(err);
}

/** The tool calls a stream held back (Invocation.guardToolArguments), whole, their arguments judged; null when none. */
function heldToolCalls(inv: Invocation, guard: (args: string) => string): ChatChunk['toolCalls'] {
  const calls = (inv.answer as Answer<ChatResponse> | undefined)?.response.toolCalls ?? [];
  if (!calls.length) return null;
  return calls.map((t, i) => ({ index: i, id: t.id, name: t.name, argumentsDelta: guard(t.arguments) }));
}

/** The token kinds the provider reported, as parts of the answer's usage (absent when 0, as adapters report them). */
function usageParts(u: UsageOut): Pick<Usage, 'cachedReadTokens' | 'cacheWriteTokens' | 'reasoningTokens'> {
  const out: Pick<Usage, 'cachedReadTokens' | 'cacheWriteTokens' | 'reasoningTokens'> = {};
  if (u.cachedReadTokens) out.cachedReadTokens = u.cachedReadTokens;
  if (u.cacheWriteTokens) out.cacheWriteTokens = u.cacheWriteTokens;
  if (u.reasoningTokens) out.reasoningTokens = u.reasoningTokens;
  return out;
}
