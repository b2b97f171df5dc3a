/**
 * A loopback OpenAI server speaking the Chat Completions and Embeddings wire format, scriptable per test.
 *
 * ```ts
 * const mock = await startOpenAIMock();
 * // point a provider at it: baseUrl = mock.baseUrl (includes /v1)
 * mock.reply({ text: 'Hi there' });                                   // every following request
 * mock.replyOnce(mockError(503), mockError(429, { retryAfter: '1' }));  // next two requests fail, then 'Hi there'
 * mock.replyOnce({ gapMs: 100, cutAfter: 3 });                          // a stream that breaks after 3 events
 * mock.chatRequests()[0].body.messages                                  // what was sent upstream
 * await mock.close();
 * ```
 *
 * Wire shapes follow the API reference:
 * @see https://platform.openai.com/docs/api-reference/chat/object
 * @see https://platform.openai.com/docs/api-reference/chat-streaming/streaming
 * @see https://platform.openai.com/docs/api-reference/embeddings/object
 * @see https://platform.openai.com/docs/guides/error-codes
 */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { AnyJson } from '../kit/json.js';
import type { ConformanceMock, ConformanceReply } from '../providers/conformance/types.js';
import { startMockServer, type MockServer, type RecordedRequest } from './mock-server.js';

/** Deviations of OpenAI-compatible servers (vLLM, Ollama, llama.cpp…) the mock can reproduce. */
export interface OpenAIMockQuirks {
  /** Never report `usage` (not even with `stream_options.include_usage`). */
  noUsage?: boolean;
  /** Leave `id` out of completions and chunks. */
  noId?: boolean;
  /** Leave `model` out of completions, chunks and embeddings. */
  noModel?: boolean;
  /** End streams without `data: [DONE]`. */
  noDone?: boolean;
  /** Put streamed usage on the finish_reason chunk instead of a separate `choices: []` chunk (Mistral, Groq style). */
  usageInFinishChunk?: boolean;
}

/** The quirks most compatible servers share: no usage, no id, no model. */
export const COMPATIBLE_QUIRKS: Readonly<OpenAIMockQuirks> = Object.freeze({ noUsage: true, noId: true, noModel: true });

interface OpenAIMockToolCall {
  /** @default a fresh `call_…` id */
  id?: string;
  name: string;
  /** JSON-encoded arguments; streamed in three pieces. */
  arguments: string;
}

/** Reported token counts; the two details are parts of the totals (OpenAI's `*_tokens_details`). */
interface OpenAIMockUsage {
  prompt_tokens: number;
  completion_tokens: number;
  /** `prompt_tokens_details.cached_tokens`. @default 0 */
  cached_tokens?: number;
  /** `completion_tokens_details.reasoning_tokens`. @default 0 */
  reasoning_tokens?: number;
}

interface OpenAIMockErrorBody {
  message?: string;
  type?: string;
  param?: string | null;
  code?: string | number | null;
}

