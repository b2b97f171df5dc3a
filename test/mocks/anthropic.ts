/**
 * A loopback Anthropic Messages API (`POST /v1/messages`) speaking the real wire format, plain and
 * streamed, scriptable per test.
 *
 * ```ts
 * const mock = await startAnthropicMock();
 * adapterOpts.baseUrl = mock.url;                       // the adapter appends /v1/messages
 * mock.reply({ text: 'Hi there', usage: { input_tokens: 9, output_tokens: 2 } });
 * mock.reply({ toolCalls: [{ name: 'get_weather', input: { city: 'Paris' } }] });
 * mock.replyOnce({ fail: { status: 529 } });            // next request only, then the default again
 * mock.reply({ text: 'a b c', gapMs: 100 });             // stream: 100 ms between SSE events
 * mock.reply({ cutAfter: 4 });                            // stream: socket destroyed after 4 events
 * mock.reply({ hang: true });                             // never answers (headers never sent)
 * mock.reply({ thinking: [{ thinking: 'Let me see', signature: 'sig1' }, { redacted: 'opaque' }], text: '42' });
 * mock.requests[0].body / .headers / .closedEarly         // what the adapter sent
 * await mock.close();
 * ```
 *
 * Like the real API it rejects a request without `x-api-key` (401), without `anthropic-version`,
 * `model`, `max_tokens` or `messages`, or with a `system` role inside `messages` (400).
 */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { ConformanceMock, ConformanceReply } from '../providers/conformance/types.js';
import { sendJson, startMockServer, type MockServer, type RecordedRequest } from './mock-server.js';

interface AnthropicMockUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens?: number;
  cache_read_input_tokens?: number;
}

export interface AnthropicMockReply {
  /** Answer text. @default 'Hello from Claude.' (none when `toolCalls` are set) */
  text?: string;
  /**
   * Extended thinking blocks before the text: `thinking` with its `signature`, or `redacted_thinking` (`redacted`: its
   * data). Streamed as Anthropic streams them: content_block_start with empty thinking, thinking_delta per word,
   * one signature_delta, content_block_stop.
   * @see https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking
   * @see https://docs.anthropic.com/en/docs/build-with-claude/streaming#streaming-with-extended-thinking
   */
  thinking?: Array<{ thinking: string; signature: string } | { redacted: string }>;
  /** tool_use blocks after the text; ids default to a fresh `toolu_…` (unique, as Anthropic's are). */
  toolCalls?: Array<{ id?: string; name: string; input?: Record<string, unknown> }>;
  /** @default 'tool_use' with tool calls, else 'end_turn' */
  stopReason?: 'end_turn' | 'max_tokens' | 'stop_sequence' | 'tool_use' | 'refusal' | 'pause_turn';
  /** Reported usage (the stream reports output_tokens cumulatively in message_delta). @default { input_tokens: 12, output_tokens: <pieces> } */
  usage?: Partial<AnthropicMockUsage>;
  /** @default the requested model */
  model?: string;
  /** @default msg_mock_<n> */
  id?: string;
  /** Stream: delay between SSE events. @default 0 */
  gapMs?: number;
  /** Stream: destroy the socket after this many SSE events (no message_stop). */
  cutAfter?: number;
  /** Stream: end the response cleanly after this many SSE events (a truncated stream without message_stop). */
  endAfter?: number;
  /** Stream: after this many SSE events, stop sending but keep the connection open. */
  stallAfter?: number;
  /** Stream: send an `error` event after this many events (default after the first text delta) and end. */
  streamError?: { type: string; message: string; afterEvents?: number };
  /** Answer with an HTTP error in Anthropic's error body. */
  fail?: {
    status: number;
    /** @default the type Anthropic uses for the status (e.g. 529 → overloaded_error) */
    type?: string;
    message?: string;
    /** `retry-after` header value (seconds). */
    retryAfter?: number | string;
  };
  /** Never answer: no headers, no body, until the client gives up. */
  hang?: boolean;
}

export interface AnthropicMock extends MockServer {
  /** Sets the reply for every following request (until changed). */
  reply(reply: AnthropicMockReply): void;
  /** Queues a reply for the next request only; queued replies are used before the default one. */
  replyOnce(reply: AnthropicMockReply): void;
  /** The last recorded request. */
  last(): RecordedRequest;
}

