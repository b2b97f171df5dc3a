/*
 * A streamed invocation after its steps' `before`s passed: open → relay → classify end → finish (after-steps, settle,
 * record), or the replay of a step's answer, fed into a Channel the subscription (or REST SSE) reads. Ending the
 * channel aborts the upstream request at once.
 */
import { GatewayError } from '../../errors.js';
import { Cancellation } from '../../util/cancellation.js';
import { Channel } from '../channel.js';
import type { Invocation } from '../invocation.js';
import type { PipelineDeps } from '../pipeline.js';
import type { ChatChunk } from '../results.js';
import { markCancelled, record } from '../call/record.js';
import { classifyEnd, isTimeout } from './classify-end.js';
import { finishStream } from './finish-stream.js';
import { openStream, type StreamProgress } from './open-stream.js';
import { relayStream } from './relay-stream.js';
import { replayAnswer } from './replay-answer.js';

export function createStream(inv: Invocation, deps: PipelineDeps): Channel<ChatChunk> {
  const { observer, log } = deps;
  // ended before its first read: the producer never runs, so settle and record here
  const cancelBeforeStart = (): void => {
    inv.settle(0, 0);
    markCancelled(inv.event);
    inv.event.latencyMs = inv.elapsedMs();
    record(inv, deps);
  };
  // answeredBy is read only on the upstream path, which needs the resolved model anyway; a step may answer before
  // resolve-model ran, and its stream is replayed without it
  const progress: StreamProgress = { answeredBy: inv.model!, text: '', argsChars: '', toolCalls: [], reasoning: [], reasoningOpen: { value: false }, sent: 0 };
  // a stream that ends early is logged with what it had received
  if (inv.callLog) inv.callLog.stream = progress;
  // a bug in the producer must end this stream with an error, never surface as an unhandled rejection, and still
  // release the reservation and the target and leave its usage record (each is a no-op when already done)
  const start = (): void =>
    void produce().catch((err: unknown) => {
      log.error({ err }, 'stream failed unexpectedly');
      progress.release?.(undefined, { failed: true });
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
    // a step answered before any upstream was asked
    if (inv.answer) return replayAnswer(inv, deps, channel);
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
