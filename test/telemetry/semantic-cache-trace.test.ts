/**
 * Issue 26 review 6: the semantic cache's embedding is made inside the call that asked for it. With tracing on it is
 * a child of the chat's invocation span, in the caller's trace (not a trace of its own), and its upstream is told so;
 * and `invocation(id: <request id>)` still names the chat the caller made, not the cache's later embedding (which is
 * logged without the caller's request id, its purpose on its usage record).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { startOpenAIMock, type OpenAIMock } from '../mocks/openai.js';
import { createModel, createProvider, uniq } from '../gateway/helpers.js';
import { KIND, startOtlpReceiver, type OtlpReceiver } from './otlp-receiver.js';

let receiver: OtlpReceiver;
let mock: OpenAIMock;
let gw: TestGateway;
let chatModel: string;
let embedModel: string;
let key: { id: string; uuid: string; secret: string };

beforeAll(async () => {
  [receiver, mock] = await Promise.all([startOtlpReceiver(), startOpenAIMock()]);
  gw = await startGateway({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '50' });
  const provider = uniq('openai');
  chatModel = uniq('chat');
  embedModel = uniq('embedder');
  await createProvider(gw, { name: provider, kind: 'OPENAI', baseUrl: mock.baseUrl, apiKey: 'sk-test' });
  await createModel(gw, { name: chatModel, targets: [{ provider, upstreamModel: 'gpt-x' }] });
  await createModel(gw, { name: embedModel, targets: [{ provider, upstreamModel: 'text-embedding-3-small' }] });
  key = await gw.createKey({ name: 'full', scopes: ['INVOKE'], logBodies: 'FULL' });
  const set = await gw.gql('mutation($m: String) { updateCacheSettings(input: { embeddingModel: $m, similarityThreshold: 0.9 }) { vectorIndex } }', { m: embedModel });
  expect(set.errors).toBeUndefined();
});

afterAll(async () => {
  await gw?.stop();
  await Promise.all([receiver?.close(), mock?.close()]);
});

describe('the semantic cache’s embedding', () => {
  it('is in the caller’s trace under the chat’s invocation, and does not take over invocation(id: <request id>)', async () => {
    const traceId = randomBytes(16).toString('hex');
    const clientSpanId = randomBytes(8).toString('hex');
    const before = mock.embeddingRequests().length;
    const res = await fetch(`${gw.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${key.secret}`, traceparent: `00-${traceId}-${clientSpanId}-01` },
      body: JSON.stringify({
        query: 'mutation Chat($input: ChatInput!) { chat(input: $input) { id } }',
        variables: { input: { model: chatModel, messages: [{ role: 'USER', content: `what is the capital of ${uniq('country')}?` }], cache: { mode: 'SEMANTIC' } } },
      }),
    });
    const body = (await res.json()) as { data?: { chat: { id: string } }; errors?: unknown; extensions?: { requestId?: string } };
    expect(body.errors).toBeUndefined();
    const chatId = body.data!.chat.id;
    const requestId = body.extensions?.requestId;
    expect(requestId).toEqual(expect.any(String));
    // the cache did embed the prompt, upstream, in the caller's trace
    const embedRequests = mock.embeddingRequests().slice(before);
    expect(embedRequests).toHaveLength(1);
    expect(String(embedRequests[0].headers.traceparent).split('-')[1]).toBe(traceId);

    const spans = await receiver.waitForTrace(traceId, (all) => all.filter((s) => s.name === 'gateway.usage.write').length === 2 && all.some((s) => s.kind === KIND.SERVER));
    const chat = spans.find((s) => s.name === `chat ${chatModel}`)!;
    const embed = spans.find((s) => s.name === `embeddings ${embedModel}`);
    expect(embed, 'the embedding’s invocation span is in the caller’s trace').toBeDefined();
    expect(embed!.parentSpanId).toBe(chat.spanId);
    const embedAttempt = spans.find((s) => s.kind === KIND.CLIENT && s.parentSpanId === embed!.spanId);
    expect(embedAttempt?.name).toBe('embeddings text-embedding-3-small');
    // no other trace holds a span of this call
    expect(receiver.spans.filter((s) => s.name === `embeddings ${embedModel}` && s.traceId !== traceId)).toEqual([]);

    await gw.flushUsage();
    const found = await gw.gql<{ invocation: { id: string; requestId: string | null } | null; invocations: { edges: Array<{ node: { id: string; model: string; requestId: string | null; usageRecord: { metadata: unknown } | null } }> } }>(
      'query($id: ID!) { invocation(id: $id) { id requestId } invocations(first: 10) { edges { node { id model requestId usageRecord { metadata } } } } }',
      { id: requestId },
      key.secret,
    );
    expect(found.errors).toBeUndefined();
    expect(found.data!.invocation).toEqual({ id: chatId, requestId });
    // the embedding is logged too, at its own row, without the caller's request id and with its purpose
    const embedRow = found.data!.invocations.edges.map((e) => e.node).find((n) => n.model === embedModel);
    expect(embedRow).toMatchObject({ requestId: null, usageRecord: { metadata: { purpose: 'semantic-cache' } } });
  });
});