/** The error type Anthropic sends for each status. @see https://docs.anthropic.com/en/api/errors */
const ANTHROPIC_ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

const DEFAULT_TEXT = 'Hello from Claude.';

export async function startAnthropicMock(initial: AnthropicMockReply = {}): Promise<AnthropicMock> {
  let current = initial;
  const queue: AnthropicMockReply[] = [];
  let seq = 0;
  const server = await startMockServer(async (req, res) => {
    const reply = queue.shift() ?? current;
    const n = ++seq;
    if (reply.hang) return void (await req.closedEarly);
    if (req.method !== 'POST' || req.path !== '/v1/messages') return sendError(res, 404, 'not_found_error', `Not found: ${req.path}`);
    const invalid = validate(req);
    if (invalid) return sendError(res, invalid.status, ANTHROPIC_ERROR_TYPES[invalid.status], invalid.message);
    if (reply.fail) {
      const { status, type, message, retryAfter } = reply.fail;
      const headers: Record<string, string> = retryAfter !== undefined ? { 'retry-after': String(retryAfter) } : {};
      return sendError(res, status, type ?? ANTHROPIC_ERROR_TYPES[status] ?? 'api_error', message ?? defaultMessage(status), headers);
    }
    const model = reply.model ?? (req.body.model as string);
    const id = reply.id ?? `msg_mock_${n}`;
    if (req.body.stream === true) return streamReply(req, res, reply, id, model);
    sendJson(res, 200, messageBody(reply, id, model), { 'request-id': `req_mock_${n}` });
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
      if (!r) throw new Error('anthropic mock: no request recorded');
      return r;
    },
  };
}

function validate(req: RecordedRequest): { status: number; message: string } | undefined {
  if (!req.headers['x-api-key']) return { status: 401, message: 'x-api-key header is required' };
  if (!req.headers['anthropic-version']) return { status: 400, message: 'anthropic-version: header is required' };
  const b = req.body as Record<string, unknown> | undefined;
  if (!b || typeof b !== 'object') return { status: 400, message: 'Request body must be JSON' };
  if (typeof b.model !== 'string') return { status: 400, message: 'model: Field required' };
  if (typeof b.max_tokens !== 'number') return { status: 400, message: 'max_tokens: Field required' };
  if (!Array.isArray(b.messages)) return { status: 400, message: 'messages: Field required' };
  for (const [i, m] of (b.messages as Array<{ role?: string }>).entries()) {
    if (m.role !== 'user' && m.role !== 'assistant') {
      return { status: 400, message: `messages.${i}.role: Input should be 'user' or 'assistant'` };
    }
  }
  return validateThinking(b);
}

/**
 * The extended-thinking rules Anthropic enforces, with its messages.
 * @see https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking#feature-compatibility
 */
function validateThinking(b: Record<string, unknown>): { status: number; message: string } | undefined {
  const thinking = b.thinking as { type?: string; budget_tokens?: number } | undefined;
  if (thinking?.type !== 'enabled') return undefined;
  const budget = thinking.budget_tokens ?? 0;
  if (budget < 1024) return { status: 400, message: 'thinking.enabled.budget_tokens: Input should be greater than or equal to 1024' };
  if ((b.max_tokens as number) <= budget) return { status: 400, message: '`max_tokens` must be greater than `thinking.budget_tokens`.' };
  if (b.temperature !== undefined && b.temperature !== 1) return { status: 400, message: '`temperature` may only be set to 1 when thinking is enabled.' };
  if (typeof b.top_p === 'number' && b.top_p < 0.95) return { status: 400, message: '`top_p` must be greater than or equal to 0.95 or unset when thinking is enabled.' };
  const choice = (b.tool_choice as { type?: string } | undefined)?.type;
  if (choice === 'any' || choice === 'tool') return { status: 400, message: 'Thinking may not be enabled when tool_choice forces tool use.' };
  return undefined;
}

function defaultMessage(status: number): string {
  if (status === 529) return 'Overloaded';
  if (status === 429) return 'Number of request tokens has exceeded your per-minute rate limit';
  return `Mock error ${status}`;
}

