/*
 * A step added to the pipeline (as the cache and guardrail issues will) takes effect on every surface: one that
 * answers instead of the upstream, one that replaces the answer afterwards, one that refuses it. The steps here are
 * built in the test and handed to createApp; the gateway's own list (PIPELINE) is the one they extend.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { PIPELINE, type Step } from '../../src/gateway/pipeline.js';
import type { ChatResponse } from '../../src/providers/types.js';
import { createEchoAdapter } from '../../src/providers/echo/index.js';
import { sseCollect } from '../kit/sse.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { ok } from './helpers.js';

const lastUserText = (inv: Parameters<NonNullable<Step['before']>>[0]) =>
  [...(inv.request?.messages ?? [])].reverse().find((m) => m.role === 'USER')?.content ?? '';

/** Answers any message containing "canned" itself, as a cache hit would. */
const cannedAnswer: Step = {
  name: 'canned-answer',
  before(inv) {
    if (!lastUserText(inv).includes('canned')) return;
    inv.answer = {
      response: {
        id: 'canned',
        upstreamModel: 'canned-model',
        content: 'from the step',
        toolCalls: [{ id: 'call_1', name: 'lookup', arguments: '{"q":1}' }],
        finishReason: 'TOOL_CALLS',
        usage: { promptTokens: 2, completionTokens: 3, totalTokens: 5, exact: true },
      },
      provider: 'step-provider',
      upstreamModel: 'canned-model',
      pricedBy: inv.resolved.prices,
      attempts: 0,
      source: 'canned-answer',
    };
  },
};

/** What every after-step saw, by the message that asked. */
const seen = new Map<string, { source: string; content: string | null }>();

/** Upper-cases answers to "shout …", refuses answers containing "forbidden", and notes what it saw. */
const judge: Step = {
  name: 'judge',
  after(inv) {
    const res = inv.answer!.response as ChatResponse;
    seen.set(lastUserText(inv), { source: inv.answer!.source, content: res.content });
    if (res.content?.includes('forbidden')) throw new GatewayError('FORBIDDEN', 'The answer was refused by a guardrail');
    if (!lastUserText(inv).startsWith('shout')) return;
    // a replaced answer is what gets settled and recorded, its usage included
    const usage = { ...res.usage, completionTokens: 99, totalTokens: res.usage.promptTokens + 99 };
    inv.answer = { ...inv.answer!, response: { ...res, content: res.content!.toUpperCase(), usage } };
  },
};

/** The steps after one that answered are skipped: this one notes every call it sees. */
const reached = new Set<string>();
const tripwire: Step = {
  name: 'tripwire',
  before(inv) {
    reached.add(lastUserText(inv));
  },
};

/** On "mask …" streams: the client gets every "o" as "0" and a "!" at the end; text holding "boom" is refused. */
const masker: Step = {
  name: 'masker',
  before(inv) {
    if (!lastUserText(inv).includes('mask')) return;
    inv.outputFilters.push({
      write: (text) => {
        if (text.includes('boom')) throw new GatewayError('GUARDRAIL_BLOCKED', 'boom is not allowed', { policy: 'test' });
        return text.replaceAll('o', '0');
      },
      end: () => '!',
    });
  },
};

const STREAM = `subscription($input: ChatInput!) { chatStream(input: $input) {
  delta toolCalls { index id name argumentsDelta } finishReason usage { promptTokens completionTokens } } }`;
const CHAT = `mutation($input: ChatInput!) { chat(input: $input) {
  id provider upstreamModel attempts finishReason message { content toolCalls { id name arguments } } usage { promptTokens completionTokens } } }`;
const input = (content: string) => ({ input: { model: 'echo', messages: [{ role: 'USER', content }] } });