/** What the mock answers to one request. Every field is optional; unset fields fall back to the start options. */
export interface OpenAIMockReply {
  /**
   * The assistant's text.
   * @default 'Hello from the mock!' (null content when the reply has tool calls)
   */
  text?: string;
  /** Stream the text in exactly these pieces. @default word by word, each word with its leading space */
  chunks?: string[];
  /** Tool calls the assistant makes. */
  toolCalls?: OpenAIMockToolCall[];
  /** `null` sends finish_reason null everywhere (a quirk). @default 'tool_calls' with toolCalls, else 'stop' */
  finishReason?: 'stop' | 'length' | 'tool_calls' | 'content_filter' | null;
  /**
   * Reported usage. @default counted in words: prompt = words of every message (at least 1 each),
   * completion = words of the text plus, per tool call, 1 + words of its arguments; `cached_tokens` and
   * `reasoning_tokens` go to prompt_tokens_details / completion_tokens_details (parts of the totals, as OpenAI counts)
   */
  usage?: OpenAIMockUsage;
  /** Reported model. @default the requested model */
  model?: string;
  /** Dimensions of the embedding vectors. @default 8 */
  embeddingDims?: number;
  /** Embeddings by input text (e.g. to put two paraphrases close together); other inputs get `mockEmbedding`. */
  vectors?: Record<string, number[]>;
  /** Wait this long before sending the response headers. */
  delayMs?: number;
  /** Wait this long between SSE events. */
  gapMs?: number;
  /** Answer with this HTTP error status and an OpenAI error body (see `error`). */
  status?: number;
  /** The error object for `status` or `streamErrorAfter`. @default OpenAI's own wording for the status */
  error?: OpenAIMockErrorBody;
  /** `retry-after` header sent with `status` (seconds or an HTTP date). */
  retryAfter?: string;
  /** Never answer; the connection stays open until the client gives up. */
  hang?: boolean;
  /** Answer 200 with a body that is not JSON (streams: one malformed event after the first). */
  malformed?: boolean;
  /** Streams: destroy the connection after this many events. */
  cutAfter?: number;
  /** Streams: stop sending after this many events, keeping the connection open. */
  stallAfter?: number;
  /** Streams: after this many events send an in-stream `{"error": …}` event and end. */
  streamErrorAfter?: number;
  /** Compatible-server deviations. */
  quirks?: OpenAIMockQuirks;
}

type OpenAIMockScript = OpenAIMockReply | ((req: RecordedRequest) => OpenAIMockReply);

export interface OpenAIMockOptions {
  /** The standing reply (a function can answer per request, e.g. echo the last user message). */
  reply?: OpenAIMockScript;
  /** Applied to every reply (merged under each reply's own quirks). */
  quirks?: OpenAIMockQuirks;
  /** When set, requests without `Authorization: Bearer <apiKey>` get OpenAI's 401. */
  apiKey?: string;
}

export interface OpenAIMock extends MockServer {
  /** The base URL to configure for the provider; includes `/v1`. */
  baseUrl: string;
  /** Replaces the standing reply for every following request. */
  reply(script: OpenAIMockScript): void;
  /** Queues one-shot replies, consumed in order before the standing reply (fail twice, then succeed). */
  replyOnce(...scripts: OpenAIMockScript[]): void;
  /** Recorded `POST /v1/chat/completions` requests, oldest first. */
  chatRequests(): RecordedRequest[];
  /** Recorded `POST /v1/embeddings` requests, oldest first. */
  embeddingRequests(): RecordedRequest[];
  /** Forgets recorded requests, queued replies and the standing reply set with `reply()`. */
  reset(): void;
}

const DEFAULT_ERRORS: Record<number, OpenAIMockErrorBody> = {
  400: { message: 'Invalid request.', type: 'invalid_request_error', code: null },
  401: { message: 'Incorrect API key provided.', type: 'invalid_request_error', code: 'invalid_api_key' },
  403: { message: 'You are not allowed to sample from this model.', type: 'invalid_request_error', code: null },
  404: { message: 'The model does not exist or you do not have access to it.', type: 'invalid_request_error', code: 'model_not_found' },
  429: { message: 'Rate limit reached for requests.', type: 'requests', code: 'rate_limit_exceeded' },
  500: { message: 'The server had an error while processing your request. Sorry about that!', type: 'server_error', code: null },
  503: { message: 'The engine is currently overloaded, please try again later.', type: 'server_error', code: null },
};

/** A reply that fails with `status` and OpenAI's error body; `retryAfter` in seconds or as an HTTP date. */
export function mockError(status: number, opts: { message?: string; type?: string; code?: string | null; retryAfter?: string } = {}): OpenAIMockReply {
  const { retryAfter, ...error } = opts;
  return { status, error, ...(retryAfter !== undefined ? { retryAfter } : {}) };
}

/** OpenAI's error envelope. */
function openAIErrorBody(status: number, error: OpenAIMockErrorBody = {}): { error: Required<OpenAIMockErrorBody> } {
  const base = DEFAULT_ERRORS[status] ?? (status >= 500 ? DEFAULT_ERRORS[500] : DEFAULT_ERRORS[400]);
  return {
    error: {
      message: error.message ?? base.message!,
      type: error.type ?? base.type!,
      param: error.param ?? null,
      code: error.code !== undefined ? error.code : (base.code ?? null),
    },
  };
}

