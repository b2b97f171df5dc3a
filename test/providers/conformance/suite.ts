/*
 * The one adapter test suite every provider kind passes. A kind's test file calls
 * `describeAdapterConformance(subject)` with its adapter and a mock that speaks its wire format (types.ts); the
 * suite checks, through the adapter's public surface only, what the gateway relies on whatever the provider:
 * chat, stream order and completeness, tools, usage, error classification, timeouts, cancel and secrecy.
 *
 * Every check is kind-neutral: the suite never parses a provider's request body, it only looks for the values
 * it sent (a tool name, a tool result) in the raw bytes the mock received.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { closeUpstreamAgent } from '../../../src/providers/http.js';
import {
  UpstreamError,
  type CallOptions,
  type ChatRequest,
  type StreamChunk,
  type ToolDefinition,
  type Usage,
} from '../../../src/providers/types.js';
import type { RecordedRequest } from '../../mocks/mock-server.js';
import { AttemptsFailed } from '../../../src/gateway/attempt.js';
import { executorFixture, type ExecutorFixture } from './executor-fixture.js';
import type { ConformanceMock, ConformanceReply, ConformanceSubject, ConformanceUsage } from './types.js';

/** Generous for calls that must succeed: a loaded 2-core machine may take seconds to answer a loopback call. */
const CALL_TIMEOUT_MS = 10_000;
/** The adapter's timeout in the stall/hang checks: short, so the checks are fast; they pass however late the mock is. */
const SHORT_TIMEOUT_MS = 500;
/** How long a timed-out or cancelled call may take to give up, at most (far above SHORT_TIMEOUT_MS, for load). */
const GIVE_UP_WITHIN_MS = 8_000;
/** How long the upstream connection may stay open after a cancel. */
const CLOSE_WITHIN_MS = 3_000;

const WEATHER_TOOL: ToolDefinition = {
  name: 'get_weather',
  description: 'conformance-tool-description: the weather in a city',
  parameters: {
    type: 'object',
    properties: { city: { type: 'string' }, days: { type: 'integer' } },
    required: ['city'],
  },
};
const TIME_TOOL: ToolDefinition = {
  name: 'get_time',
  description: 'The local time in a time zone',
  parameters: { type: 'object', properties: { zone: { type: 'string' } }, required: ['zone'] },
};
const TOOL_CALLS = [
  { name: 'get_weather', arguments: { city: 'Paris', days: 3 } },
  { name: 'get_time', arguments: { zone: 'Europe/Paris' } },
];

type TimedChunk = StreamChunk & { at: number };

/** Settles with `p`, or rejects naming `what` when it takes longer than `ms` (a hang fails, it does not time out the test). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every chunk of a stream with its arrival time, and the error that ended it (if any). */
async function drain(stream: AsyncIterable<StreamChunk>): Promise<{ chunks: TimedChunk[]; error?: unknown }> {
  const chunks: TimedChunk[] = [];
  try {
    for await (const c of stream) chunks.push({ ...c, at: Date.now() });
    return { chunks };
  } catch (error) {
    return { chunks, error };
  }
}

const textOf = (chunks: StreamChunk[]) => chunks.map((c) => c.delta).join('');

/** Streamed tool call deltas assembled per index, in index order. */
function assembleToolCalls(chunks: StreamChunk[]): Array<{ id?: string; name: string; arguments: string }> {
  const calls = new Map<number, { id?: string; name: string; arguments: string }>();
  for (const c of chunks) {
    for (const d of c.toolCalls ?? []) {
      const call = calls.get(d.index) ?? { name: '', arguments: '' };
      call.id ??= d.id;
      call.name += d.name ?? '';
      call.arguments += d.argumentsDelta ?? '';
      calls.set(d.index, call);
    }
  }
  return [...calls.entries()].sort(([a], [b]) => a - b).map(([, call]) => call);
}

/** The usage a kind must report for a scripted one: the totals, and each part the kind can report. */
function expectUsage(usage: Usage | undefined, want: ConformanceUsage, reports: ConformanceSubject['reports']): void {
  expect(usage, 'usage').toBeDefined();
  expect(usage!.promptTokens, 'promptTokens (every input token, cached ones included)').toBe(want.input);
  expect(usage!.completionTokens, 'completionTokens (every output token, reasoning included)').toBe(want.output);
  expect(usage!.totalTokens, 'totalTokens').toBe(want.input + want.output);
  expect(usage!.exact, 'usage.exact').toBe(true);
  if (reports.cachedRead) expect(usage!.cachedReadTokens ?? 0, 'cachedReadTokens').toBe(want.cachedRead ?? 0);
  if (reports.cacheWrite) expect(usage!.cacheWriteTokens ?? 0, 'cacheWriteTokens').toBe(want.cacheWrite ?? 0);
  if (reports.reasoning) expect(usage!.reasoningTokens ?? 0, 'reasoningTokens').toBe(want.reasoning ?? 0);
}

