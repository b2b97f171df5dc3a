/* The call log's shapes: how much an invocation keeps, and what it keeps. */

/** How much of an invocation the call log keeps: nothing, its metadata and attempts, or its bodies too. */
export type LogBodies = 'NONE' | 'METADATA' | 'FULL';

/** One upstream try, as the attempts timeline shows it; times in ms from the invocation's start. */
export interface AttemptRecord {
  /** 1 for the invocation's first attempt, counting retries and fallbacks. */
  attempt: number;
  /** The gateway model whose target it is (the primary or a fallback). */
  model: string;
  provider: string;
  upstreamModel: string;
  /** When the attempt began, from the invocation's start. */
  startMs: number;
  /** The retry wait (backoff or retry-after) just before it; 0 for a first try. */
  waitMs: number;
  /** Time from the attempt's start to the upstream's response headers; null when none came. */
  ttfbMs: number | null;
  /** Time from the attempt's start to its end (for a stream: the end of the stream). */
  durationMs: number | null;
  /** The upstream's HTTP status; null when none came (network error, timeout). */
  status: number | null;
  outcome: 'OK' | 'ERROR' | 'TIMEOUT' | 'CANCELLED';
  /** The error as the gateway reads it (secrets scrubbed); null on success. */
  error: string | null;
}

/** What the usage writer stores for one invocation in call_logs, next to its usage record. */
export interface CallLogEntry {
  /** The invocation's id: the usage record's id too. */
  id: string;
  createdAt: Date;
  requestId: string | null;
  apiKeyId: string | null;
  teamId: string | null;
  model: string;
  status: string;
  level: 'METADATA' | 'FULL';
  /** The call's parameters without any message text (temperature, max tokens, tool names, message count…). */
  parameters: Record<string, unknown> | null;
  /** FULL only: the request as the upstream got it (after guardrail redaction). */
  request: unknown;
  /** FULL only: the answer (assembled from the stream for a streamed call), as stored after guardrails. */
  response: unknown;
  attempts: AttemptRecord[];
  /** The trace the invocation ran in, when tracing is on. */
  traceId: string | null;
  /** FULL only: the words the text search finds the call by (message and answer text). */
  searchText: string | null;
  /** Size of request + response as JSON before any truncation. */
  bodyBytes: number;
  /** A body over CALL_LOG_MAX_BODY_BYTES was cut. */
  truncated: boolean;
}
