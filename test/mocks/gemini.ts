/**
 * A loopback Gemini API (`/v1beta/models/{model}:generateContent`, `:streamGenerateContent?alt=sse`,
 * `:batchEmbedContents`) speaking the real wire format, scriptable per test.
 *
 * ```ts
 * const mock = await startGeminiMock();
 * adapterOpts.baseUrl = mock.url;                       // the adapter appends /v1beta/models/...
 * mock.reply({ text: 'Hi there', usage: { promptTokenCount: 9, candidatesTokenCount: 2 } });
 * mock.reply({ functionCalls: [{ name: 'get_weather', args: { city: 'Paris' } }] });
 * mock.replyOnce({ fail: { status: 429, retryAfter: 2 } }); // next request only
 * mock.reply({ text: 'a b c', gapMs: 100 });             // stream: 100 ms between SSE events
 * mock.reply({ cutAfter: 2 });                            // stream: socket destroyed after 2 events
 * mock.reply({ hang: true });                             // never answers
 * mock.requests[0].body / .headers / .path / .closedEarly
 * await mock.close();
 * ```
 *
 * Like the real API it answers 403 PERMISSION_DENIED when no key is sent (`x-goog-api-key` or `?key=`)
 * and 400 INVALID_ARGUMENT without `contents` / `requests`. Embeddings are deterministic per text.
 */
import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { ConformanceMock, ConformanceReply } from '../providers/conformance/types.js';
import { sendJson, startMockServer, type MockServer, type RecordedRequest } from './mock-server.js';

interface GeminiMockUsage {
  promptTokenCount: number;
  candidatesTokenCount: number;
  /** Thinking tokens, apart from candidatesTokenCount (totalTokenCount counts both). */
  thoughtsTokenCount?: number;
  /** Prompt tokens read from a context cache (part of promptTokenCount). */
  cachedContentTokenCount?: number;
  totalTokenCount?: number;
}

export interface GeminiMockReply {
  /** Answer text. @default 'Hello from Gemini.' (none when `functionCalls` are set) */
  text?: string;
  /** functionCall parts after the text; `id` is only sent when given (as newer API versions do). */
  functionCalls?: Array<{ name: string; args?: Record<string, unknown>; id?: string }>;
  /** @default 'STOP' */
  finishReason?: string;
  /** The prompt was blocked: the answer has no candidates, only promptFeedback.blockReason. */
  blockReason?: string;
  /** Final usageMetadata (the stream repeats it cumulatively). @default { promptTokenCount: 12, candidatesTokenCount: <pieces> } */
  usage?: Partial<GeminiMockUsage>;
  /** @default the requested model */
  modelVersion?: string;
  /** @default resp_mock_<n> */
  responseId?: string;
  /** Stream: delay between SSE events. @default 0 */
  gapMs?: number;
  /** Stream: destroy the socket after this many SSE events. */
  cutAfter?: number;
  /** Stream: end the response cleanly after this many SSE events (a truncated stream without the finishReason event). */
  endAfter?: number;
  /** Stream: after this many SSE events, stop sending but keep the connection open. */
  stallAfter?: number;
  /** Stream: send a Google error object as an event after this many events (default 1) and end. */
  streamError?: { code: number; status: string; message: string; afterEvents?: number };
  /** Answer with an HTTP error in Google's error body. */
  fail?: {
    status: number;
    /** @default the gRPC status Google uses for the HTTP status (e.g. 429 → RESOURCE_EXHAUSTED) */
    grpcStatus?: string;
    message?: string;
    /** `retry-after` header value (seconds); also sent as google.rpc.RetryInfo in the body. */
    retryAfter?: number;
  };
  /** Never answer: no headers, no body, until the client gives up. */
  hang?: boolean;
  /** Embedding size. @default 8 */
  embeddingDims?: number;
}

export interface GeminiMock extends MockServer {
  /** Sets the reply for every following request (until changed). */
  reply(reply: GeminiMockReply): void;
  /** Queues a reply for the next request only; queued replies are used before the default one. */
  replyOnce(reply: GeminiMockReply): void;
  /** The last recorded request. */
  last(): RecordedRequest;
}

/** The gRPC status name Google puts in `error.status` for each HTTP status. */
const GEMINI_ERROR_STATUS: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

const DEFAULT_TEXT = 'Hello from Gemini.';

/** A deterministic unit-ish vector for a text, so tests can compare embeddings. */
export function mockEmbedding(text: string, dims = 8): number[] {
  const h = createHash('sha256').update(text).digest();
  return Array.from({ length: dims }, (_, i) => Math.round(((h[i % h.length] / 255) * 2 - 1) * 1e6) / 1e6);
}

