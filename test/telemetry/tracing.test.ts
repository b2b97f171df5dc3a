/**
 * Issue 26, traces: a gateway exporting OTLP/HTTP JSON to a loopback receiver. A call carrying the caller's
 * `traceparent` to a model whose first target answers 500 and whose second answers makes ONE trace under the
 * caller's trace id: the SERVER span, the invocation span with GenAI attributes, both attempt spans (the failed
 * one an error), the pipeline step spans and the usage write; the upstream that answered was told, in its own
 * traceparent, that the second attempt span is its parent. REST, graphql-ws and SSE calls make their traces too.
 */
import { randomBytes } from 'node:crypto';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { mockError, startOpenAIMock, type OpenAIMock } from '../mocks/openai.js';
import type { RecordedRequest } from '../mocks/mock-server.js';
import { createModel, createProvider, uniq, withTimeout } from '../gateway/helpers.js';
import { KIND, STATUS_ERROR, startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from './otlp-receiver.js';

let receiver: OtlpReceiver;
let bad: OpenAIMock;
let good: OpenAIMock;
let gw: TestGateway;
/** A model whose first target (priority 0) answers 500, its second (priority 1) answers. */
let model: string;
let goodUpstream: string;
let badUpstream: string;

const hex = (bytes: number) => randomBytes(bytes).toString('hex');

/** A client's own span: the trace id and span id it sends as `traceparent`. */
function clientSpan() {
  const traceId = hex(16);
  const spanId = hex(8);
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

const CHAT = 'mutation Chat($input: ChatInput!) { chat(input: $input) { id upstreamModel attempts finishReason usage { promptTokens completionTokens } } }';

async function graphqlChat(traceparent: string, viaYoga = false) {
  const headers: Record<string, string> = { 'content-type': 'application/json', authorization: `Bearer ${gw.adminKey}`, traceparent };
  // without an Accept the fast path leaves the request to Yoga
  if (!viaYoga) headers.accept = 'application/graphql-response+json, application/json';
  const res = await fetch(`${gw.url}/graphql`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ query: CHAT, variables: { input: { model, messages: [{ role: 'USER', content: 'hello there' }], temperature: 0.5, maxTokens: 50, topP: 0.9 } } }),
  });
  const body = (await res.json()) as { data?: { chat: { id: string; upstreamModel: string; attempts: number; finishReason: string; usage: { promptTokens: number; completionTokens: number } } }; errors?: unknown };
  expect(body.errors).toBeUndefined();
  return body.data!.chat;
}

/** The trace is complete once the SERVER span, the invocation span and the usage write span have arrived. */
const complete = (spans: ReceivedSpan[]) =>
  spans.some((s) => s.kind === KIND.SERVER) && spans.some((s) => s.name === `chat ${model}`) && spans.some((s) => s.name === 'gateway.usage.write');

/** The parts of one gateway trace, each checked to be where it belongs in the tree. */
function treeOf(spans: ReceivedSpan[], clientSpanId: string) {
  const server = spans.filter((s) => s.kind === KIND.SERVER);
  expect(server).toHaveLength(1);
  expect(server[0].parentSpanId).toBe(clientSpanId);
  const invocation = spans.filter((s) => s.name === `chat ${model}`);
  expect(invocation).toHaveLength(1);
  expect(invocation[0].kind).toBe(KIND.INTERNAL);
  expect(invocation[0].parentSpanId).toBe(server[0].spanId);
  const childrenOfInvocation = spans.filter((s) => s.parentSpanId === invocation[0].spanId);
  const attempts = childrenOfInvocation.filter((s) => s.kind === KIND.CLIENT).sort((a, b) => Number(a.attributes['gateway.attempt']) - Number(b.attributes['gateway.attempt']));
  const steps = childrenOfInvocation.filter((s) => s.name.startsWith('gateway.step '));
  const usageWrite = childrenOfInvocation.filter((s) => s.name === 'gateway.usage.write');
  expect(usageWrite).toHaveLength(1);
  // nothing in the trace hangs off anything else
  const known = new Set([clientSpanId, ...spans.map((s) => s.spanId)]);
  for (const s of spans) expect(known.has(s.parentSpanId), `${s.name}'s parent is in the trace`).toBe(true);
  return { server: server[0], invocation: invocation[0], attempts, steps, usageWrite: usageWrite[0] };
}

