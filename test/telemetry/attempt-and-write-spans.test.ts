/**
 * Issue 26 review, spans that must say a failure: a stream that stalls past its model's timeout ends its attempt
 * (CLIENT) span as an error (`error.type` timeout), though the upstream answered 200; a usage record the database
 * refuses still exports its `gateway.usage.write` span, as an error, instead of leaving it open forever.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { startOpenAIMock, type OpenAIMock } from '../mocks/openai.js';
import { createModel, createProvider, uniq } from '../gateway/helpers.js';
import { KIND, STATUS_ERROR, startOtlpReceiver, type OtlpReceiver } from './otlp-receiver.js';

let receiver: OtlpReceiver;
let mock: OpenAIMock;
let gw: TestGateway;
let provider: string;

beforeAll(async () => {
  [receiver, mock] = await Promise.all([startOtlpReceiver(), startOpenAIMock()]);
  gw = await startGateway({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '50' });
  provider = uniq('spans');
  await createProvider(gw, { name: provider, kind: 'OPENAI_COMPATIBLE', baseUrl: mock.baseUrl, apiKey: 'sk-x' });
});

afterAll(async () => {
  await gw?.stop();
  await Promise.all([receiver?.close(), mock?.close()]);
});

const traceparent = () => {
  const traceId = randomBytes(16).toString('hex');
  return { traceId, header: `00-${traceId}-${randomBytes(8).toString('hex')}-01` };
};

describe('spans of failures', () => {
  it('a stream that stalls past the model timeout ends its attempt span as a timeout error', async () => {
    const model = uniq('stall');
    await createModel(gw, { name: model, targets: [{ provider, upstreamModel: model }], timeoutMs: 300 });
    mock.replyOnce({ chunks: ['One', ' two', ' three'], stallAfter: 2 });
    const tp = traceparent();
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.adminKey}`, 'content-type': 'application/json', traceparent: tp.header },
      body: JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'stall' }] }),
    });
    await res.text();
    const spans = await receiver.waitForTrace(tp.traceId, (all) => all.some((s) => s.kind === KIND.CLIENT) && all.some((s) => s.name === 'gateway.usage.write'));
    const attempt = spans.find((s) => s.kind === KIND.CLIENT)!;
    expect(attempt.attributes['http.response.status_code']).toBe(200);
    expect(attempt.statusCode).toBe(STATUS_ERROR);
    expect(attempt.attributes['error.type']).toBe('timeout');
  });

  it('a usage record the database refuses still exports its usage write span, as an error', async () => {
    const model = uniq('refused');
    await createModel(gw, { name: model, targets: [{ provider, upstreamModel: model }] });
    const usage = gw.app.usage;
    const record = usage.record.bind(usage);
    // a latency no int column holds: the database refuses this record alone
    usage.record = (ev) => record(ev.model === model ? Object.assign(ev, { latencyMs: 2 ** 40 }) : ev);
    const tp = traceparent();
    try {
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${gw.adminKey}`, 'content-type': 'application/json', traceparent: tp.header },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'refuse my record' }] }),
      });
      expect(res.status).toBe(200);
      await res.text();
    } finally {
      usage.record = record;
    }
    await gw.flushUsage();
    const spans = await receiver.waitForTrace(tp.traceId, (all) => all.some((s) => s.name === 'gateway.usage.write'));
    const write = spans.find((s) => s.name === 'gateway.usage.write')!;
    expect(write.statusCode).toBe(STATUS_ERROR);
    expect(write.attributes['error.type']).toBe('refused');
  });
});