describe('a step added to the invocation pipeline', () => {
  let gw: TestGateway;
  let upstreamCalls = 0;

  beforeAll(async () => {
    const echo = createEchoAdapter();
    gw = await startGateway({}, {
      // the onion: judge's after wraps whatever the steps after it (or the upstream) answered
      steps: [...PIPELINE, judge, masker, cannedAnswer, tripwire],
      adapters: {
        ECHO: {
          ...echo,
          chat: (req, o) => (upstreamCalls++, echo.chat(req, o)),
          stream: (req, o) => (upstreamCalls++, echo.stream(req, o)),
        },
      },
    });
  });
  afterAll(() => gw?.stop());

  it('answers in place of the upstream for chat, chatStream and REST, and its answer is recorded', async () => {
    const before = upstreamCalls;
    const chat = ok(await gw.gql(CHAT, input('canned please')));
    expect(chat.chat).toMatchObject({
      provider: 'step-provider', upstreamModel: 'canned-model', attempts: 0, finishReason: 'TOOL_CALLS',
      message: { content: 'from the step', toolCalls: [{ id: 'call_1', name: 'lookup', arguments: '{"q":1}' }] },
      usage: { promptTokens: 2, completionTokens: 3 },
    });

    const events = await sseCollect(gw.url, STREAM, input('canned stream'), gw.adminKey);
    const chunks = events.map((e) => e.data!.chatStream);
    expect(chunks.map((c) => c.delta).join('')).toBe('from the step');
    expect(chunks.flatMap((c) => c.toolCalls ?? [])).toEqual([{ index: 0, id: 'call_1', name: 'lookup', argumentsDelta: '{"q":1}' }]);
    expect(chunks.at(-1)).toMatchObject({ finishReason: 'TOOL_CALLS', usage: { promptTokens: 2, completionTokens: 3 } });

    const rest = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'echo', messages: [{ role: 'user', content: 'canned rest' }] }),
    });
    expect(rest.status).toBe(200);
    expect((await rest.json()).choices[0].message.content).toBe('from the step');

    expect(upstreamCalls).toBe(before);
    await gw.flushUsage();
    type Node = { invocationId: string; provider: string | null; upstreamModel: string | null; attempts: number; status: string; streamed: boolean; promptTokens: number };
    const usage = ok(await gw.gql<{ usage: { edges: Array<{ node: Node }> } }>(`{ usage(first: 10) { edges { node { invocationId provider upstreamModel attempts status streamed promptTokens } } } }`));
    const record = usage.usage.edges.map((e) => e.node).find((n) => n.invocationId === chat.chat.id);
    expect(record).toMatchObject({ provider: 'step-provider', upstreamModel: 'canned-model', attempts: 0, status: 'OK', streamed: false, promptTokens: 2 });
    // an after-step placed before the answering step judges its answer too; the step after it never ran
    expect(seen.get('canned please')).toEqual({ source: 'canned-answer', content: 'from the step' });
    expect([...reached].filter((t) => t.includes('canned'))).toEqual([]);
  });

  it("lets an after-step read and replace the upstream's answer; a stream's is the text it relayed", async () => {
    const before = upstreamCalls;
    const chat = ok(await gw.gql(CHAT, input('shout this')));
    expect(chat.chat.message.content).toBe('ECHO: SHOUT THIS');
    expect(chat.chat.usage.completionTokens).toBe(99);
    await gw.flushUsage();
    const records = ok(await gw.gql<{ usage: { edges: Array<{ node: { invocationId: string; completionTokens: number } }> } }>(
      `{ usage(first: 20) { edges { node { invocationId completionTokens } } } }`,
    ));
    expect(records.usage.edges.find((e) => e.node.invocationId === chat.chat.id)?.node.completionTokens).toBe(99);
    expect(seen.get('shout this')).toEqual({ source: 'upstream', content: 'echo: shout this' });

    const events = await sseCollect(gw.url, STREAM, input('relay these words'), gw.adminKey);
    const text = events.map((e) => e.data!.chatStream.delta).join('');
    expect(text).toBe('echo: relay these words');
    expect(seen.get('relay these words')).toEqual({ source: 'upstream', content: text });
    expect(upstreamCalls).toBe(before + 2);
    expect(reached.has('shout this') && reached.has('relay these words')).toBe(true);
  });

  it('lets an after-step refuse an answer: chat gets the error, a stream ends with an ERROR chunk and the error', async () => {
    const chat = await gw.gql(CHAT, input('say forbidden'));
    expect(chat.errors?.[0]).toMatchObject({ message: 'The answer was refused by a guardrail', extensions: { code: 'FORBIDDEN' } });

    const events = await sseCollect(gw.url, STREAM, input('stream forbidden'), gw.adminKey);
    const last = events.at(-1)!;
    expect(last.errors?.[0]).toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    expect(events.some((e) => e.data?.chatStream?.finishReason === 'ERROR')).toBe(true);

    await gw.flushUsage();
    type Node = { errorCode: string | null; streamed: boolean; completionTokens: number };
    const usage = ok(await gw.gql<{ usage: { edges: Array<{ node: Node }> } }>(`{ usage(first: 10, filter: { status: ERROR }) { edges { node { errorCode streamed completionTokens } } } }`));
    const refused = usage.usage.edges.map((e) => e.node).filter((n) => n.errorCode === 'FORBIDDEN');
    // the upstream did answer: its tokens stay on the record of the refused call
    expect(refused.map((n) => n.streamed).sort()).toEqual([false, true]);
    expect(refused.every((n) => n.completionTokens > 0)).toBe(true);
  });

  it("passes a stream's text, relayed or replayed, through the output filters a step set; a filter may refuse it", async () => {
    const relayed = await sseCollect(gw.url, STREAM, input('mask some words'), gw.adminKey);
    expect(relayed.map((e) => e.data!.chatStream.delta).join('')).toBe('ech0: mask s0me w0rds!');
    expect(relayed.at(-1)!.data!.chatStream.finishReason).toBe('STOP');
    // the recorded answer is the upstream's own text
    expect(seen.get('mask some words')).toEqual({ source: 'upstream', content: 'echo: mask some words' });

    const replayed = await sseCollect(gw.url, STREAM, input('canned mask'), gw.adminKey);
    expect(replayed.map((e) => e.data!.chatStream.delta).join('')).toBe('fr0m the step!');

    const refused = await sseCollect(gw.url, STREAM, input('mask boom now'), gw.adminKey);
    expect(refused.at(-1)!.errors?.[0]).toMatchObject({ message: 'boom is not allowed', extensions: { code: 'GUARDRAIL_BLOCKED', policy: 'test' } });
    expect(refused.some((e) => e.data?.chatStream?.finishReason === 'ERROR')).toBe(true);
    await gw.flushUsage();
    const usage = ok(await gw.gql<{ usage: { edges: Array<{ node: { errorCode: string | null; status: string } }> } }>(
      `{ usage(first: 5, filter: { status: ERROR }) { edges { node { errorCode status } } } }`,
    ));
    expect(usage.usage.edges.map((e) => e.node.errorCode)).toContain('GUARDRAIL_BLOCKED');
  });
});