/** The W3C traceparent an upstream request carried: its trace id and parent (span) id. */
function upstreamParent(r: RecordedRequest): { traceId: string; parentId: string } {
  const tp = r.headers.traceparent;
  expect(typeof tp).toBe('string');
  const [, traceId, parentId] = (tp as string).split('-');
  return { traceId, parentId };
}

const lastChat = (mock: OpenAIMock) => mock.chatRequests().at(-1)!;

beforeAll(async () => {
  [receiver, bad, good] = await Promise.all([startOtlpReceiver(), startOpenAIMock({ reply: mockError(500) }), startOpenAIMock()]);
  gw = await startGateway(
    { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '50', OTEL_SERVICE_NAME: 'gateway-under-test' },
    // the failed target is not put in cooldown by one failure, so each call tries it first again
    { policy: { backoffBaseMs: 5, backoffMaxMs: 20 }, router: { failureThreshold: 1000 } },
  );
  const badProvider = uniq('bad');
  const goodProvider = uniq('good');
  badUpstream = uniq('up-bad');
  goodUpstream = uniq('up-good');
  await createProvider(gw, { name: badProvider, kind: 'OPENAI_COMPATIBLE', baseUrl: bad.baseUrl, apiKey: 'sk-x' });
  await createProvider(gw, { name: goodProvider, kind: 'OPENAI_COMPATIBLE', baseUrl: good.baseUrl, apiKey: 'sk-x' });
  model = uniq('traced');
  await createModel(gw, {
    name: model,
    strategy: 'PRIORITY',
    targets: [
      { provider: badProvider, upstreamModel: badUpstream, priority: 0 },
      { provider: goodProvider, upstreamModel: goodUpstream, priority: 1 },
    ],
  });
});

afterAll(async () => {
  await gw?.stop();
  await Promise.all([receiver?.close(), bad?.close(), good?.close()]);
});

