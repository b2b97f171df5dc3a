/**
 * The one small contract every provider adapter implements: unified request in,
 * unified result / stream of chunks / usage / error out.
 */
import type { CancelSignal } from '../util/cancellation.js';

export type Role = 'SYSTEM' | 'USER' | 'ASSISTANT' | 'TOOL';
export type FinishReason = 'STOP' | 'LENGTH' | 'TOOL_CALLS' | 'CONTENT_FILTER' | 'ERROR';

/**
 * Anthropic's prompt-caching breakpoint. Passed through to providers that take it (Anthropic, Claude on Bedrock
 * and Vertex); the others cache on their own and ignore it.
 * @see https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching
 */
export interface CacheControl {
  type: 'ephemeral';
  ttl?: '5m' | '1h';
}

/** `imageUrl` is an http(s) URL or a `data:<media type>;base64,…` URL. */
export type ContentPart =
  | { type: 'TEXT'; text: string; cacheControl?: CacheControl }
  | { type: 'IMAGE_URL'; imageUrl: string; cacheControl?: CacheControl };

/**
 * One block of a model's reasoning, as the provider returned it. Anthropic requires an assistant turn's thinking
 * blocks, signature included, to be sent back unchanged when that turn called tools.
 */
export interface ReasoningBlock {
  /** The reasoning text (a summary on some providers); empty for a redacted block. */
  text: string;
  /** Anthropic's `signature` of a thinking block; Bedrock's `reasoningContent.reasoningText.signature`. */
  signature?: string;
  /** Anthropic's `redacted_thinking.data` / Bedrock's `redactedContent`: opaque, sent back as it came. */
  redactedData?: string;
}

/** How much the model may think before answering; providers take one form or the other, converted when needed. */
export interface ReasoningOptions {
  /** Anthropic `thinking.budget_tokens`, Gemini `thinkingConfig.thinkingBudget`. */
  budgetTokens?: number;
  /** OpenAI `reasoning_effort` / `reasoning.effort`. */
  effort?: 'LOW' | 'MEDIUM' | 'HIGH';
}

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
  /**
   * On TOOL messages: the tool failed. Anthropic (`is_error`) and Bedrock (`status: "error"`) take it as a flag; the
   * other providers have none and get the content as it is, which says what went wrong.
   */
  isError?: boolean;
  name?: string;
  /** On ASSISTANT messages: the model's reasoning blocks of that turn, to send back to providers that need them. */
  reasoning?: ReasoningBlock[];
  /** A cache breakpoint after this message's last block (Anthropic `cache_control` on it). */
  cacheControl?: CacheControl;
}

export interface ToolDefinition {
  name: string;
  description?: string;
  /** JSON Schema of the arguments */
  parameters?: Record<string, unknown>;
  cacheControl?: CacheControl;
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
  /** Extended thinking / reasoning; none: the provider's default. */
  reasoning?: ReasoningOptions;
}

/**
 * Tokens as the provider billed them. `promptTokens` counts every input token, cached ones included (OpenAI's
 * `prompt_tokens`; for Anthropic `input_tokens + cache_read_input_tokens + cache_creation_input_tokens`), and
 * `completionTokens` every output token, reasoning included (OpenAI's `completion_tokens`; for Gemini
 * `candidatesTokenCount + thoughtsTokenCount`). The optional counts are parts of those totals, each priced at
 * its own rate (pricing.ts); absent means 0.
 */
export interface Usage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  /** Input tokens read from the provider's prompt cache (part of promptTokens). */
  cachedReadTokens?: number;
  /** Input tokens written to the provider's prompt cache (part of promptTokens; Anthropic, Bedrock). */
  cacheWriteTokens?: number;
  /** Output tokens spent on reasoning (part of completionTokens). */
  reasoningTokens?: number;
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
  /** The model's reasoning blocks, when the provider returned them. */
  reasoning?: ReasoningBlock[];
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
  /**
   * Reasoning as it streams: text deltas of the current block; `signature` (or `redactedData`) closes it, and
   * the next delta starts a new block.
   */
  reasoning?: { delta?: string; signature?: string; redactedData?: string };
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
  /** The provider's kind-specific settings (Azure api-version, Bedrock region, Vertex project and location). */
  settings?: ProviderSettings;
  /** Watches this attempt's upstream request (call log, traces); adapters hand it to every upstream call they make. */
  observe?: UpstreamObserver;
}

/** What watches one upstream request: absent unless a call log or tracing asks for it. */
export interface UpstreamObserver {
  /** Added to the request's headers (W3C traceparent / tracestate). */
  readonly headers?: Readonly<Record<string, string>>;
  /** The request is about to go to this origin (`scheme://host[:port]`), the adapter's default or the configured one. */
  sending?(origin: string): void;
  /** The upstream's response headers arrived with this status (its time to first byte). */
  responded?(status: number): void;
}

/**
 * What some provider kinds need besides a base URL and a credential. Stored in clear (no secrets here);
 * the credential's form per kind: AZURE_OPENAI an api-key or an Entra ID bearer token (authScheme),
 * BEDROCK `accessKeyId:secretAccessKey[:sessionToken]`, VERTEX a service-account key file (JSON).
 */
export interface ProviderSettings {
  /** AZURE_OPENAI: the `api-version` query parameter. */
  apiVersion?: string;
  /** AZURE_OPENAI: API_KEY sends the credential as `api-key`, BEARER as `Authorization: Bearer` (Entra ID). @default API_KEY */
  authScheme?: 'API_KEY' | 'BEARER';
  /** BEDROCK: the AWS region (us-east-1); VERTEX: the location (us-central1, global). */
  region?: string;
  /** VERTEX: the Google Cloud project id; @default the service account's project_id */
  project?: string;
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