const words = (s: string): number => s.split(/\s+/).filter(Boolean).length;

function messageText(m: { content?: unknown }): string {
  if (typeof m.content === 'string') return m.content;
  if (Array.isArray(m.content)) return m.content.map((p: { text?: unknown }) => (typeof p?.text === 'string' ? p.text : '')).join(' ');
  return '';
}

interface Resolved {
  reply: OpenAIMockReply;
  quirks: OpenAIMockQuirks;
  text: string | null;
  toolCalls: Required<OpenAIMockToolCall>[];
  finishReason: string | null;
  model: string;
  id: string;
  usage: OpenAIMockUsage;
}

function resolve(reply: OpenAIMockReply, body: AnyJson, baseQuirks: OpenAIMockQuirks): Resolved {
  const toolCalls = (reply.toolCalls ?? []).map((c) => ({ id: c.id ?? `call_${randomUUID().replace(/-/g, '').slice(0, 24)}`, name: c.name, arguments: c.arguments }));
  const text = reply.text ?? (toolCalls.length ? null : 'Hello from the mock!');
  const messages: Array<{ content?: unknown }> = Array.isArray(body?.messages) ? body.messages : [];
  const prompt = messages.reduce((n, m) => n + Math.max(1, words(messageText(m))), 0);
  const completion = words(text ?? '') + toolCalls.reduce((n, c) => n + 1 + words(c.arguments), 0);
  return {
    reply,
    quirks: { ...baseQuirks, ...reply.quirks },
    text,
    toolCalls,
    finishReason: reply.finishReason === undefined ? (toolCalls.length ? 'tool_calls' : 'stop') : reply.finishReason,
    model: reply.model ?? (typeof body?.model === 'string' ? body.model : 'gpt-4o-mini'),
    id: `chatcmpl-${randomUUID().replace(/-/g, '').slice(0, 29)}`,
    usage: reply.usage ?? { prompt_tokens: prompt, completion_tokens: completion },
  };
}

function usageObject(u: OpenAIMockUsage) {
  return {
    prompt_tokens: u.prompt_tokens,
    completion_tokens: u.completion_tokens,
    total_tokens: u.prompt_tokens + u.completion_tokens,
    prompt_tokens_details: { cached_tokens: u.cached_tokens ?? 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: u.reasoning_tokens ?? 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

function header(r: Resolved, object: string): Record<string, unknown> {
  return {
    ...(r.quirks.noId ? {} : { id: r.id }),
    object,
    created: Math.floor(Date.now() / 1000),
    ...(r.quirks.noModel ? {} : { model: r.model }),
  };
}

/** The non-streamed `chat.completion` object for a reply. */
function chatCompletionBody(r: Resolved): Record<string, unknown> {
  const message: Record<string, unknown> = { role: 'assistant', content: r.text, refusal: null, annotations: [] };
  if (r.toolCalls.length) {
    message.tool_calls = r.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } }));
  }
  return {
    ...header(r, 'chat.completion'),
    choices: [{ index: 0, message, logprobs: null, finish_reason: r.finishReason }],
    ...(r.quirks.noUsage ? {} : { usage: usageObject(r.usage) }),
    service_tier: 'default',
    system_fingerprint: 'fp_mock',
  };
}

function splitText(text: string): string[] {
  return text.match(/\s*\S+/g) ?? (text ? [text] : []);
}

function splitArgs(args: string): string[] {
  const n = Math.ceil(args.length / 3) || 1;
  const out: string[] = [];
  for (let i = 0; i < args.length; i += n) out.push(args.slice(i, i + n));
  return out;
}

