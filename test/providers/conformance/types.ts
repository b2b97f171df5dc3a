/*
 * The one adapter test suite every provider kind passes (suite.ts): each kind brings a mock that speaks its wire
 * format and understands these scripted replies, and the suite checks the adapter's chat, stream, tools, usage,
 * errors, retries and cancel against it.
 */
import type { CallOptions, ProviderAdapter } from '../../../src/providers/types.js';
import type { RecordedRequest } from '../../mocks/mock-server.js';

/** Usage as the gateway counts it (providers/types.ts Usage): totals, with the parts inside them. */
export interface ConformanceUsage {
  input: number;
  output: number;
  cachedRead?: number;
  cacheWrite?: number;
  reasoning?: number;
}

export interface ConformanceReply {
  /** Answer text, streamed word by word (each word with its following space). @default 'Hello from the mock.' */
  text?: string;
  /** Tool calls after the text; the mock makes up ids. */
  toolCalls?: Array<{ name: string; arguments: Record<string, unknown> }>;
  /** Reported usage, translated by the mock into its provider's fields. @default { input: 10, output: <words> } */
  usage?: ConformanceUsage;
  /** An HTTP error in the provider's error body; `retryAfterSeconds` as its retry-after header. */
  fail?: { status: number; message?: string; retryAfterSeconds?: number };
  /** Stream: milliseconds between events. @default 0 */
  gapMs?: number;
  /** Stream: destroy the socket after this many text events. */
  cutAfter?: number;
  /** Stream: stop sending after this many text events, connection kept open. */
  stallAfter?: number;
  /** Never answer (no headers). */
  hang?: boolean;
}

export interface ConformanceMock {
  /** What the adapter's CallOptions.baseUrl is set to. */
  url: string;
  requests: RecordedRequest[];
  reply(r: ConformanceReply): void;
  replyOnce(r: ConformanceReply): void;
  close(): Promise<void>;
}

export interface ConformanceSubject {
  /** The provider kind, for the describe() titles. */
  kind: string;
  /** The adapter as the gateway uses it: `createAdapterRegistry()[kind]` (with its error-message scrubbing). */
  adapter: ProviderAdapter;
  /** The upstream model id the suite calls. */
  model: string;
  startMock(): Promise<ConformanceMock>;
  /** Credential and settings for this kind (baseUrl, signal and timeoutMs are set by the suite). */
  callOptions(mock: ConformanceMock): Partial<CallOptions>;
  /** Whether the kind reports each usage part (those it cannot report are not asserted). */
  reports: { cachedRead: boolean; cacheWrite: boolean; reasoning: boolean };
  /** Whether the kind has an embeddings API the adapter implements. @default false */
  embeds?: boolean;
  /** The model the embeddings check calls. @default model */
  embeddingModel?: string;
  /**
   * Strings besides `callOptions().apiKey` that no error message may contain (a Bedrock secret access key alone, a
   * Vertex service account's private key…).
   */
  secrets?: string[];
}
