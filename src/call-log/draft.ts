/* An invocation's call log while it runs: its level and the attempts seen so far (filled by the call-log step). */
import type { AttemptRecord, LogBodies } from './types.js';

export interface CallLogDraft {
  readonly level: Exclude<LogBodies, 'NONE'>;
  readonly attempts: AttemptRecord[];
}