/** The `data:` payloads of a streamed reply, `[DONE]` included unless a quirk drops it. */
function chatCompletionChunks(r: Resolved, includeUsage: boolean): string[] {
  const withUsage = includeUsage && !r.quirks.noUsage;
  const base = { ...header(r, 'chat.completion.chunk'), service_tier: 'default', system_fingerprint: 'fp_mock', ...(withUsage ? { usage: null } : {}) };
  const chunk = (delta: Record<string, unknown>, finish: string | null = null, extra: Record<string, unknown> = {}) =>
    JSON.stringify({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...extra });
  const out = [chunk({ role: 'assistant', content: r.text === null ? null : '', refusal: null })];
  for (const piece of r.reply.chunks ?? splitText(r.text ?? '')) out.push(chunk({ content: piece }));
  r.toolCalls.forEach((c, index) => {
    out.push(chunk({ tool_calls: [{ index, id: c.id, type: 'function', function: { name: c.name, arguments: '' } }] }));
    for (const piece of splitArgs(c.arguments)) out.push(chunk({ tool_calls: [{ index, function: { arguments: piece } }] }));
  });
  const inFinish = withUsage && r.quirks.usageInFinishChunk;
  out.push(chunk({}, r.finishReason, inFinish ? { usage: usageObject(r.usage) } : {}));
  if (withUsage && !inFinish) out.push(JSON.stringify({ ...base, choices: [], usage: usageObject(r.usage) }));
  if (!r.quirks.noDone) out.push('[DONE]');
  return out;
}