function sendError(res: ServerResponse, status: number, type: string, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { type: 'error', error: { type, message } }, headers);
}

function textOf(reply: AnthropicMockReply): string {
  return reply.text ?? (reply.toolCalls?.length ? '' : DEFAULT_TEXT);
}

/** Streamed text pieces: one per word, keeping the leading whitespace. */
function pieces(text: string): string[] {
  return text.match(/\s*\S+/g) ?? [];
}

function toolId(reply: AnthropicMockReply, i: number): string {
  return reply.toolCalls?.[i]?.id ?? `toolu_${randomUUID().replace(/-/g, '').slice(0, 24)}`;
}

function stopReasonOf(reply: AnthropicMockReply): string {
  return reply.stopReason ?? (reply.toolCalls?.length ? 'tool_use' : 'end_turn');
}

function usageOf(reply: AnthropicMockReply): AnthropicMockUsage {
  const output = pieces(textOf(reply)).length + (reply.toolCalls?.length ?? 0) * 10;
  return { input_tokens: 12, output_tokens: output, ...reply.usage };
}

function messageBody(reply: AnthropicMockReply, id: string, model: string): unknown {
  const content: unknown[] = [];
  for (const t of reply.thinking ?? []) {
    content.push('redacted' in t ? { type: 'redacted_thinking', data: t.redacted } : { type: 'thinking', thinking: t.thinking, signature: t.signature });
  }
  const text = textOf(reply);
  if (text) content.push({ type: 'text', text });
  reply.toolCalls?.forEach((c, i) => content.push({ type: 'tool_use', id: toolId(reply, i), name: c.name, input: c.input ?? {} }));
  return {
    id,
    type: 'message',
    role: 'assistant',
    model,
    content,
    stop_reason: stopReasonOf(reply),
    stop_sequence: null,
    usage: usageOf(reply),
  };
}

/** The SSE events Anthropic sends for this reply, in order. @see https://docs.anthropic.com/en/docs/build-with-claude/streaming */
function anthropicStreamEvents(reply: AnthropicMockReply, id: string, model: string): Array<{ event: string; data: string }> {
  const events: Array<{ event: string; data: unknown }> = [];
  const usage = usageOf(reply);
  const startUsage = { ...usage, output_tokens: 1 };
  events.push({
    event: 'message_start',
    data: {
      type: 'message_start',
      message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: startUsage },
    },
  });
  events.push({ event: 'ping', data: { type: 'ping' } });
  let block = 0;
  for (const t of reply.thinking ?? []) {
    if ('redacted' in t) {
      events.push({ event: 'content_block_start', data: { type: 'content_block_start', index: block, content_block: { type: 'redacted_thinking', data: t.redacted } } });
    } else {
      events.push({ event: 'content_block_start', data: { type: 'content_block_start', index: block, content_block: { type: 'thinking', thinking: '' } } });
      for (const p of pieces(t.thinking)) {
        events.push({ event: 'content_block_delta', data: { type: 'content_block_delta', index: block, delta: { type: 'thinking_delta', thinking: p } } });
      }
      events.push({ event: 'content_block_delta', data: { type: 'content_block_delta', index: block, delta: { type: 'signature_delta', signature: t.signature } } });
    }
    events.push({ event: 'content_block_stop', data: { type: 'content_block_stop', index: block } });
    block++;
  }
  const text = textOf(reply);
  if (text) {
    events.push({ event: 'content_block_start', data: { type: 'content_block_start', index: block, content_block: { type: 'text', text: '' } } });
    for (const p of pieces(text)) {
      events.push({ event: 'content_block_delta', data: { type: 'content_block_delta', index: block, delta: { type: 'text_delta', text: p } } });
    }
    events.push({ event: 'content_block_stop', data: { type: 'content_block_stop', index: block } });
    block++;
  }
  reply.toolCalls?.forEach((c, i) => {
    events.push({
      event: 'content_block_start',
      data: { type: 'content_block_start', index: block, content_block: { type: 'tool_use', id: toolId(reply, i), name: c.name, input: {} } },
    });
    const json = JSON.stringify(c.input ?? {});
    const half = Math.ceil(json.length / 2);
    // Anthropic opens with an empty partial_json, then splits the JSON anywhere
    for (const part of ['', json.slice(0, half), json.slice(half)]) {
      events.push({
        event: 'content_block_delta',
        data: { type: 'content_block_delta', index: block, delta: { type: 'input_json_delta', partial_json: part } },
      });
    }
    events.push({ event: 'content_block_stop', data: { type: 'content_block_stop', index: block } });
    block++;
  });
  events.push({
    event: 'message_delta',
    data: { type: 'message_delta', delta: { stop_reason: stopReasonOf(reply), stop_sequence: null }, usage: { output_tokens: usage.output_tokens } },
  });
  events.push({ event: 'message_stop', data: { type: 'message_stop' } });
  return events.map((e) => ({ event: e.event, data: JSON.stringify(e.data) }));
}