export function describeAdapterConformance(subject: ConformanceSubject): void {
  const { adapter, model, reports } = subject;

  describe(`${subject.kind} adapter conformance`, () => {
    let mock: ConformanceMock;
    /** Requests recorded before the current test: each test looks only at its own. */
    let seen = 0;

    beforeAll(async () => {
      mock = await subject.startMock();
    });
    afterAll(async () => {
      await mock?.close();
      await closeUpstreamAgent();
    });
    beforeEach(() => {
      mock.reply({});
      seen = mock.requests.length;
    });

    const ownRequests = (): RecordedRequest[] => mock.requests.slice(seen);
    /** The requests of this test whose raw body contains `text` (a kind may also call a token endpoint). */
    const requestsWith = (text: string) => ownRequests().filter((r) => r.raw.includes(text));

    function options(over: Partial<CallOptions> = {}): CallOptions {
      return {
        ...subject.callOptions(mock),
        baseUrl: mock.url,
        signal: new AbortController().signal,
        timeoutMs: CALL_TIMEOUT_MS,
        ...over,
      };
    }

    /** Strings no error message may contain: the call's credential, and whatever else the kind names. */
    function secrets(): string[] {
      const credential = subject.callOptions(mock).apiKey;
      return [...(credential ? [credential] : []), ...(subject.secrets ?? [])].filter((s) => s.length >= 4);
    }

    /** The request the suite sends unless a test needs more: one user turn with a marker to find it upstream. */
    function chatRequest(over: Partial<ChatRequest> = {}): ChatRequest {
      return { model, messages: [{ role: 'USER', content: 'conformance-ping-7 say hello' }], maxTokens: 256, ...over };
    }

    /** The error a call failed with: always an UpstreamError, never carrying a secret. */
    function asUpstreamError(e: unknown, what: string): UpstreamError {
      expect(e, `${what}: expected a failure`).toBeDefined();
      expect(e, `${what}: an UpstreamError (got ${String(e)})`).toBeInstanceOf(UpstreamError);
      const err = e as UpstreamError;
      for (const s of secrets()) expect(err.message.includes(s), `${what}: the error message carries the credential`).toBe(false);
      return err;
    }

    async function chatFailure(reply: ConformanceReply, over: Partial<CallOptions> = {}): Promise<UpstreamError> {
      mock.reply(reply);
      const outcome = await within(
        adapter.chat(chatRequest(), options(over)).then(
          (r) => ({ ok: r }),
          (error: unknown) => ({ error }),
        ),
        GIVE_UP_WITHIN_MS + (over.timeoutMs ?? CALL_TIMEOUT_MS),
        'chat',
      );
      expect('ok' in outcome, `chat must fail for ${JSON.stringify(reply)}`).toBe(false);
      return asUpstreamError((outcome as { error: unknown }).error, 'chat');
    }

    async function streamFailure(reply: ConformanceReply, over: Partial<CallOptions> = {}): Promise<{ error: UpstreamError; chunks: TimedChunk[] }> {
      mock.reply(reply);
      const { chunks, error } = await within(
        drain(adapter.stream(chatRequest(), options(over))),
        GIVE_UP_WITHIN_MS + (over.timeoutMs ?? CALL_TIMEOUT_MS),
        'stream',
      );
      expect(error, `stream must fail for ${JSON.stringify(reply)}`).toBeDefined();
      return { error: asUpstreamError(error, 'stream'), chunks };
    }

    describe('chat', () => {
      it('answers with the text, STOP and the upstream model', async () => {
        const text = 'The quick brown fox jumps over the lazy dog.';
        mock.reply({ text, usage: { input: 11, output: 9 } });
        const r = await adapter.chat(chatRequest(), options());
        expect(r.content).toBe(text);
        expect(r.finishReason).toBe('STOP');
        expect(r.upstreamModel).toBe(model);
        expect(r.toolCalls).toEqual([]);
        expect(typeof r.id === 'string' && r.id.length > 0, 'a response id').toBe(true);
        expect(requestsWith('conformance-ping-7'), 'the prompt reached the mock').toHaveLength(1);
      });

      it('sends the system prompt and every turn upstream', async () => {
        mock.reply({ text: 'ok' });
        const r = await adapter.chat(
          chatRequest({
            messages: [
              { role: 'SYSTEM', content: 'conformance-system-rule' },
              { role: 'USER', content: 'conformance-first-question' },
              { role: 'ASSISTANT', content: 'conformance-first-answer' },
              { role: 'USER', content: 'conformance-second-question' },
            ],
          }),
          options(),
        );
        expect(r.content).toBe('ok');
        const [sent] = requestsWith('conformance-second-question');
        expect(sent, 'the request reached the mock').toBeDefined();
        for (const t of ['conformance-system-rule', 'conformance-first-question', 'conformance-first-answer']) {
          expect(sent.raw, t).toContain(t);
        }
      });
    });

    describe('stream', () => {
      it('yields the text as it arrives, in order, assembling to the whole text', async () => {
        const text = 'one two three four five six seven eight';
        const gapMs = 40;
        mock.reply({ text, gapMs, usage: { input: 10, output: 8 } });
        const { chunks, error } = await drain(adapter.stream(chatRequest(), options()));
        expect(error).toBeUndefined();
        expect(textOf(chunks)).toBe(text);
        const withText = chunks.filter((c) => c.delta !== '');
        // one chunk per upstream event: the mock sends a word per event
        expect(withText.length, 'text chunks').toBeGreaterThanOrEqual(4);
        // not buffered to the end: the first words were yielded while the mock was still sending
        expect(withText[withText.length - 1].at - withText[0].at, 'time between the first and the last text chunk').toBeGreaterThanOrEqual(3 * gapMs);
      });

      it('ends with one chunk carrying finishReason STOP and the usage', async () => {
        mock.reply({ text: 'short answer here', usage: { input: 13, output: 3 } });
        const { chunks, error } = await drain(adapter.stream(chatRequest(), options()));
        expect(error).toBeUndefined();
        const last = chunks[chunks.length - 1];
        expect(last, 'a last chunk').toBeDefined();
        expect(last.finishReason).toBe('STOP');
        expectUsage(last.usage, { input: 13, output: 3 }, { cachedRead: false, cacheWrite: false, reasoning: false });
        expect(chunks.slice(0, -1).filter((c) => c.finishReason !== undefined), 'chunks before the last with a finishReason').toEqual([]);
      });
    });

    describe('tools', () => {
      it('sends the tool definitions upstream', async () => {
        mock.reply({ text: 'no tool needed' });
        const r = await adapter.chat(chatRequest({ tools: [WEATHER_TOOL, TIME_TOOL] }), options());
        expect(r.content).toBe('no tool needed');
        const [sent] = requestsWith('conformance-ping-7');
        expect(sent, 'the request reached the mock').toBeDefined();
        for (const t of ['get_weather', 'get_time', 'conformance-tool-description', '"city"', '"zone"']) expect(sent.raw, t).toContain(t);
      });

      it('parses tool calls (unary): names, JSON arguments, distinct ids, TOOL_CALLS', async () => {
        mock.reply({ toolCalls: TOOL_CALLS });
        const r = await adapter.chat(chatRequest({ tools: [WEATHER_TOOL, TIME_TOOL] }), options());
        expect(r.finishReason).toBe('TOOL_CALLS');
        expect(r.toolCalls.map((c) => c.name)).toEqual(['get_weather', 'get_time']);
        expect(r.toolCalls.map((c) => JSON.parse(c.arguments) as unknown)).toEqual(TOOL_CALLS.map((c) => c.arguments));
        const ids = r.toolCalls.map((c) => c.id);
        expect(ids.every((id) => typeof id === 'string' && id.length > 0), 'every call has an id').toBe(true);
        expect(new Set(ids).size, 'ids are distinct').toBe(ids.length);
      });

      it('streams tool call deltas that assemble to the JSON arguments', async () => {
        mock.reply({ toolCalls: TOOL_CALLS, usage: { input: 20, output: 15 } });
        const { chunks, error } = await drain(adapter.stream(chatRequest({ tools: [WEATHER_TOOL, TIME_TOOL] }), options()));
        expect(error).toBeUndefined();
        const calls = assembleToolCalls(chunks);
        expect(calls.map((c) => c.name)).toEqual(['get_weather', 'get_time']);
        expect(calls.map((c) => JSON.parse(c.arguments) as unknown)).toEqual(TOOL_CALLS.map((c) => c.arguments));
        const ids = calls.map((c) => c.id);
        expect(ids.every((id) => typeof id === 'string' && id.length > 0), 'every call has an id on its first delta').toBe(true);
        expect(new Set(ids).size, 'ids are distinct').toBe(ids.length);
        const last = chunks[chunks.length - 1];
        expect(last.finishReason).toBe('TOOL_CALLS');
        expectUsage(last.usage, { input: 20, output: 15 }, { cachedRead: false, cacheWrite: false, reasoning: false });
      });

      it('sends a tool-result turn upstream', async () => {
        mock.reply({ text: 'It is sunny in Paris.' });
        const r = await adapter.chat(
          chatRequest({
            tools: [WEATHER_TOOL],
            messages: [
              { role: 'USER', content: 'conformance-ping-7 weather in Paris?' },
              { role: 'ASSISTANT', content: null, toolCalls: [{ id: 'call_conf_1', name: 'get_weather', arguments: '{"city":"Paris"}' }] },
              { role: 'TOOL', toolCallId: 'call_conf_1', name: 'get_weather', content: 'conformance-sunny-22C' },
            ],
          }),
          options(),
        );
        expect(r.content).toBe('It is sunny in Paris.');
        const [sent] = requestsWith('conformance-sunny-22C');
        expect(sent, 'the tool result reached the mock').toBeDefined();
        expect(sent.raw).toContain('Paris');
      });
    });

    describe('usage', () => {
      const totals: ConformanceUsage = { input: 21, output: 9 };
      const none = { cachedRead: false, cacheWrite: false, reasoning: false };

      it('reports the upstream totals (unary and stream)', async () => {
        mock.reply({ text: 'counting tokens', usage: totals });
        expectUsage((await adapter.chat(chatRequest(), options())).usage, totals, none);
        const { chunks, error } = await drain(adapter.stream(chatRequest(), options()));
        expect(error).toBeUndefined();
        expectUsage(chunks[chunks.length - 1]?.usage, totals, none);
      });

      const parts: ConformanceUsage = {
        input: 40,
        output: 16,
        ...(reports.cachedRead ? { cachedRead: 8 } : {}),
        ...(reports.cacheWrite ? { cacheWrite: 6 } : {}),
        ...(reports.reasoning ? { reasoning: 5 } : {}),
      };
      const reported = Object.entries(reports)
        .filter(([, v]) => v)
        .map(([k]) => k)
        .join(', ');
      it.skipIf(!reported)(`reports the parts of the totals: ${reported || 'none'} (unary and stream)`, async () => {
        mock.reply({ text: 'cached and reasoned', usage: parts });
        expectUsage((await adapter.chat(chatRequest(), options())).usage, parts, reports);
        const { chunks, error } = await drain(adapter.stream(chatRequest(), options()));
        expect(error).toBeUndefined();
        expectUsage(chunks[chunks.length - 1]?.usage, parts, reports);
      });
    });

    describe('errors', () => {
      it('400: not retryable, with the provider message (chat and stream)', async () => {
        const message = 'conformance: temperature is out of range';
        for (const e of [await chatFailure({ fail: { status: 400, message } }), (await streamFailure({ fail: { status: 400, message } })).error]) {
          expect(e.status).toBe(400);
          expect(e.retryable).toBe(false);
          expect(e.timeout).toBe(false);
          expect(e.message).toContain(message);
        }
      });

      it('429: retryable, with retryAfterMs from the provider (chat and stream)', async () => {
        const fail = { status: 429, message: 'conformance: slow down', retryAfterSeconds: 7 };
        for (const e of [await chatFailure({ fail }), (await streamFailure({ fail })).error]) {
          expect(e.status).toBe(429);
          expect(e.retryable).toBe(true);
          expect(e.retryAfterMs).toBe(7_000);
          expect(e.message).toContain('conformance: slow down');
        }
      });

      it('500 and 503: retryable (chat and stream)', async () => {
        for (const status of [500, 503]) {
          const fail = { status, message: `conformance: server error ${status}` };
          for (const e of [await chatFailure({ fail }), (await streamFailure({ fail })).error]) {
            expect(e.status).toBe(status);
            expect(e.retryable).toBe(true);
            expect(e.timeout).toBe(false);
          }
        }
      });

      it('an error quoting the credential reaches the caller without it', async () => {
        const credential = subject.callOptions(mock).apiKey ?? 'no-credential';
        const fail = { status: 401, message: `conformance: incorrect API key provided: ${credential} (${secrets().join(' ')})` };
        for (const e of [await chatFailure({ fail }), (await streamFailure({ fail })).error]) {
          expect(e.status).toBe(401);
          expect(e.retryable).toBe(false);
          expect(e.message).toContain('incorrect API key provided');
        }
      });
    });

    describe('broken upstreams', () => {
      const text = 'alpha beta gamma delta epsilon zeta eta theta';

      it('a stream cut mid-way throws a retryable UpstreamError (not a timeout), after the text sent so far', async () => {
        const { error, chunks } = await streamFailure({ text, cutAfter: 2 });
        expect(error.retryable).toBe(true);
        expect(error.timeout).toBe(false);
        const got = textOf(chunks);
        expect(text.startsWith(got), `"${got}" is a prefix of the text`).toBe(true);
        expect(got.length).toBeLessThan(text.length);
        expect(chunks.some((c) => c.finishReason !== undefined), 'no finishReason on a cut stream').toBe(false);
      });

      it('a stream that stalls times out (retryable, timeout)', async () => {
        const started = Date.now();
        const { error, chunks } = await streamFailure({ text, stallAfter: 2 }, { timeoutMs: SHORT_TIMEOUT_MS });
        expect(error.timeout).toBe(true);
        expect(error.retryable).toBe(true);
        expect(Date.now() - started).toBeLessThan(GIVE_UP_WITHIN_MS);
        const got = textOf(chunks);
        expect(text.startsWith(got) && got.length < text.length, `"${got}" is a strict prefix of the text`).toBe(true);
      });

      it('an upstream that never answers times out (chat and stream)', async () => {
        for (const call of ['chat', 'stream'] as const) {
          const started = Date.now();
          const e =
            call === 'chat'
              ? await chatFailure({ hang: true }, { timeoutMs: SHORT_TIMEOUT_MS })
              : (await streamFailure({ hang: true }, { timeoutMs: SHORT_TIMEOUT_MS })).error;
          expect(e.timeout, `${call}: timeout`).toBe(true);
          expect(e.retryable, `${call}: retryable`).toBe(true);
          expect(Date.now() - started, `${call}: gave up in time`).toBeLessThan(GIVE_UP_WITHIN_MS);
        }
      });
    });

    describe('cancel', () => {
      const long = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ');

      /** Opens a slow stream and reads up to its first text chunk. */
      async function openSlowStream(ac: AbortController) {
        mock.reply({ text: long, gapMs: 50 });
        const iterator = adapter.stream(chatRequest(), options({ signal: ac.signal }))[Symbol.asyncIterator]();
        for (;;) {
          const first = await within(iterator.next(), CALL_TIMEOUT_MS, 'first chunk');
          expect(first.done, 'the stream ended before any text').toBeFalsy();
          if (first.value.delta) break;
        }
        const [sent] = requestsWith('conformance-ping-7');
        expect(sent, 'the stream request reached the mock').toBeDefined();
        return { iterator, sent };
      }

      /** The iterator has ended: next() finishes (done, or rejects) instead of yielding the rest of the text. */
      async function expectEnded(iterator: AsyncIterator<StreamChunk>, pending?: Promise<IteratorResult<StreamChunk>>): Promise<void> {
        let rest = '';
        const settle = async () => {
          let next = pending ?? iterator.next();
          for (;;) {
            const r = await next.catch(() => ({ done: true as const, value: undefined }));
            if (r.done) return;
            rest += r.value.delta;
            next = iterator.next();
          }
        };
        await within(settle(), GIVE_UP_WITHIN_MS, 'the iterator to end after the abort');
        expect(rest.length, 'text after the abort').toBeLessThan(long.length / 2);
      }

      it('aborting during a pending read closes the upstream connection and ends the iterator', async () => {
        const ac = new AbortController();
        const { iterator, sent } = await openSlowStream(ac);
        const pending = iterator.next();
        setTimeout(() => ac.abort(), 10);
        await expectEnded(iterator, pending);
        await within(sent.closedEarly, CLOSE_WITHIN_MS, 'the upstream connection to close');
      });

      it('aborting between reads closes the upstream connection too', async () => {
        const ac = new AbortController();
        const { iterator, sent } = await openSlowStream(ac);
        ac.abort();
        await within(sent.closedEarly, CLOSE_WITHIN_MS, 'the upstream connection to close');
        await expectEnded(iterator);
      });

      it('a consumer that stops reading releases the upstream connection', async () => {
        const ac = new AbortController();
        const { iterator, sent } = await openSlowStream(ac);
        expect(iterator.return, 'the iterator has return()').toBeTypeOf('function');
        await within(iterator.return!(undefined), CLOSE_WITHIN_MS, 'return()');
        await within(sent.closedEarly, CLOSE_WITHIN_MS, 'the upstream connection to close');
      });

      it('aborting a unary call that waits for headers rejects it and closes the connection', async () => {
        mock.reply({ hang: true });
        const ac = new AbortController();
        const call = adapter.chat(chatRequest(), options({ signal: ac.signal })).then(
          () => undefined,
          (e: unknown) => e,
        );
        // wait until the mock holds the request, then abort
        const deadline = Date.now() + CALL_TIMEOUT_MS;
        while (requestsWith('conformance-ping-7').length === 0 && Date.now() < deadline) await sleep(10);
        const [sent] = requestsWith('conformance-ping-7');
        expect(sent, 'the request reached the mock').toBeDefined();
        ac.abort();
        const e = await within(call, GIVE_UP_WITHIN_MS, 'the aborted chat to reject');
        expect(e, 'the aborted chat rejects').toBeDefined();
        await within(sent.closedEarly, CLOSE_WITHIN_MS, 'the upstream connection to close');
      });
    });

    describe('gateway retries (the executor around this adapter)', () => {
      let gateway: ExecutorFixture;
      beforeEach(() => {
        gateway = executorFixture({ kind: subject.kind, adapter, upstreamModel: model, provider: options(), timeoutMs: CALL_TIMEOUT_MS });
      });

      it('a 503 is retried and the next attempt answers (unary)', async () => {
        mock.reply({ text: 'answered on retry' });
        mock.replyOnce({ fail: { status: 503, message: 'conformance: overloaded' } });
        const outcome = await gateway.chat(chatRequest());
        expect(outcome.value.content).toBe('answered on retry');
        expect(outcome.attempts).toBe(2);
        expect(requestsWith('conformance-ping-7')).toHaveLength(2);
      });

      it('a stream that fails to open (500) is retried and the next attempt streams', async () => {
        mock.reply({ text: 'streamed on retry' });
        mock.replyOnce({ fail: { status: 500, message: 'conformance: internal' } });
        const { attempts, chunks } = await gateway.stream(chatRequest());
        expect(textOf(chunks)).toBe('streamed on retry');
        expect(chunks[chunks.length - 1].finishReason).toBe('STOP');
        expect(attempts).toBe(2);
      });

      it("a 429's retry-after is waited before the retry", async () => {
        mock.reply({ text: 'after the pause' });
        mock.replyOnce({ fail: { status: 429, message: 'conformance: slow down', retryAfterSeconds: 1 } });
        const started = Date.now();
        const outcome = await gateway.chat(chatRequest());
        expect(outcome.value.content).toBe('after the pause');
        expect(outcome.attempts).toBe(2);
        expect(Date.now() - started, 'waited for retry-after').toBeGreaterThanOrEqual(950);
      });

      it('a 400 is not retried', async () => {
        mock.reply({ fail: { status: 400, message: 'conformance: bad request' } });
        const e: unknown = await gateway.chat(chatRequest()).catch((err: unknown) => err);
        expect(e).toBeInstanceOf(AttemptsFailed);
        expect((e as AttemptsFailed).attempts).toBe(1);
        expect((e as AttemptsFailed).error.message).toContain('conformance: bad request');
        expect(requestsWith('conformance-ping-7')).toHaveLength(1);
      });
    });

    describe.skipIf(!subject.embeds)('embeddings', () => {
      it('returns one vector per input, all of the same size', async () => {
        const r = await adapter.embed!({ model: subject.embeddingModel ?? model, input: ['first text', 'second text'] }, options());
        expect(r.vectors).toHaveLength(2);
        const dims = r.vectors[0].length;
        expect(dims).toBeGreaterThan(0);
        for (const v of r.vectors) {
          expect(v).toHaveLength(dims);
          expect(v.every((x) => typeof x === 'number' && Number.isFinite(x))).toBe(true);
        }
        expect(typeof r.upstreamModel).toBe('string');
      });
    });
  });
}