/** A deterministic unit-ish vector for an input, so equal inputs embed equally. */
export function mockEmbedding(input: string, dims = 8): number[] {
  const v: number[] = [];
  let h = 2166136261;
  for (let i = 0; i < dims; i++) {
    for (const ch of `${input}#${i}`) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
    v.push(((h >>> 0) % 2000) / 1000 - 1);
  }
  const norm = Math.hypot(...v) || 1;
  return v.map((x) => x / norm);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const closed = (res: ServerResponse) => new Promise<void>((r) => (res.destroyed ? r() : res.once('close', () => r())));

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json', 'x-request-id': `req_${randomUUID()}`, ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

async function writeStream(res: ServerResponse, r: Resolved, includeUsage: boolean): Promise<void> {
  const { reply } = r;
  let events = chatCompletionChunks(r, includeUsage);
  if (reply.malformed) events = [events[0], '{"id": "chatcmpl-broken", "choices": [', ...events.slice(1)];
  if (reply.streamErrorAfter !== undefined) {
    events = [...events.slice(0, reply.streamErrorAfter), JSON.stringify(openAIErrorBody(500, reply.error))];
  }
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-request-id': `req_${randomUUID()}` });
  res.flushHeaders();
  for (let i = 0; i < events.length; i++) {
    if (res.destroyed) return;
    if (reply.cutAfter !== undefined && i >= reply.cutAfter) {
      res.destroy();
      return;
    }
    if (reply.stallAfter !== undefined && i >= reply.stallAfter) return closed(res);
    res.write(`data: ${events[i]}\n\n`);
    if (reply.gapMs && i < events.length - 1) await sleep(reply.gapMs);
  }
  res.end();
}

/** Starts the mock on 127.0.0.1 and a free port. */
export async function startOpenAIMock(options: OpenAIMockOptions = {}): Promise<OpenAIMock> {
  const initial: OpenAIMockScript = options.reply ?? {};
  let standing: OpenAIMockScript = initial;
  const queue: OpenAIMockScript[] = [];
  const baseQuirks = options.quirks ?? {};

  const server = await startMockServer(async (req, res) => {
    if (options.apiKey !== undefined && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      return send(res, 401, openAIErrorBody(401));
    }
    const route = `${req.method} ${req.path.split('?')[0]}`;
    if (route !== 'POST /v1/chat/completions' && route !== 'POST /v1/embeddings') {
      return send(res, 404, openAIErrorBody(404, { message: `Invalid URL (${route})`, code: null }));
    }
    const script = queue.shift() ?? standing;
    const reply = typeof script === 'function' ? script(req) : script;

    if (reply.hang) return closed(res);
    if (reply.delayMs) await sleep(reply.delayMs);
    if (reply.status !== undefined && reply.status >= 400) {
      return send(res, reply.status, openAIErrorBody(reply.status, reply.error), reply.retryAfter !== undefined ? { 'retry-after': reply.retryAfter } : {});
    }
    const body = req.body;
    if (!body || typeof body !== 'object' || typeof body.model !== 'string') {
      return send(res, 400, openAIErrorBody(400, { message: "you must provide a model parameter", param: 'model' }));
    }

    if (route === 'POST /v1/embeddings') {
      if (reply.malformed) return send(res, 200, '{"object": "list", "data": [');
      const inputs: string[] = Array.isArray(body.input) ? body.input : [String(body.input)];
      const quirks = { ...baseQuirks, ...reply.quirks };
      const tokens = inputs.reduce((n, s) => n + Math.max(1, words(s)), 0);
      return send(res, 200, {
        object: 'list',
        data: inputs.map((s, index) => ({ object: 'embedding', index, embedding: reply.vectors?.[s] ?? mockEmbedding(s, reply.embeddingDims) })),
        ...(quirks.noModel ? {} : { model: reply.model ?? body.model }),
        ...(quirks.noUsage ? {} : { usage: { prompt_tokens: tokens, total_tokens: tokens } }),
      });
    }

    if (!Array.isArray(body.messages) || body.messages.length === 0) {
      return send(res, 400, openAIErrorBody(400, { message: "Invalid 'messages': empty array.", param: 'messages', code: 'empty_array' }));
    }
    const r = resolve(reply, body, baseQuirks);
    if (body.stream === true) return writeStream(res, r, body.stream_options?.include_usage === true);
    if (reply.malformed) return send(res, 200, '<html>502 Bad Gateway</html>');
    return send(res, 200, chatCompletionBody(r));
  });

  return {
    ...server,
    baseUrl: `${server.url}/v1`,
    reply(script) {
      standing = script;
    },
    replyOnce(...scripts) {
      queue.push(...scripts);
    },
    chatRequests: () => server.requests.filter((r) => r.path.startsWith('/v1/chat/completions')),
    embeddingRequests: () => server.requests.filter((r) => r.path.startsWith('/v1/embeddings')),
    reset() {
      server.requests.length = 0;
      queue.length = 0;
      standing = initial;
    },
  };
}

/** The conformance suite's default answer (types.ts). */
const CONFORMANCE_TEXT = 'Hello from the mock.';

/**
 * A conformance reply (test/providers/conformance/types.ts) as this mock's reply. Text streams word by word after
 * the opening role chunk, so "after n text events" is n + 1 chunks here.
 */
function toOpenAIMockReply(r: ConformanceReply): OpenAIMockReply {
  const text = r.text ?? (r.toolCalls?.length ? undefined : CONFORMANCE_TEXT);
  const usage = r.usage ?? { input: 10, output: words(text ?? '') };
  const out: OpenAIMockReply = {
    ...(text !== undefined ? { text, chunks: text.match(/\s*\S+\s*/g) ?? [] } : {}),
    toolCalls: r.toolCalls?.map((c) => ({ name: c.name, arguments: JSON.stringify(c.arguments) })),
    usage: { prompt_tokens: usage.input, completion_tokens: usage.output, cached_tokens: usage.cachedRead, reasoning_tokens: usage.reasoning },
    gapMs: r.gapMs,
    hang: r.hang,
  };
  if (r.fail) {
    out.status = r.fail.status;
    if (r.fail.message !== undefined) out.error = { message: r.fail.message };
    if (r.fail.retryAfterSeconds !== undefined) out.retryAfter = String(r.fail.retryAfterSeconds);
  }
  if (r.cutAfter !== undefined) out.cutAfter = r.cutAfter + 1;
  if (r.stallAfter !== undefined) out.stallAfter = r.stallAfter + 1;
  return out;
}

/** An OpenAI mock driven by conformance replies; `url` includes `/v1`, as the provider's base URL does. */
export async function startOpenAIConformanceMock(options: Omit<OpenAIMockOptions, 'reply'> = {}): Promise<ConformanceMock> {
  const mock = await startOpenAIMock(options);
  return {
    url: mock.baseUrl,
    requests: mock.requests,
    reply: (r) => mock.reply(toOpenAIMockReply(r)),
    replyOnce: (r) => mock.replyOnce(toOpenAIMockReply(r)),
    close: () => mock.close(),
  };
}
