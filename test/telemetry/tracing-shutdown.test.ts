/**
 * Issue 26, traces on stop: spans still buffered when the gateway stops are exported by the stop (the batch delay
 * here is far longer than the test), and a collector that never answers holds the stop no longer than its deadline.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { startOtlpReceiver, type OtlpReceiver } from './otlp-receiver.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;

let receiver: OtlpReceiver | undefined;
let hanging: Server | undefined;

afterAll(async () => {
  await receiver?.close();
  hanging?.closeAllConnections();
  await new Promise<void>((r) => (hanging ? hanging.close(() => r()) : r()));
});

/** An echo chat with the caller's traceparent. */
async function echoChat(url: string, key: string): Promise<void> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, traceparent: TRACEPARENT },
    body: JSON.stringify({ model: 'echo', messages: [{ role: 'user', content: 'hi' }] }),
  });
  expect(res.status).toBe(200);
  await res.text();
}

describe('tracing on stop: a collector that answers', () => {
  let gw: TestGateway;
  let collector: OtlpReceiver;
  beforeAll(async () => {
    receiver = collector = await startOtlpReceiver();
    gw = await startGateway({ OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_BSP_SCHEDULE_DELAY: '600000' });
  });

  it('gets the spans still buffered', async () => {
    await echoChat(gw.url, gw.adminKey);
    await new Promise((r) => setTimeout(r, 100));
    // the batch delay has not passed: nothing was sent yet
    expect(collector.posts).toBe(0);
    await gw.stop();
    const names = collector.spans.filter((s) => s.traceId === TRACE_ID).map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(['POST /v1/chat/completions', 'chat echo', 'gateway.usage.write']));
  });
});

describe('tracing on stop: a collector that never answers', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    // accepts the export and never answers it
    hanging = createServer(() => {});
    await new Promise<void>((r) => hanging!.listen(0, '127.0.0.1', r));
    const { port } = hanging.address() as AddressInfo;
    gw = await startGateway({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`, OTEL_BSP_SCHEDULE_DELAY: '600000' });
  });

  it('holds the stop only until its deadline', async () => {
    await echoChat(gw.url, gw.adminKey);
    const t0 = Date.now();
    await gw.app.stop(1500);
    // the exporter's own timeout is 10 s: the stop's deadline (plus its last-resort half second) came first
    expect(Date.now() - t0).toBeLessThan(4000);
  });
});
