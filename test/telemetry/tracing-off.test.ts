/**
 * Issue 26, traces off (no OTEL_EXPORTER_OTLP_ENDPOINT): no trace objects are made (a probe step sees no invocation
 * trace, no request trace and no attempt observer on a call without traceparent), and the caller's own traceparent
 * and tracestate still reach the upstream unchanged (every attempt, a retried one too); a caller that sent none adds
 * none upstream, and one that sent an invalid one (a control character) passes nothing on and is answered normally.
 */
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PIPELINE, type Step } from '../../src/gateway/pipeline.js';
import type { Invocation } from '../../src/gateway/invocation.js';
import { createGatewayYoga } from '../../src/http/yoga.js';
import type { Services } from '../../src/context.js';
import type { ServerTrace } from '../../src/telemetry/server-trace.js';
import { traceWsOperation } from '../../src/telemetry/server-trace.js';
import type { Tracing } from '../../src/telemetry/tracing.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { mockError, startOpenAIMock, type OpenAIMock } from '../mocks/openai.js';
import { createModel, createProvider, uniq, withTimeout } from '../gateway/helpers.js';

/** What the probe step saw of the last invocation's tracing. */
let seen: Pick<Invocation, 'trace' | 'attemptObserver'> & { requestTrace: Invocation['options']['trace'] } | undefined;
const probe: Step = {
  name: 'probe',
  before(inv) {
    seen = { trace: inv.trace, attemptObserver: inv.attemptObserver, requestTrace: inv.options.trace };
  },
};

let bad: OpenAIMock;
let good: OpenAIMock;
let gw: TestGateway;
let model: string;

const TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
const TRACESTATE = 'vendor=opaque-value,other=1';

beforeAll(async () => {
  [bad, good] = await Promise.all([startOpenAIMock({ reply: mockError(500) }), startOpenAIMock()]);
  gw = await startGateway({ OTEL_BSP_SCHEDULE_DELAY: '50' }, { policy: { backoffBaseMs: 5, backoffMaxMs: 20 }, router: { failureThreshold: 1000 }, steps: [...PIPELINE, probe] });
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
  await Promise.all([bad?.close(), good?.close()]);
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

  it('a call without traceparent makes no trace objects: no invocation trace, no request trace, no attempt observer', async () => {
    seen = undefined;
    await restChat({});
    expect(seen).toBeDefined();
    expect(seen!.trace).toBeUndefined();
    expect(seen!.requestTrace).toBeUndefined();
    expect(seen!.attemptObserver).toBeUndefined();
  });

  it('a call with traceparent: only the pass-through, which adds the caller’s headers and nothing else', async () => {
    seen = undefined;
    await restChat({ traceparent: TRACEPARENT, tracestate: TRACESTATE });
    expect(seen!.trace).toBeUndefined();
    expect(seen!.requestTrace).toEqual({ incoming: { traceparent: TRACEPARENT, tracestate: TRACESTATE } });
    const watch = seen!.attemptObserver!.attemptStarted({} as never);
    expect(watch.upstream).toEqual({ headers: { traceparent: TRACEPARENT, tracestate: TRACESTATE } });
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

  it('graphql-ws: a traceparent with a control character is not passed on, and the call is answered normally', async () => {
    const failuresBefore = bad.chatRequests().length;
    const goodBefore = good.chatRequests().length;
    const ws = createClient({ url: `${gw.url.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${gw.adminKey}` }, retryAttempts: 0, lazy: true });
    let result: { data?: { chat: { attempts: number } } | null; errors?: unknown } | undefined;
    try {
      await withTimeout(
        new Promise<void>((resolve, reject) => {
          ws.subscribe<{ chat: { attempts: number } }>(
            {
              query: 'mutation($input: ChatInput!) { chat(input: $input) { attempts } }',
              variables: { input: { model, messages: [{ role: 'USER', content: 'hi' }] } },
              extensions: { traceparent: `${TRACEPARENT}-\u0001`, tracestate: TRACESTATE },
            },
            { next: (r) => void (result = r), error: reject, complete: resolve },
          );
        }),
        5000,
        'the mutation over graphql-ws',
      );
    } finally {
      await ws.dispose();
    }
    expect(result?.errors).toBeUndefined();
    // the 500 target was tried once and the good one answered: the bad header never made a request fail
    expect(result?.data?.chat.attempts).toBe(2);
    expect(bad.chatRequests().length).toBe(failuresBefore + 1);
    expect(good.chatRequests().length).toBe(goodBefore + 1);
    expect(good.chatRequests().at(-1)!.headers.traceparent).toBeUndefined();
    expect(good.chatRequests().at(-1)!.headers.tracestate).toBeUndefined();
  });

  it('Yoga runs no per-operation hook to name a span: the one that would name it is only there with tracing on', async () => {
    const named: string[] = [];
    const spy: ServerTrace = { trace: {}, operation: (type, name) => void named.push(`${type} ${name}`), end: () => {} };
    const run = async (services: Services) => {
      const { yoga } = createGatewayYoga(gw.app.config, services);
      const res = await yoga.fetch(
        'http://localhost/graphql',
        { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${gw.adminKey}` }, body: JSON.stringify({ query: 'query Q { __typename }' }) },
        { requestId: uniq('req'), serverTrace: spy },
      );
      expect(res.status).toBe(200);
    };
    await run(gw.app.services);
    expect(named).toEqual([]);
    // the same request with tracing on does name it: the spy would see a hook that ran
    await run({ ...gw.app.services, tracing: {} as Tracing });
    expect(named).toEqual(['query Q']);
  });

  it('graphql-ws with tracing off does not look at the operation’s document', () => {
    const untouchable = new Proxy({} as never, {
      get: () => {
        throw new Error('the document was read');
      },
    });
    expect(traceWsOperation(undefined, {}, {}, untouchable, 'Q')).toBeUndefined();
    expect(traceWsOperation(undefined, { traceparent: TRACEPARENT }, {}, untouchable, 'Q')?.trace.incoming).toEqual({ traceparent: TRACEPARENT });
  });
});
