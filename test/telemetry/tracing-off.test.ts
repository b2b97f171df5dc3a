/**
 * Issue 26, traces off (no OTEL_EXPORTER_OTLP_ENDPOINT): nothing is exported, and the caller's own traceparent and
 * tracestate still reach the upstream unchanged (every attempt, a retried one too); a caller that sent none adds
 * none upstream.
 */
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { mockError, startOpenAIMock, type OpenAIMock } from '../mocks/openai.js';
import { createModel, createProvider, sleep, uniq, withTimeout } from '../gateway/helpers.js';
import { startOtlpReceiver, type OtlpReceiver } from './otlp-receiver.js';

let receiver: OtlpReceiver;
let bad: OpenAIMock;
let good: OpenAIMock;
let gw: TestGateway;
let model: string;

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const TRACESTATE = 'vendor=opaque-value,other=1';

beforeAll(async () => {
  [receiver, bad, good] = await Promise.all([startOtlpReceiver(), startOpenAIMock({ reply: mockError(500) }), startOpenAIMock()]);
  // the receiver listens, but nothing tells the gateway about it
  gw = await startGateway({ OTEL_BSP_SCHEDULE_DELAY: '50' }, { policy: { backoffBaseMs: 5, backoffMaxMs: 20 }, router: { failureThreshold: 1000 } });
  const badProvider = uniq('bad');
  const goodProvider = uniq('good');
  await createProvider(gw, { name: badProvider, kind: 'OPENAI_COMPATIBLE', baseUrl: bad.baseUrl, apiKey: 'sk-x' });
  await createProvider(gw, { name: goodProvider, kind: 'OPENAI_COMPATIBLE', baseUrl: good.baseUrl, apiKey: 'sk-x' });
  model = uniq('untraced');
  await createModel(gw, {
    name: model,
    strategy: 'PRIORITY',
    targets: [
      { provider: badProvider, upstreamModel: uniq('up-bad'), priority: 0 },
      { provider: goodProvider, upstreamModel: uniq('up-good'), priority: 1 },
    ],
  });
});

afterAll(async () => {
  await gw?.stop();
  await Promise.all([receiver?.close(), bad?.close(), good?.close()]);
});

async function restChat(headers: Record<string, string>, stream = false): Promise<void> {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${gw.adminKey}`, ...headers },
    body: JSON.stringify({ model, stream, messages: [{ role: 'user', content: 'hi' }] }),
  });
  expect(res.status).toBe(200);
  await res.text();
}

describe('tracing off', () => {
  it('is off: no tracer at all', () => {
    expect(gw.app.config.tracing).toBeUndefined();
    expect(gw.app.services.tracing).toBeUndefined();
  });

  it('GraphQL chat: the caller’s traceparent and tracestate reach every attempt’s upstream unchanged', async () => {
    const res = await fetch(`${gw.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${gw.adminKey}`, traceparent: TRACEPARENT, tracestate: TRACESTATE },
      body: JSON.stringify({ query: 'mutation { chat(input: { model: "' + model + '", messages: [{ role: USER, content: "hi" }] }) { attempts } }' }),
    });
    const body = (await res.json()) as { data?: { chat: { attempts: number } } };
    expect(body.data?.chat.attempts).toBe(2);
    for (const mock of [bad, good]) {
      const last = mock.chatRequests().at(-1)!;
      expect(last.headers.traceparent).toBe(TRACEPARENT);
      expect(last.headers.tracestate).toBe(TRACESTATE);
    }
  });

  it('REST chat, streamed and not: the traceparent passes through; a call without one sends none', async () => {
    await restChat({ traceparent: TRACEPARENT });
    expect(good.chatRequests().at(-1)!.headers.traceparent).toBe(TRACEPARENT);
    await restChat({ traceparent: TRACEPARENT }, true);
    expect(good.chatRequests().at(-1)!.headers.traceparent).toBe(TRACEPARENT);
    await restChat({});
    expect(good.chatRequests().at(-1)!.headers.traceparent).toBeUndefined();
    expect(good.chatRequests().at(-1)!.headers.tracestate).toBeUndefined();
  });

  it('a malformed traceparent is not passed on', async () => {
    await restChat({ traceparent: 'not-a-traceparent', tracestate: TRACESTATE });
    expect(good.chatRequests().at(-1)!.headers.traceparent).toBeUndefined();
    expect(good.chatRequests().at(-1)!.headers.tracestate).toBeUndefined();
  });

  it('graphql-ws: the subscribe message’s extensions.traceparent passes through', async () => {
    const ws = createClient({ url: `${gw.url.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${gw.adminKey}` }, retryAttempts: 0, lazy: true });
    try {
      await withTimeout(
        new Promise<void>((resolve, reject) => {
          ws.subscribe(
            {
              query: 'subscription($input: ChatInput!) { chatStream(input: $input) { delta } }',
              variables: { input: { model, messages: [{ role: 'USER', content: 'hi' }] } },
              extensions: { traceparent: TRACEPARENT },
            },
            { next: () => {}, error: reject, complete: resolve },
          );
        }),
        5000,
        'the end of the subscription',
      );
    } finally {
      await ws.dispose();
    }
    expect(good.chatRequests().at(-1)!.headers.traceparent).toBe(TRACEPARENT);
  });

  it('exports nothing', async () => {
    // several batch delays after the calls above
    await sleep(300);
    expect(receiver.posts).toBe(0);
  });
});