export async function startGeminiMock(initial: GeminiMockReply = {}): Promise<GeminiMock> {
  let current = initial;
  const queue: GeminiMockReply[] = [];
  let seq = 0;
  const server = await startMockServer(async (req, res) => {
    const reply = queue.shift() ?? current;
    const n = ++seq;
    if (reply.hang) return void (await req.closedEarly);
    const url = new URL(req.path, 'http://mock');
    const route = /^\/v1beta\/models\/([^/:]+):(generateContent|streamGenerateContent|batchEmbedContents)$/.exec(url.pathname);
    if (req.method !== 'POST' || !route) return sendError(res, 404, `Method not found: ${url.pathname}`);
    const [, model, method] = route;
    if (!req.headers['x-goog-api-key'] && !url.searchParams.get('key')) {
      return sendError(res, 403, 'Method doesn\'t allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.');
    }
    if (reply.fail) {
      const { status, grpcStatus, message, retryAfter } = reply.fail;
      const headers: Record<string, string> = retryAfter !== undefined ? { 'retry-after': String(retryAfter) } : {};
      const details = retryAfter !== undefined ? [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${retryAfter}s` }] : undefined;
      return sendError(res, status, message ?? defaultMessage(status), headers, grpcStatus, details);
    }
    const body = req.body as Record<string, unknown> | undefined;
    if (method === 'batchEmbedContents') {
      if (!Array.isArray(body?.requests)) return sendError(res, 400, 'Invalid JSON payload received. Missing "requests".');
      const requests = body.requests as Array<{ model?: string; content?: { parts?: Array<{ text?: string }> } }>;
      for (const [i, r] of requests.entries()) {
        if (r.model !== `models/${model}`) {
          return sendError(res, 400, `requests[${i}].model: model must match the request URL (models/${model})`);
        }
      }
      const embeddings = requests.map((r) => ({ values: mockEmbedding((r.content?.parts ?? []).map((p) => p.text ?? '').join(''), reply.embeddingDims) }));
      return sendJson(res, 200, { embeddings });
    }
    if (!Array.isArray(body?.contents)) return sendError(res, 400, '* GenerateContentRequest.contents: contents is not specified');
    const meta = { modelVersion: reply.modelVersion ?? model, responseId: reply.responseId ?? `resp_mock_${n}` };
    if (method === 'streamGenerateContent') {
      if (url.searchParams.get('alt') !== 'sse') return sendError(res, 400, 'this mock only streams with alt=sse');
      return streamReply(req, res, reply, meta);
    }
    sendJson(res, 200, { ...responseBody(reply, textOf(reply), reply.functionCalls ?? [], true, usageOf(reply)), ...meta });
  });
  return {
    ...server,
    reply(r) {
      current = r;
    },
    replyOnce(r) {
      queue.push(r);
    },
    last() {
      const r = server.requests[server.requests.length - 1];
      if (!r) throw new Error('gemini mock: no request recorded');
      return r;
    },
  };
}

function defaultMessage(status: number): string {
  if (status === 429) return 'Resource has been exhausted (e.g. check quota).';
  if (status === 503) return 'The model is overloaded. Please try again later.';
  return `Mock error ${status}`;
}

function sendError(
  res: ServerResponse,
  code: number,
  message: string,
  headers: Record<string, string> = {},
  grpcStatus?: string,
  details?: unknown[],
): void {
  const error: Record<string, unknown> = { code, message, status: grpcStatus ?? GEMINI_ERROR_STATUS[code] ?? 'UNKNOWN' };
  if (details) error.details = details;
  sendJson(res, code, { error }, headers);
}

function textOf(reply: GeminiMockReply): string {
  return reply.text ?? (reply.functionCalls?.length ? '' : DEFAULT_TEXT);
}

/** Streamed text pieces: one per word, keeping the leading whitespace. */
function pieces(text: string): string[] {
  return text.match(/\s*\S+/g) ?? [];
}

function usageOf(reply: GeminiMockReply): GeminiMockUsage {
  const candidates = pieces(textOf(reply)).length + (reply.functionCalls?.length ?? 0) * 10;
  const u = { promptTokenCount: 12, candidatesTokenCount: candidates, ...reply.usage };
  return { ...u, totalTokenCount: u.totalTokenCount ?? u.promptTokenCount + u.candidatesTokenCount + (u.thoughtsTokenCount ?? 0) };
}

/** One GenerateContentResponse (without modelVersion / responseId). @see https://ai.google.dev/api/generate-content#v1beta.GenerateContentResponse */
function responseBody(
  reply: GeminiMockReply,
  text: string,
  calls: NonNullable<GeminiMockReply['functionCalls']>,
  last: boolean,
  usage: GeminiMockUsage,
): Record<string, unknown> {
  if (reply.blockReason) return { promptFeedback: { blockReason: reply.blockReason }, usageMetadata: usage };
  const parts: unknown[] = [];
  if (text || !calls.length) parts.push({ text });
  for (const c of calls) parts.push({ functionCall: { ...(c.id ? { id: c.id } : {}), name: c.name, args: c.args ?? {} } });
  const candidate: Record<string, unknown> = { content: { parts, role: 'model' }, index: 0 };
  if (last) candidate.finishReason = reply.finishReason ?? 'STOP';
  return { candidates: [candidate], usageMetadata: usage };
}

/** The SSE data events Gemini sends for this reply: a word per event, calls whole, finishReason on the last. */
function geminiStreamEvents(reply: GeminiMockReply, meta: { modelVersion: string; responseId: string }): string[] {
  const usage = usageOf(reply);
  if (reply.blockReason) return [JSON.stringify({ ...responseBody(reply, '', [], true, usage), ...meta })];
  const words = pieces(textOf(reply));
  const calls = reply.functionCalls ?? [];
  const steps: Array<{ text: string; calls: typeof calls }> = words.map((w) => ({ text: w, calls: [] }));
  if (calls.length) steps.push({ text: '', calls });
  if (!steps.length) steps.push({ text: '', calls: [] });
  return steps.map((s, i) => {
    const last = i === steps.length - 1;
    // usageMetadata is cumulative: candidates grow with each event, the last one carries the totals
    const partial = last ? usage : { ...usage, candidatesTokenCount: i + 1, totalTokenCount: usage.promptTokenCount + i + 1 };
    return JSON.stringify({ ...responseBody(reply, s.text, s.calls, last, partial), ...meta });
  });
}

async function streamReply(
  req: RecordedRequest,
  res: ServerResponse,
  reply: GeminiMockReply,
  meta: { modelVersion: string; responseId: string },
): Promise<void> {
  let events = geminiStreamEvents(reply, meta);
  if (reply.streamError) {
    const { code, status, message, afterEvents } = reply.streamError;
    events = [...events.slice(0, afterEvents ?? 1), JSON.stringify({ error: { code, message, status } })];
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  for (let i = 0; i < events.length; i++) {
    if (res.destroyed) return;
    if (reply.cutAfter !== undefined && i >= reply.cutAfter) return void res.socket?.destroy();
    if (reply.endAfter !== undefined && i >= reply.endAfter) return void res.end();
    if (reply.stallAfter !== undefined && i >= reply.stallAfter) return void (await req.closedEarly);
    // Google terminates SSE events with CRLF pairs
    res.write(`data: ${events[i]}\r\n\r\n`);
    if (reply.gapMs) await new Promise((r) => setTimeout(r, reply.gapMs));
  }
  res.end();
}

/** The conformance suite's default answer (types.ts). */
const CONFORMANCE_TEXT = 'Hello from the mock.';

/**
 * A conformance reply (test/providers/conformance/types.ts) as this mock's reply. Gemini counts cached tokens inside
 * `promptTokenCount` but thinking tokens beside `candidatesTokenCount`; text streams a word per event.
 * @see https://ai.google.dev/api/generate-content#UsageMetadata
 */
function toGeminiMockReply(r: ConformanceReply): GeminiMockReply {
  const text = r.text ?? (r.toolCalls?.length ? undefined : CONFORMANCE_TEXT);
  const u = r.usage ?? { input: 10, output: pieces(text ?? '').length };
  const out: GeminiMockReply = {
    text,
    functionCalls: r.toolCalls?.map((c) => ({ name: c.name, args: c.arguments })),
    usage: {
      promptTokenCount: u.input,
      candidatesTokenCount: u.output - (u.reasoning ?? 0),
      ...(u.reasoning !== undefined ? { thoughtsTokenCount: u.reasoning } : {}),
      ...(u.cachedRead !== undefined ? { cachedContentTokenCount: u.cachedRead } : {}),
    },
    gapMs: r.gapMs,
    hang: r.hang,
    cutAfter: r.cutAfter,
    stallAfter: r.stallAfter,
  };
  if (r.fail) out.fail = { status: r.fail.status, message: r.fail.message, retryAfter: r.fail.retryAfterSeconds };
  return out;
}

/** A Gemini mock driven by conformance replies; `url` is the base URL (the adapter appends /v1beta/models/…). */
export async function startGeminiConformanceMock(): Promise<ConformanceMock> {
  const mock = await startGeminiMock();
  return {
    url: mock.url,
    requests: mock.requests,
    reply: (r) => mock.reply(toGeminiMockReply(r)),
    replyOnce: (r) => mock.replyOnce(toGeminiMockReply(r)),
    close: () => mock.close(),
  };
}
