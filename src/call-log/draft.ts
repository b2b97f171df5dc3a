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
  /** Lowered when a fallback model caps it (a cap to NONE drops the draft: see steps/call-log.ts). */
  level: Exclude<LogBodies, 'NONE'>;
  readonly attempts: AttemptRecord[];
  /**
   * Set by the guardrails step once the input rules ran to the end (the request or the embed texts are the
   * redacted ones): unset while policies apply, the request the log would keep may still hold what they redact.
   */
  inputGuarded?: boolean;
  /** Set by a stream when it starts: read in record() when the stream ended without a complete answer. */
  stream?: StreamSoFar;
}
