/**
 * The one small contract every provider adapter implements: unified request in,
 * unified result / stream of chunks / usage / error out.
 */
import type { CancelSignal } from '../util/cancellation.js';

export type Role = 'SYSTEM' | 'USER' | 'ASSISTANT' | 'TOOL';
export type FinishReason = 'STOP' | 'LENGTH' | 'TOOL_CALLS' | 'CONTENT_FILTER' | 'ERROR';

export type ContentPart = { type: 'TEXT'; text: string } | { type: 'IMAGE_URL'; imageUrl: string };

export interface ToolCall {
  id: string;
  name: string;
  /** JSON-encoded arguments, as the model produced them */
  arguments: string;
}

export interface ChatMessage {
  role: Role;
  /** Plain text; null when the message only carries parts or tool calls. */
  content: string | null;
  parts?: ContentPart[];
  /** On ASSISTANT messages: the tool calls the model made. */
  toolCalls?: ToolCall[];
  /** On TOOL messages: which call this message answers. */
  toolCallId?: string;
  name?: string;
}

export interface ToolDefinition {
  name: string;
  description?: string;
  /** JSON Schema of the arguments */
  parameters?: Record<string, unknown>;
}

/** AUTO, NONE, REQUIRED, or `{ name }` of one tool. */
export type ToolChoice = 'AUTO' | 'NONE' | 'REQUIRED' | { name: string };

/** What the gateway asks of one upstream target. `model` is the provider's own model id. */
export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  temperature?: number;
  topP?: number;
  maxTokens?: number;
  stop?: string[];
  seed?: number;
  tools?: ToolDefinition[];
  toolChoice?: ToolChoice;
  jsonMode?: boolean;
}

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  /** False when the provider reported nothing and the numbers were counted locally. */
  exact: boolean;
}

export interface ChatResponse {
  /** The provider's response id, or one the adapter made up when the provider sent none. */
  id: string;
  /** The provider's own model id that answered (as reported by the provider when it says). */
  upstreamModel: string;
  content: string | null;
  toolCalls: ToolCall[];
  finishReason: FinishReason;
  usage: Usage;
}

export interface ToolCallDelta {
  index: number;
  id?: string;
  name?: string;
  argumentsDelta?: string;
}

/**
 * One upstream event. Adapters yield one chunk per upstream SSE event that carries
 * something; the last chunk they yield carries finishReason and usage.
 */
export interface StreamChunk {
  delta: string;
  toolCalls?: ToolCallDelta[];
  finishReason?: FinishReason;
  usage?: Usage;
}

export interface EmbedRequest {
  model: string;
  input: string[];
}

export interface EmbedResponse {
  upstreamModel: string;
  vectors: number[][];
  usage: Usage;
}

/** Per-attempt call options. */
export interface CallOptions {
  /** Aborts the upstream HTTP request at once (client gone, attempt timed out). */
  signal: CancelSignal;
  /** Covers the wait for the response headers and for each body chunk / streamed event. */
  timeoutMs: number;
  /** Provider base URL; adapters fall back to the provider's public default. */
  baseUrl?: string;
  /** The provider credential (decrypted); never the caller's gateway key. */
  apiKey?: string;
}

export interface ProviderAdapter {
  chat(req: ChatRequest, opts: CallOptions): Promise<ChatResponse>;
  /**
   * Must stop reading and release the upstream connection as soon as `opts.signal` aborts
   * (the pending read rejects, the generator finishes).
   */
  stream(req: ChatRequest, opts: CallOptions): AsyncIterable<StreamChunk>;
  embed?(req: EmbedRequest, opts: CallOptions): Promise<EmbedResponse>;
}

/** A failed upstream call, in one shape for every provider. */
export class UpstreamError extends Error {
  readonly provider: string;
  /** Upstream HTTP status; undefined for network errors and timeouts. */
  readonly status?: number;
  readonly retryable: boolean;
  readonly retryAfterMs?: number;
  readonly timeout: boolean;
  constructor(opts: {
    provider: string;
    message: string;
    status?: number;
    retryable: boolean;
    retryAfterMs?: number;
    timeout?: boolean;
    cause?: unknown;
  }) {
    super(opts.message, { cause: opts.cause });
    this.name = 'UpstreamError';
    this.provider = opts.provider;
    this.status = opts.status;
    this.retryable = opts.retryable;
    this.retryAfterMs = opts.retryAfterMs;
    this.timeout = opts.timeout ?? false;
  }
}

export function isUpstreamError(e: unknown): e is UpstreamError {
  return e instanceof UpstreamError;
}