async function streamReply(req: RecordedRequest, res: ServerResponse, reply: AnthropicMockReply, id: string, model: string): Promise<void> {
  let events = anthropicStreamEvents(reply, id, model);
  if (reply.streamError) {
    const { type, message, afterEvents } = reply.streamError;
    const firstDelta = events.findIndex((e) => e.event === 'content_block_delta');
    const at = afterEvents ?? (firstDelta >= 0 ? firstDelta + 1 : 1);
    events = [...events.slice(0, at), { event: 'error', data: JSON.stringify({ type: 'error', error: { type, message } }) }];
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'request-id': `req_${id}` });
  for (let i = 0; i < events.length; i++) {
    if (res.destroyed) return;
    if (reply.cutAfter !== undefined && i >= reply.cutAfter) return void res.socket?.destroy();
    if (reply.endAfter !== undefined && i >= reply.endAfter) return void res.end();
    if (reply.stallAfter !== undefined && i >= reply.stallAfter) return void (await req.closedEarly);
    res.write(`event: ${events[i].event}\ndata: ${events[i].data}\n\n`);
    if (reply.gapMs) await new Promise((r) => setTimeout(r, reply.gapMs));
  }
  res.end();
}

/** The conformance suite's default answer (types.ts). */
const CONFORMANCE_TEXT = 'Hello from the mock.';
/** SSE events before the first text delta: message_start, ping, content_block_start. */
const EVENTS_BEFORE_TEXT = 3;

/**
 * A conformance reply (test/providers/conformance/types.ts) as this mock's reply. The suite's input total counts
 * cached tokens; Anthropic's `input_tokens` does not (the cache read and write counts are reported beside it).
 * @see https://docs.anthropic.com/en/api/messages#response-usage
 */
function toAnthropicMockReply(r: ConformanceReply): AnthropicMockReply {
  const text = r.text ?? (r.toolCalls?.length ? undefined : CONFORMANCE_TEXT);
  const u = r.usage ?? { input: 10, output: pieces(text ?? '').length };
  const out: AnthropicMockReply = {
    text,
    toolCalls: r.toolCalls?.map((c) => ({ name: c.name, input: c.arguments })),
    usage: {
      input_tokens: u.input - (u.cachedRead ?? 0) - (u.cacheWrite ?? 0),
      output_tokens: u.output,
      ...(u.cachedRead !== undefined ? { cache_read_input_tokens: u.cachedRead } : {}),
      ...(u.cacheWrite !== undefined ? { cache_creation_input_tokens: u.cacheWrite } : {}),
    },
    gapMs: r.gapMs,
    hang: r.hang,
  };
  if (r.fail) out.fail = { status: r.fail.status, message: r.fail.message, retryAfter: r.fail.retryAfterSeconds };
  if (r.cutAfter !== undefined) out.cutAfter = EVENTS_BEFORE_TEXT + r.cutAfter;
  if (r.stallAfter !== undefined) out.stallAfter = EVENTS_BEFORE_TEXT + r.stallAfter;
  return out;
}

/** An Anthropic mock driven by conformance replies; `url` is the base URL (the adapter appends /v1/messages). */
export async function startAnthropicConformanceMock(): Promise<ConformanceMock> {
  const mock = await startAnthropicMock();
  return {
    url: mock.url,
    requests: mock.requests,
    reply: (r) => mock.reply(toAnthropicMockReply(r)),
    replyOnce: (r) => mock.replyOnce(toAnthropicMockReply(r)),
    close: () => mock.close(),
  };
}