describe('one trace per call, under the caller’s trace id', () => {
  it('GraphQL chat over HTTP: SERVER → invocation (GenAI attributes) → a failed and a good attempt, steps, usage write; the upstream gets the attempt span as parent', async () => {
    const client = clientSpan();
    const result = await graphqlChat(client.traceparent);
    expect(result.attempts).toBe(2);

    const spans = await receiver.waitForTrace(client.traceId, complete);
    const { server, invocation, attempts, steps, usageWrite } = treeOf(spans, client.spanId);

    expect(server.name).toBe('mutation Chat');
    expect(server.attributes).toMatchObject({
      'graphql.operation.type': 'mutation',
      'graphql.operation.name': 'Chat',
      'http.request.method': 'POST',
      'http.route': '/graphql',
      'http.response.status_code': 200,
    });
    expect(server.resource['service.name']).toBe('gateway-under-test');

    expect(invocation.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': model,
      'gen_ai.response.model': goodUpstream,
      'gen_ai.response.id': result.id,
      'gen_ai.usage.input_tokens': result.usage.promptTokens,
      'gen_ai.usage.output_tokens': result.usage.completionTokens,
      'gen_ai.response.finish_reasons': [result.finishReason.toLowerCase()],
      'gen_ai.request.temperature': 0.5,
      'gen_ai.request.max_tokens': 50,
      'gen_ai.request.top_p': 0.9,
      'gateway.attempts': 2,
      'gateway.api_key.id': expect.any(String),
      'gateway.request_id': expect.any(String),
    });
    expect(result.usage.promptTokens).toBeGreaterThan(0);
    expect(invocation.statusCode).not.toBe(STATUS_ERROR);

    expect(attempts).toHaveLength(2);
    const [first, second] = attempts;
    expect(first.name).toBe(`chat ${badUpstream}`);
    expect(first.attributes).toMatchObject({
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': badUpstream,
      'http.response.status_code': 500,
      'error.type': '500',
      'server.address': '127.0.0.1',
      'server.port': Number(new URL(bad.url).port),
      'gateway.attempt': 1,
    });
    expect(first.statusCode).toBe(STATUS_ERROR);
    expect(second.name).toBe(`chat ${goodUpstream}`);
    expect(second.attributes).toMatchObject({ 'gen_ai.request.model': goodUpstream, 'http.response.status_code': 200, 'gateway.attempt': 2 });
    expect(second.attributes['gateway.retry_wait_ms']).toBeTypeOf('number');
    expect(second.attributes['error.type']).toBeUndefined();
    expect(second.statusCode).not.toBe(STATUS_ERROR);

    const stepNames = steps.map((s) => s.name);
    // a step gets a span when it waited on something (the limits here) or refused the call; a step that decided at
    // once (authorize, read-input) gets none
    expect(stepNames).toContain('gateway.step reserve-limits');
    for (const step of ['authorize', 'read-input']) expect(stepNames).not.toContain(`gateway.step ${step}`);
    expect(usageWrite.attributes['gateway.usage.id']).toBe(result.id);

    // each upstream was told which attempt span it answers to, in the caller's trace
    expect(upstreamParent(lastChat(good))).toEqual({ traceId: client.traceId, parentId: second.spanId });
    expect(upstreamParent(lastChat(bad))).toEqual({ traceId: client.traceId, parentId: first.spanId });
  });

  it('GraphQL through Yoga (not the fast path) names its SERVER span after the operation too', async () => {
    const client = clientSpan();
    await graphqlChat(client.traceparent, true);
    const spans = await receiver.waitForTrace(client.traceId, complete);
    const { server, attempts } = treeOf(spans, client.spanId);
    expect(server.name).toBe('mutation Chat');
    expect(server.attributes['graphql.operation.name']).toBe('Chat');
    expect(attempts).toHaveLength(2);
    expect(upstreamParent(lastChat(good))).toEqual({ traceId: client.traceId, parentId: attempts[1].spanId });
  });

  it('REST chat completion: SERVER span `POST /v1/chat/completions` with the HTTP attributes', async () => {
    const client = clientSpan();
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${gw.adminKey}`, traceparent: client.traceparent },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(200);
    const completion = (await res.json()) as { usage: { prompt_tokens: number; completion_tokens: number } };

    const spans = await receiver.waitForTrace(client.traceId, complete);
    const { server, invocation, attempts } = treeOf(spans, client.spanId);
    expect(server.name).toBe('POST /v1/chat/completions');
    expect(server.attributes).toMatchObject({ 'http.request.method': 'POST', 'http.route': '/v1/chat/completions', 'http.response.status_code': 200 });
    expect(invocation.attributes).toMatchObject({
      'gen_ai.usage.input_tokens': completion.usage.prompt_tokens,
      'gen_ai.usage.output_tokens': completion.usage.completion_tokens,
      'gen_ai.response.model': goodUpstream,
    });
    expect(attempts.map((a) => a.attributes['http.response.status_code'])).toEqual([500, 200]);
    expect(upstreamParent(lastChat(good))).toEqual({ traceId: client.traceId, parentId: attempts[1].spanId });
  });

  it('Anthropic Messages: SERVER span `POST /v1/messages`; probes are not traced at all', async () => {
    const probe = clientSpan();
    expect((await fetch(`${gw.url}/healthz`, { headers: { traceparent: probe.traceparent } })).status).toBe(200);
    const client = clientSpan();
    const res = await fetch(`${gw.url}/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': gw.adminKey, 'anthropic-version': '2023-06-01', traceparent: client.traceparent },
      body: JSON.stringify({ model, max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(200);
    await res.text();
    const spans = await receiver.waitForTrace(client.traceId, complete);
    const { server, invocation } = treeOf(spans, client.spanId);
    expect(server.name).toBe('POST /v1/messages');
    expect(server.attributes['http.route']).toBe('/v1/messages');
    expect(invocation.attributes['gen_ai.provider.name']).toBe('openai');
    // the probe ended before this trace's spans, so an export of it would have arrived by now
    expect(receiver.spans.filter((s) => s.traceId === probe.traceId || s.attributes['http.route'] === '/healthz')).toEqual([]);
  });

  it('REST streamed chat completion (SSE): its trace ends with the stream', async () => {
    const client = clientSpan();
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${gw.adminKey}`, traceparent: client.traceparent },
      body: JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'stream please' }] }),
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('[DONE]');

    const spans = await receiver.waitForTrace(client.traceId, complete);
    const { server, invocation, attempts } = treeOf(spans, client.spanId);
    expect(server.name).toBe('POST /v1/chat/completions');
    expect(invocation.attributes).toMatchObject({ 'gateway.streamed': true, 'gen_ai.response.model': goodUpstream, 'gen_ai.response.finish_reasons': ['stop'] });
    expect(invocation.attributes['gen_ai.usage.output_tokens']).toBeGreaterThan(0);
    expect(attempts).toHaveLength(2);
    expect(upstreamParent(lastChat(good))).toEqual({ traceId: client.traceId, parentId: attempts[1].spanId });
  });

  it('graphql-ws subscription: the traceparent in the subscribe message’s extensions parents the operation’s SERVER span', async () => {
    const client = clientSpan();
    const ws: Client = createClient({ url: `${gw.url.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${gw.adminKey}` }, retryAttempts: 0, lazy: true });
    try {
      const deltas: string[] = [];
      await withTimeout(
        new Promise<void>((resolve, reject) => {
          ws.subscribe<{ chatStream: { delta: string } }>(
            {
              query: 'subscription Stream($input: ChatInput!) { chatStream(input: $input) { delta finishReason } }',
              variables: { input: { model, messages: [{ role: 'USER', content: 'over the socket' }] } },
              extensions: { traceparent: client.traceparent },
            },
            { next: (r) => void (r.data && deltas.push(r.data.chatStream.delta)), error: reject, complete: resolve },
          );
        }),
        5000,
        'the end of the subscription',
      );
      expect(deltas.join('')).not.toBe('');
    } finally {
      await ws.dispose();
    }

    const spans = await receiver.waitForTrace(client.traceId, complete);
    const { server, invocation, attempts, usageWrite } = treeOf(spans, client.spanId);
    expect(server.name).toBe('subscription Stream');
    expect(server.attributes).toMatchObject({ 'graphql.operation.type': 'subscription', 'graphql.operation.name': 'Stream' });
    expect(invocation.attributes['gateway.streamed']).toBe(true);
    expect(attempts).toHaveLength(2);
    expect(usageWrite).toBeDefined();
    expect(upstreamParent(lastChat(good))).toEqual({ traceId: client.traceId, parentId: attempts[1].spanId });
  });

  it('graphql-ws without extensions.traceparent: the upgrade request’s traceparent header parents the operation', async () => {
    const client = clientSpan();
    // the `ws` client sends extra headers with its upgrade request
    class TracedSocket extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols, { headers: { traceparent: client.traceparent } });
      }
    }
    const ws: Client = createClient({ url: `${gw.url.replace(/^http/, 'ws')}/graphql`, webSocketImpl: TracedSocket, connectionParams: { authorization: `Bearer ${gw.adminKey}` }, retryAttempts: 0, lazy: true });
    try {
      await withTimeout(
        new Promise<void>((resolve, reject) => {
          ws.subscribe(
            { query: 'mutation Chat($input: ChatInput!) { chat(input: $input) { id } }', variables: { input: { model, messages: [{ role: 'USER', content: 'a mutation over the socket' }] } } },
            { next: () => {}, error: reject, complete: resolve },
          );
        }),
        5000,
        'the mutation over graphql-ws',
      );
    } finally {
      await ws.dispose();
    }
    const spans = await receiver.waitForTrace(client.traceId, complete);
    const { server, attempts } = treeOf(spans, client.spanId);
    expect(server.name).toBe('mutation Chat');
    expect(upstreamParent(lastChat(good))).toEqual({ traceId: client.traceId, parentId: attempts[1].spanId });
  });

  it('a call every attempt of which fails: the invocation span is an error with the gateway’s code', async () => {
    const failing = uniq('failing');
    const provider = uniq('bad-only');
    await createProvider(gw, { name: provider, kind: 'OPENAI_COMPATIBLE', baseUrl: bad.baseUrl, apiKey: 'sk-x' });
    await createModel(gw, { name: failing, targets: [{ provider, upstreamModel: uniq('up-bad') }] });
    const client = clientSpan();
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${gw.adminKey}`, traceparent: client.traceparent },
      body: JSON.stringify({ model: failing, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBeGreaterThanOrEqual(500);
    const spans = await receiver.waitForTrace(client.traceId, (all) => all.some((s) => s.kind === KIND.SERVER) && all.some((s) => s.name === 'gateway.usage.write'));
    const invocation = spans.find((s) => s.name === `chat ${failing}`)!;
    expect(invocation.statusCode).toBe(STATUS_ERROR);
    expect(invocation.attributes['error.type']).toBe('UPSTREAM_ERROR');
    const attempts = spans.filter((s) => s.kind === KIND.CLIENT);
    expect(attempts.length).toBe(invocation.attributes['gateway.attempts']);
    for (const a of attempts) expect(a.statusCode).toBe(STATUS_ERROR);
    const server = spans.find((s) => s.kind === KIND.SERVER)!;
    expect(server.statusCode).toBe(STATUS_ERROR);
    expect(server.attributes['http.response.status_code']).toBe(res.status);
  });

  it('a call a step refuses: that step has a span with the refusal, the invocation ends with the same code', async () => {
    const client = clientSpan();
    const missing = uniq('no-such-model');
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${gw.adminKey}`, traceparent: client.traceparent },
      body: JSON.stringify({ model: missing, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(404);
    const spans = await receiver.waitForTrace(client.traceId, (all) => all.some((s) => s.kind === KIND.SERVER) && all.some((s) => s.name === 'gateway.usage.write'));
    const invocation = spans.find((s) => s.name === `chat ${missing}`)!;
    expect(invocation.attributes['error.type']).toBe('MODEL_NOT_FOUND');
    const refusing = spans.filter((s) => s.name === 'gateway.step resolve-model');
    expect(refusing).toHaveLength(1);
    expect(refusing[0].parentSpanId).toBe(invocation.spanId);
    expect(refusing[0].statusCode).toBe(STATUS_ERROR);
    expect(refusing[0].attributes['error.type']).toBe('MODEL_NOT_FOUND');
    expect(spans.filter((s) => s.kind === KIND.CLIENT)).toHaveLength(0);
  });

  it('GraphQL embed: an `embeddings {model}` span', async () => {
    const embedModel = uniq('embed');
    const provider = uniq('good-embed');
    await createProvider(gw, { name: provider, kind: 'OPENAI_COMPATIBLE', baseUrl: good.baseUrl, apiKey: 'sk-x' });
    await createModel(gw, { name: embedModel, targets: [{ provider, upstreamModel: 'e5' }] });
    const client = clientSpan();
    const res = await fetch(`${gw.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${gw.adminKey}`, traceparent: client.traceparent },
      body: JSON.stringify({ query: 'mutation Embed($input: EmbedInput!) { embed(input: $input) { usage { promptTokens } } }', variables: { input: { model: embedModel, input: ['a', 'b'] } } }),
    });
    const body = (await res.json()) as { data?: { embed: { usage: { promptTokens: number } } } };
    expect(body.data?.embed.usage.promptTokens).toBeGreaterThan(0);
    const spans = await receiver.waitForTrace(client.traceId, (all) => all.some((s) => s.name === 'gateway.usage.write'));
    const invocation = spans.find((s) => s.name === `embeddings ${embedModel}`)!;
    expect(invocation.attributes).toMatchObject({ 'gen_ai.operation.name': 'embeddings', 'gen_ai.usage.input_tokens': body.data!.embed.usage.promptTokens });
    expect(spans.find((s) => s.kind === KIND.CLIENT)!.name).toBe('embeddings e5');
    expect(spans.find((s) => s.kind === KIND.SERVER)!.name).toBe('mutation Embed');
  });

  it('a caller without traceparent starts a new trace: the SERVER span is its root', async () => {
    const before = new Set(receiver.spans.map((s) => s.traceId));
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${gw.adminKey}` },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'no trace of mine' }] }),
    });
    expect(res.status).toBe(200);
    const { traceId } = upstreamParent(lastChat(good));
    expect(before.has(traceId)).toBe(false);
    const spans = await receiver.waitForTrace(traceId, complete);
    const server = spans.find((s) => s.kind === KIND.SERVER)!;
    expect(server.parentSpanId).toBe('');
  });
});
