/* Stream, part 2: each upstream chunk passed to the client as it comes, under a stall watchdog, with back-pressure. */
import type { StreamChunk } from '../../providers/types.js';
import type { Cancellation } from '../../util/cancellation.js';
import { TimeoutReason } from '../attempt.js';
import type { Invocation } from '../invocation.js';
import type { PipelineDeps } from '../pipeline.js';
import type { ChatChunk } from '../results.js';
import type { OpenedStream, StreamProgress } from './open-stream.js';
import { addReasoning, reasoningChunk, sendsReasoning, streamChunk } from './chunks.js';
import { isTimeout } from './classify-end.js';
import { filterText } from './text-filter.js';

export async function relayStream(
  opened: OpenedStream,
  inv: Invocation,
  deps: PipelineDeps,
  ac: Cancellation,
  push: (c: ChatChunk) => Promise<void>,
  progress: StreamProgress,
): Promise<void> {
  const { iterator, timeoutMs } = opened;
  // one watchdog per stream, re-armed for each upstream read (not while the client is being written to):
  // a stall aborts the attempt's signal, which ends the adapter's pending read;
  // the pending read is also failed directly, so an adapter that ignores its signal cannot hang the stream
  let failRead: ((reason: unknown) => void) | undefined;
  const stall: NodeJS.Timeout = setTimeout(() => {
    if (!failRead) return void stall.refresh();
    const reason = new TimeoutReason();
    ac.abort(reason);
    failRead(reason);
  }, timeoutMs + 50);
  const showReasoning = sendsReasoning(inv);
  try {
    let next = opened.first;
    inv.event.ttftMs = inv.elapsedMs();
    deps.observer.firstToken?.(inv.modelName, inv.event.ttftMs);
    while (!next.done) {
      const c = next.value;
      if (c.finishReason || c.usage) progress.final = c;
      progress.text += c.delta;
      for (const d of c.toolCalls ?? []) {
        progress.argsChars += (d.name ?? '') + (d.argumentsDelta ?? '');
        const call = (progress.toolCalls[d.index] ??= { id: '', name: '', arguments: '' });
        if (d.id) call.id = d.id;
        if (d.name) call.name = d.name;
        call.arguments += d.argumentsDelta ?? '';
      }
      let delta = c.delta;
      if (delta && inv.outputFilters.length) {
        try {
          delta = filterText(inv, delta);
        } catch (refusal) {
          // refused mid-stream: stop the upstream at once, the stream ends with the refusal
          ac.abort();
          await iterator.return?.()?.catch(() => {});
          throw refusal;
        }
      }
      // held back when the output rules judge tool calls: they go out whole at the end (closeAnswered)
      const toolCalls = c.toolCalls?.length && !inv.guardToolArguments ? c.toolCalls : null;
      // the finish reason and usage go out in the stream's last chunk, once usage is priced
      // reasoning is always kept for the answer; it goes out only where the surface shows it (sendsReasoning)
      if (c.reasoning) addReasoning(progress.reasoning, c.reasoning, progress.reasoningOpen);
      if (c.reasoning && showReasoning) await push(reasoningChunk(inv, progress.sent++, delta, toolCalls, c.reasoning));
      else if (delta || toolCalls) await push(streamChunk(inv, progress.sent++, delta, toolCalls));
      if (ac.signal.aborted) break;
      stall.refresh();
      next = await new Promise<IteratorResult<StreamChunk>>((resolve, reject) => {
        failRead = reject;
        iterator.next().then(resolve, reject);
      });
      failRead = undefined;
    }
    const finished = Boolean(progress.final?.finishReason);
    // an adapter may end quietly when its signal aborts: a stall is still a timeout
    if (isTimeout(ac.signal.reason) && !finished) progress.failure = ac.signal.reason;
    if (ac.signal.aborted && !finished) await iterator.return?.();
  } finally {
    clearTimeout(stall);
  }
}
