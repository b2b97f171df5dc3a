/* /metrics: a scrape after a mixed run shows every counter moved by exactly the right amount; METRICS_TOKEN guards it. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { sseCollect } from '../kit/sse.js';
import { createWsClient, wsCollect } from '../kit/ws.js';
import { CHAT, CHAT_STREAM, USAGE_RECORDED, chatInput, createDeadModel, metric, ok, scrape, waitFor, type Sample } from './kit.js';

const TOKEN = 'metrics-token-0123456789';

describe('GET /metrics', () => {
  let gw: TestGateway;
  let dead: { provider: string; model: string };
  const scrapeNow = () => scrape(gw, TOKEN);

  beforeAll(async () => {
    // usage records stay pending until flushed by hand, so the pending gauge can be checked exactly;
    // two attempts per model with no real backoff; no cooldown, so every call really tries the dead upstream
    gw = await startGateway(
      { USAGE_FLUSH_MS: '600000', METRICS_TOKEN: TOKEN },
      { policy: { maxAttemptsPerModel: 2, backoffBaseMs: 1, backoffMaxMs: 2 }, router: { failureThreshold: 1000 } },
    );
    dead = await createDeadModel(gw, 'dead-model');
  });
  afterAll(() => gw?.stop());

  it('after a mixed run, counts invocations, tokens, upstream errors, retries, TTFT, streams and pending usage exactly', async () => {
    const before = await scrapeNow();
    const delta = (after: Sample[], name: string, labels: Record<string, string> = {}) => metric(after, name, labels) - metric(before, name, labels);

    // 3 successful chats: echo counts one token per word: 3 in ("one two three"), 4 out ("echo: one two three")
    const chats = await Promise.all([1, 2, 3].map(() => gw.gql(CHAT, { input: chatInput('one two three') })));
    for (const c of chats) expect(ok(c).chat.usage).toMatchObject({ promptTokens: 3, completionTokens: 4 });
    const echoProvider = ok(chats[0]).chat.provider;
    // 2 unknown models, 2 calls to a provider on a closed port (2 attempts each)
    const unknown = await Promise.all([1, 2].map((i) => gw.gql(CHAT, { input: chatInput('x', `no-such-model-${i}`) })));
    for (const u of unknown) expect(u.errors?.[0].extensions?.code).toBe('MODEL_NOT_FOUND');
    const failed = await Promise.all([1, 2].map(() => gw.gql(CHAT, { input: chatInput('x', dead.model) })));
    for (const f of failed) expect(f.errors?.[0].extensions?.code).toBe('UPSTREAM_ERROR');
    // 2 streams: one over SSE, one over graphql-ws
    const sse = await sseCollect(gw.url, CHAT_STREAM, { input: chatInput('one two three') }, gw.adminKey);
    expect(sse.at(-1)?.data?.chatStream.finishReason).toBe('STOP');
    const ws = createWsClient(gw.url, gw.adminKey);
    try {
      const wsr = await wsCollect(ws, CHAT_STREAM, { input: chatInput('one two three') });
      expect(wsr.at(-1)?.data?.chatStream.finishReason).toBe('STOP');

      // a live usageRecorded subscription shows in the open-subscriptions gauge, and leaves it when it ends
      let dispose: () => void = () => {};
      const subscribed = new Promise<void>((resolve) => {
        dispose = ws.subscribe({ query: USAGE_RECORDED }, { next: () => {}, error: () => {}, complete: () => {} });
        void waitFor(async () => metric(await scrapeNow(), 'gateway_subscriptions_open', { field: 'usageRecorded', transport: 'ws' }) === 1, 'usageRecorded open').then(() => resolve());
      });
      await subscribed;
      dispose();
      await waitFor(async () => metric(await scrapeNow(), 'gateway_subscriptions_open') === 0, 'subscriptions back to 0');
    } finally {
      await ws.dispose();
    }

    // the HTTP request counter is bumped when each response closes: wait for the last one
    await waitFor(async () => delta(await scrapeNow(), 'gateway_http_requests_total', { route: '/graphql', method: 'POST' }) >= 8, 'request counter');
    const after = await scrapeNow();

    const inv = (labels: Record<string, string>) => delta(after, 'gateway_invocations_total', labels);
    expect(inv({ model: 'echo', provider: echoProvider, status: 'OK', streamed: 'false' })).toBe(3);
    expect(inv({ model: 'echo', provider: echoProvider, status: 'OK', streamed: 'true' })).toBe(2);
    // unknown model names never become label values
    expect(inv({ model: '(unresolved)', provider: 'none', status: 'ERROR' })).toBe(2);
    expect(after.some((s) => s.labels.model?.startsWith('no-such-model'))).toBe(false);
    expect(inv({ model: dead.model, provider: dead.provider, status: 'ERROR', streamed: 'false' })).toBe(2);
    expect(inv({})).toBe(9);

    expect(delta(after, 'gen_ai_client_token_usage_total', { model: 'echo', type: 'input' })).toBe(5 * 3);
    expect(delta(after, 'gen_ai_client_token_usage_total', { model: 'echo', type: 'output' })).toBe(5 * 4);
    expect(delta(after, 'gen_ai_client_token_usage_total', { model: dead.model })).toBe(0);

    expect(delta(after, 'gateway_upstream_errors_total', { provider: dead.provider })).toBe(4);
    expect(delta(after, 'gateway_upstream_errors_total', { provider: dead.provider, status: 'none' })).toBe(4);
    expect(delta(after, 'gateway_upstream_errors_total')).toBe(4);
    expect(delta(after, 'gateway_upstream_retries_total', { model: dead.model })).toBe(2);
    expect(delta(after, 'gateway_upstream_retries_total')).toBe(2);

    expect(delta(after, 'gen_ai_client_operation_time_to_first_chunk_seconds_count', { model: 'echo' })).toBe(2);
    expect(delta(after, 'gen_ai_client_operation_duration_seconds_count')).toBe(9);

    expect(metric(after, 'gateway_invocations_in_flight')).toBe(0);
    expect(metric(after, 'gateway_open_streams')).toBe(0);
    expect(metric(after, 'gateway_subscriptions_open')).toBe(0);
    expect(metric(after, 'gateway_websocket_connections_open')).toBe(0);
    expect(delta(after, 'gateway_http_requests_total', { route: '/graphql', method: 'POST' })).toBe(8);

    // every invocation left one usage record, still waiting for the writer
    expect(metric(after, 'gateway_usage_records_pending')).toBe(9);
    await gw.flushUsage();
    expect(metric(await scrapeNow(), 'gateway_usage_records_pending')).toBe(0);
  });

  it('needs METRICS_TOKEN when it is set: none, a wrong one or an API key get 401', async () => {
    const none = await fetch(`${gw.url}/metrics`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect(await none.text()).not.toContain('gateway_');
    const wrong = await fetch(`${gw.url}/metrics`, { headers: { authorization: 'Bearer metrics-token-0123456780' } });
    expect(wrong.status).toBe(401);
    const apiKey = await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${gw.adminKey}` } });
    expect(apiKey.status).toBe(401);
    const samples = await scrapeNow();
    expect(samples.some((s) => s.name === 'gateway_invocations_in_flight')).toBe(true);
  });

  it('answers /metrics with a query string, and nothing that only starts with /metrics', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const withQuery = await fetch(`${gw.url}/metrics?name[]=gateway_usage_records_pending`, { headers: auth });
    expect(withQuery.status).toBe(200);
    expect(await withQuery.text()).toContain('gateway_usage_records_pending');
    for (const path of ['/metricsx', '/metrics/', '/metrics2?x=1']) {
      const other = await fetch(`${gw.url}${path}`, { headers: auth });
      expect(other.status, path).not.toBe(200);
      expect(await other.text(), path).not.toContain('gateway_usage_records_pending');
    }
  });
});
