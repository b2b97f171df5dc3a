/* Model lifecycle: DEPRECATED models answer with a warning (extensions.warnings; Deprecation header on REST); RETIRED models fail with MODEL_RETIRED (410 on REST). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecResult } from '../kit/sse.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { createModel, get, post, sseData } from '../rest/kit.js';

let gw: TestGateway;
let key: string;

const CHAT = 'mutation($m: String!) { chat(input: { model: $m, messages: [{ role: USER, content: "hello" }] }) { message { content } } }';
const STREAM = 'subscription($m: String!) { chatStream(input: { model: $m, messages: [{ role: USER, content: "hello you" }] }) { delta finishReason } }';

const echoModel = (name: string, status: string) => createModel(gw, { name, status, targets: [{ provider: 'echo', upstreamModel: 'echo' }] });
const setStatus = async (name: string, status: string) => {
  const r = await gw.gql('mutation($n: String!, $s: ModelStatus!) { updateModel(name: $n, input: { status: $s }) { status } }', { n: name, s: status });
  expect(r.data?.updateModel.status).toBe(status);
};

/** A subscription over Yoga's SSE transport: the `next` payloads. */
async function subscribe(query: string, variables: Record<string, unknown>): Promise<ExecResult[]> {
  const res = await fetch(`${gw.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  expect(res.status).toBe(200);
  return (await sseData(res)).map((d) => JSON.parse(d));
}

beforeAll(async () => {
  gw = await startGateway();
  key = (await gw.createKey({ scopes: ['INVOKE', 'READ_USAGE'] })).secret;
  await echoModel('legacy', 'DEPRECATED');
  await echoModel('ancient', 'RETIRED');
  await echoModel('current', 'ACTIVE');
});
afterAll(async () => {
  await gw?.stop();
});

describe('DEPRECATED', () => {
  it('answers over GraphQL with a warning in extensions.warnings', async () => {
    const r = await gw.gql(CHAT, { m: 'legacy' }, key);
    expect(r.errors).toBeUndefined();
    expect(r.data.chat.message.content).toBe('echo: hello');
    expect(r.extensions?.warnings).toHaveLength(1);
    expect(r.extensions?.warnings[0]).toMatch(/"legacy" is deprecated/);
  });

  it('puts the warning on every event of a chatStream subscription', async () => {
    const events = await subscribe(STREAM, { m: 'legacy' });
    expect(events.map((e) => e.data.chatStream.delta).join('')).toBe('echo: hello you');
    expect(events.at(-1)?.data.chatStream.finishReason).toBe('STOP');
    for (const e of events) expect(e.extensions?.warnings?.[0]).toMatch(/deprecated/);
  });

  it('answers over REST with a Deprecation header, streamed or not', async () => {
    const res = await post(gw, '/v1/chat/completions', { model: 'legacy', messages: [{ role: 'user', content: 'hello' }] }, key);
    expect(res.status).toBe(200);
    expect(res.headers.get('deprecation')).toBe('true');
    expect(res.headers.get('x-gateway-warning')).toMatch(/"legacy" is deprecated/);
    expect((await res.json()).choices[0].message.content).toBe('echo: hello');

    const streamed = await post(gw, '/v1/chat/completions', { model: 'legacy', stream: true, messages: [{ role: 'user', content: 'hello' }] }, key);
    expect(streamed.headers.get('deprecation')).toBe('true');
    expect((await sseData(streamed)).at(-1)).toBe('[DONE]');
  });

  it('is still listed by GET /v1/models', async () => {
    const ids = (await (await get(gw, '/v1/models', key)).json()).data.map((m: { id: string }) => m.id);
    expect(ids).toContain('legacy');
  });

  it('an ACTIVE model carries no warning and no header', async () => {
    const r = await gw.gql(CHAT, { m: 'current' }, key);
    expect(r.extensions?.warnings).toBeUndefined();
    const events = await subscribe(STREAM, { m: 'current' });
    expect(events.every((e) => !e.extensions?.warnings)).toBe(true);
    const res = await post(gw, '/v1/chat/completions', { model: 'current', messages: [{ role: 'user', content: 'hello' }] }, key);
    expect(res.headers.get('deprecation')).toBeNull();
    expect(res.headers.get('x-gateway-warning')).toBeNull();
  });

  it('takes effect as soon as the status changes', async () => {
    await echoModel('soon-old', 'ACTIVE');
    expect((await gw.gql(CHAT, { m: 'soon-old' }, key)).extensions?.warnings).toBeUndefined();
    await setStatus('soon-old', 'DEPRECATED');
    expect((await gw.gql(CHAT, { m: 'soon-old' }, key)).extensions?.warnings?.[0]).toMatch(/deprecated/);
    await setStatus('soon-old', 'RETIRED');
    expect((await gw.gql(CHAT, { m: 'soon-old' }, key)).errors?.[0].extensions?.code).toBe('MODEL_RETIRED');
  });
});

describe('RETIRED', () => {
  it('fails with MODEL_RETIRED over GraphQL (chat and chatStream)', async () => {
    const r = await gw.gql(CHAT, { m: 'ancient' }, key);
    expect(r.data).toBeNull();
    expect(r.errors?.[0].extensions).toMatchObject({ code: 'MODEL_RETIRED', model: 'ancient' });
    const events = await subscribe(STREAM, { m: 'ancient' });
    expect(events[0].errors?.[0].extensions?.code).toBe('MODEL_RETIRED');
  });

  it('is a 410 over REST, and left out of GET /v1/models', async () => {
    const res = await post(gw, '/v1/chat/completions', { model: 'ancient', messages: [{ role: 'user', content: 'hello' }] }, key);
    expect(res.status).toBe(410);
    expect((await res.json()).error).toMatchObject({ code: 'MODEL_RETIRED' });
    const streamed = await post(gw, '/v1/chat/completions', { model: 'ancient', stream: true, messages: [{ role: 'user', content: 'hello' }] }, key);
    expect(streamed.status).toBe(410);
    expect(streamed.headers.get('content-type')).toMatch(/^application\/json/);
    const ids = (await (await get(gw, '/v1/models', key)).json()).data.map((m: { id: string }) => m.id);
    expect(ids).not.toContain('ancient');
  });

  it('still leaves a usage record, with the error code', async () => {
    await gw.gql(CHAT, { m: 'ancient' }, key);
    await gw.flushUsage();
    const r = await gw.gql('{ usage(filter: { model: "ancient" }) { edges { node { status errorCode } } } }', undefined, key);
    expect(r.data.usage.edges.length).toBeGreaterThan(0);
    for (const e of r.data.usage.edges) expect(e.node).toEqual({ status: 'ERROR', errorCode: 'MODEL_RETIRED' });
  });
});
