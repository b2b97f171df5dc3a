/* Stream, part 1: route and call until one target sends its first chunk; after that there is no retry or fallback. */
import { fallbackAccess } from '../fallback-access.js';
import type { ReasoningBlock, StreamChunk, ToolCall } from '../../providers/types.js';
import type { ResolvedModel, ResolvedTarget } from '../../services/catalogue.js';
import { anyOf, type Cancellation } from '../../util/cancellation.js';
import type { AttemptOutcome } from '../attempt.js';
import { withModel } from '../chat-input.js';
import type { Invocation } from '../invocation.js';
import type { PipelineDeps } from '../pipeline.js';
import { adapterFor, callOptions } from '../call/call-upstream.js';

/** What a stream has done so far; open, relay and classify-end each fill their part. */
export interface StreamProgress {
  target?: ResolvedTarget;
  answeredBy: ResolvedModel;
  /** Ends the held attempt: the target stops counting as busy and is judged by how the stream ended. */
  release?: AttemptOutcome<unknown>['release'];
  /** The chunk that carried the finish reason or usage. */
  final?: StreamChunk;
  text: string;
  argsChars: string;
  /** The tool calls as assembled from their deltas, by index: part of the complete answer the after-steps see. */
  toolCalls: ToolCall[];
  /** The reasoning blocks as assembled from their pieces (StreamChunk.reasoning); `reasoningOpen`: the last takes more text. */
  reasoning: ReasoningBlock[];
  reasoningOpen: { value: boolean };
  failure?: unknown;
  /** Chunks sent to the client so far: the next one's index. */
  sent: number;
}

export interface OpenedStream {
  iterator: AsyncIterator<StreamChunk>;
  first: IteratorResult<StreamChunk>;
  timeoutMs: number;
}

export async function openStream(inv: Invocation, deps: PipelineDeps, ac: Cancellation, progress: StreamProgress): Promise<OpenedStream> {
  const req = inv.request!;
  const outcome = await deps.executor.run(
    inv.resolved,
    ac.signal,
    async ({ target, signal, timeoutMs, observe }) => {
      // the executor lets go of its attempt signal once the first chunk is in: keep the stream's own
      // signal on the adapter, so a cancel (or a stall timeout) aborts the upstream at once
      const upstream = adapterFor(deps.adapters, target).stream(withModel(req, target.upstreamModel), callOptions(target, anyOf(signal, ac), timeoutMs, observe));
      const iterator = upstream[Symbol.asyncIterator]();
      const first = await iterator.next();
      return { iterator, first, timeoutMs };
    },
    // held: the target stays busy (LEAST_BUSY) until the stream ends, and is judged by how it ends
    { hold: true, requestId: inv.options.requestId, invocationId: inv.id, fallbackAllowed: fallbackAccess(inv), observer: inv.attemptObserver },
  );
  progress.release = outcome.release;
  progress.target = outcome.target;
  progress.answeredBy = outcome.model;
  const ev = inv.event;
  ev.attempts = outcome.attempts;
  ev.provider = outcome.target.provider.name;
  ev.upstreamModel = outcome.target.upstreamModel;
  return outcome.value;
}
