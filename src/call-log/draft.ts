/* An invocation's call log while it runs: its level, the attempts seen so far, and a stream's text so far. */
import type { ToolCall } from '../providers/types.js';
import type { AttemptRecord, LogBodies } from './types.js';

/** What a stream has received from the upstream so far (its StreamProgress): the answer of a stream that did not finish. */
interface StreamSoFar {
  readonly text: string;
  /** Sparse while streaming: indexed by the upstream's tool call index. */
  readonly toolCalls: ReadonlyArray<ToolCall | undefined>;
}

export interface CallLogDraft {
  readonly level: Exclude<LogBodies, 'NONE'>;
  readonly attempts: AttemptRecord[];
  /** The request as the caller sent it (before the input rules), to tell whether they ran to the end. */
  readonly asked?: object;
  /** Set by a stream when it starts: read in record() when the stream ended without a complete answer. */
  stream?: StreamSoFar;
}
