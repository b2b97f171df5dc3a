/*
 * A streamed invocation after its checks passed: open → relay → classify end → settle → record, fed into a Channel
 * the subscription (or REST SSE) reads. Ending the channel aborts the upstream request at once.
 */
import { GatewayError } from '../../errors.js';
import { countMessagesTokens, countTextTokens } from '../../providers/count-tokens.js';
import { isUpstreamError } from '../../providers/types.js';
import { Cancellation } from '../../util/cancellation.js';
import { AttemptsCancelled, AttemptsFailed } from '../attempt.js';
import { Channel } from '../channel.js';
import type { Invocation } from '../invocation.js';
import type { PipelineDeps } from '../pipeline.js';
import type { ChatChunk } from '../results.js';
import { markCancelled, noteAttempts, record } from '../steps/record.js';
import { priceUsage, settleStreamed } from '../steps/settle.js';
import { type StreamEnd, classifyEnd, isTimeout } from './classify-end.js';
import { openStream, type StreamProgress } from './open-stream.js';
import { relayStream } from './relay-stream.js';

export function createStream(inv: Invocation, deps: PipelineDeps): Channel<ChatChunk> {
  const { observer, log } = deps;
  // ended before its first read: the producer never runs, so settle and record here
  const cancelBeforeStart = (): void => {
    inv.settle(0, 0);
    markCancelled(inv.event);
    inv.event.latencyMs = inv.elapsedMs();
    record(inv, deps);
  };
  const progress: StreamProgress = { answeredBy: inv.resolved, text: '', argsChars: '', sent: 0 };
  // a bug in the producer must end this stream with an error, never surface as an unhandled rejection, and still
  // release the reservation and the target and leave its usage record (each is a no-op when already done)
  const start = (): void =>
    void produce().catch((err: unknown) => {
      log.error({ err }, 'stream failed unexpectedly');
      progress.release?.();
      inv.settle(0, 0);
      Object.assign(inv.event, { status: 'ERROR', errorCode: 'INTERNAL', latencyMs: inv.elapsedMs() });
      record(inv, deps);
      channel.end(new GatewayError('UPSTREAM_ERROR', 'The stream failed unexpectedly', { provider: null }));
    });
  const channel: Channel<ChatChunk> = new Channel<ChatChunk>(start, cancelBeforeStart);
  const push = (c: ChatChunk) => channel.push(c);

  const produce = async (): Promise<void> => {
    observer.streamOpened?.();
    void channel.closed.then(() => observer.streamClosed?.());
    const ac = new Cancellation();
    const outer = inv.options.signal;
    const onOuterAbort = () => ac.abort();
    outer?.addEventListener('abort', onOuterAbort, { once: true });
    void channel.closed.then(() => ac.abort());

    try {
      const opened = await openStream(inv, deps, ac, progress);
      await relayStream(opened, inv, deps, ac, push, progress);
    } catch (err) {
      // a stall may surface as the adapter's own abort error: it is still a timeout
      progress.failure = isTimeout(ac.signal.reason) && !isTimeout(err) ? ac.signal.reason : err;
    } finally {
      outer?.removeEventListener('abort', onOuterAbort);
    }

    await finishStream(inv, deps, progress, classifyEnd(progress, ac.signal, log), channel);
  };
  return channel;
}

/** Settles and records the stream, then tells the client how it ended: the last chunk with usage, or the error. */
async function finishStream(inv: Invocation, deps: PipelineDeps, progress: StreamProgress, end: StreamEnd, channel: Channel<ChatChunk>): Promise<void> {
  const { failure, final, target } = progress;
  progress.release?.(end.broke ? { retryAfterMs: isUpstreamError(failure) ? failure.retryAfterMs : undefined } : undefined);
  const promptTokens = final?.usage?.promptTokens ?? countMessagesTokens(inv.request!.messages);
  const completionTokens = final?.usage?.completionTokens ?? countTextTokens(progress.text) + (progress.argsChars ? countTextTokens(progress.argsChars) : 0);
  const usage = priceUsage(progress.answeredBy, promptTokens, completionTokens);
  settleStreamed(inv, Boolean(target), usage, Boolean(final?.usage?.exact));

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
  record(inv, deps);
  await channel.push(lastChunk(inv, progress.sent, end.finishReason, usage));
  channel.end();
}

function lastChunk(inv: Invocation, index: number, finishReason: ChatChunk['finishReason'], usage: ChatChunk['usage']): ChatChunk {
  return { invocationId: inv.id, index, model: inv.modelName, delta: '', toolCalls: null, finishReason, usage };
}
