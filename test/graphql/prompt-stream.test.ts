/* promptStream: a stored prompt filled on the server and streamed over graphql-ws and SSE, with runPrompt's access rules and usage tags. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEchoAdapter } from '../../src/providers/echo/index.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { openFeed, within } from '../kit/feed.js';
import { sseCollect, sseSubscribe } from '../kit/sse.js';
import { createWsClient, wsCollect } from '../kit/ws.js';
import { expectCode, instrument, ok, sleep, usageOf, waitFor, type AdapterStats } from './helpers.js';

const WORD_DELAY_MS = 20;
const PROMPT_STREAM = `subscription Run($n: String!, $v: Int, $vars: JSON) {
  promptStream(name: $n, version: $v, variables: $vars) {
    invocationId model delta finishReason
    usage { promptTokens completionTokens totalTokens }
  }
}`;
const CREATE = 'mutation($i: CreatePromptInput!) { createPrompt(input: $i) { version } }';

type Chunk = { invocationId: string; model: string; delta: string; finishReason: string | null; usage: { completionTokens: number } | null };

let gw: TestGateway;
let stats: AdapterStats;

beforeAll(async () => {
  const slow = instrument(createEchoAdapter({ wordDelayMs: WORD_DELAY_MS }));
  stats = slow.stats;
  gw = await startGateway({ KEY_CACHE_TTL_MS: '2000' }, { adapters: { ECHO: slow.adapter } });
  for (const content of ['Tell me about {{city}}', 'Weather in {{city}} on {{day}}']) {
    const r = await gw.gql(CREATE, { i: { name: 'trip', model: 'echo', messages: [{ role: 'USER', content }] } });
    expect(r.errors).toBeUndefined();
  }
});

afterAll(async () => {
  await gw?.stop();
});

describe('promptStream', () => {
  it('over graphql-ws: streams the filled version chunk by chunk, the last with finishReason and usage', async () => {
    const key = await gw.createKey({ name: 'ws prompt runner', scopes: ['INVOKE'] });
    const client = createWsClient(gw.url, key.secret);
    try {
      const results = await wsCollect<{ promptStream: Chunk }>(client, PROMPT_STREAM, { n: 'trip', v: 1, vars: { city: 'Lyon' } });
      const chunks = results.map((r) => r.data!.promptStream);
      // echo answers word by word: several events, not one
      expect(chunks.length).toBeGreaterThan(3);
      expect(chunks.map((c) => c.delta).join('')).toBe('echo: Tell me about Lyon');
      expect(chunks.at(-1)).toMatchObject({ finishReason: 'STOP', model: 'echo' });
      expect(chunks.at(-1)!.usage!.completionTokens).toBeGreaterThan(0);
      expect(new Set(chunks.map((c) => c.invocationId)).size).toBe(1);
    } finally {
      await client.dispose();
    }
  });

  it('over SSE: the latest version by default; the usage record is streamed and names the prompt and version', async () => {
    const key = await gw.createKey({ name: 'sse prompt runner', scopes: ['INVOKE'] });
    const results = await sseCollect<{ promptStream: Chunk }>(gw.url, PROMPT_STREAM, { n: 'trip', vars: { city: 'Oslo', day: 'Monday' } }, key.secret);
    expect(results.every((r) => !r.errors)).toBe(true);
    expect(results.map((r) => r.data!.promptStream.delta).join('')).toBe('echo: Weather in Oslo on Monday');
    const records = await waitFor(async () => {
      const r = await usageOf(gw, key.id);
      return r.length ? r : null;
    }, 'the usage record');
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ status: 'OK', streamed: true, model: 'echo', metadata: { prompt: 'trip', promptVersion: 2 } });
    expect(records[0].invocationId).toBe(results[0].data!.promptStream.invocationId);
  });

  it('a missing variable is BAD_USER_INPUT naming it, before anything streams', async () => {
    const key = await gw.createKey({ scopes: ['INVOKE'] });
    const results = await sseCollect(gw.url, PROMPT_STREAM, { n: 'trip', vars: { city: 'Oslo' } }, key.secret);
    expect(results).toHaveLength(1);
    expectCode(results[0], 'BAD_USER_INPUT', 'variables.day');
  });

  it('needs INVOKE; a key whose allowed models leave the prompt out is told it does not exist', async () => {
    const reader = await gw.createKey({ scopes: ['READ_USAGE'] });
    const [denied] = await sseCollect(gw.url, PROMPT_STREAM, { n: 'trip', v: 1, vars: { city: 'Oslo' } }, reader.secret);
    expectCode(denied, 'FORBIDDEN');
    const narrow = await gw.createKey({ scopes: ['INVOKE'], allowedModels: ['some-other-model'] });
    const client = createWsClient(gw.url, narrow.secret);
    try {
      const [hidden] = await wsCollect(client, PROMPT_STREAM, { n: 'trip', v: 1, vars: { city: 'Oslo' } });
      expectCode(hidden, 'NOT_FOUND');
    } finally {
      await client.dispose();
    }
  });

  it('leaving mid-stream aborts the upstream and records CANCELLED', async () => {
    const key = await gw.createKey({ name: 'prompt canceller', scopes: ['INVOKE'] });
    const before = { ...stats };
    const long = Array.from({ length: 40 }, (_, i) => `w${i}`).join(' ');
    const sub = sseSubscribe<{ promptStream: Chunk }>(gw.url, PROMPT_STREAM, { n: 'trip', v: 1, vars: { city: long } }, key.secret);
    let received = 0;
    for await (const r of sub.results) {
      expect(r.errors).toBeUndefined();
      if (++received === 2) sub.abort();
    }
    await waitFor(() => stats.signalsAborted === before.signalsAborted + 1, 'the upstream to be aborted', 3000);
    const yielded = stats.chunksYielded;
    await sleep(WORD_DELAY_MS * 5);
    expect(stats.chunksYielded).toBe(yielded);
    const records = await waitFor(async () => {
      const r = await usageOf(gw, key.id);
      return r.length ? r : null;
    }, 'the usage record of the cancelled stream');
    expect(records[0]).toMatchObject({ status: 'CANCELLED', streamed: true, metadata: { prompt: 'trip', promptVersion: 1 } });
  });

  it('losing INVOKE ends a running promptStream (ws and SSE) with FORBIDDEN, as it ends a chatStream', async () => {
    const key = await gw.createKey({ name: 'prompt streamer', scopes: ['INVOKE'] });
    const city = Array.from({ length: 200 }, (_, i) => `c${i}`).join(' ');
    // a defaulted variable, not a JSON literal in the document (graphql-jit warns about those)
    const query = `subscription($vars: JSON = { city: "${city}" }) { promptStream(name: "trip", version: 1, variables: $vars) { delta } }`;
    const streams = (['ws', 'sse'] as const).map((t) => openFeed(gw.url, key.secret, t, query));
    await waitFor(() => streams.every((s) => s.records.length > 0), 'both streams to start');
    ok(await gw.gql('mutation($id: ID!) { updateApiKey(id: $id, input: { scopes: [READ_USAGE] }) { id } }', { id: key.id }));
    for (const s of streams) {
      const end = await within(s.ended, 3000, `the ${s.transport} stream to end`);
      expect(end.codes, s.transport).toEqual(['FORBIDDEN']);
      // ended early: 200 words at WORD_DELAY_MS would take 4 s
      expect(s.records.length).toBeLessThan(150);
    }
  });

  it("a running promptStream ends with FORBIDDEN when the prompt's model leaves the key's allowedModels (ws and SSE), as a chatStream does", async () => {
    const key = await gw.createKey({ name: 'prompt streamer on an allow-list', scopes: ['INVOKE'], allowedModels: ['echo'] });
    const city = Array.from({ length: 200 }, (_, i) => `m${i}`).join(' ');
    const query = `subscription($vars: JSON = { city: "${city}" }) { promptStream(name: "trip", version: 1, variables: $vars) { delta } }`;
    const streams = (['ws', 'sse'] as const).map((t) => openFeed(gw.url, key.secret, t, query));
    await waitFor(() => streams.every((s) => s.records.length > 0), 'both streams to start');
    // the arguments name only the prompt: the model comes from the prompt itself
    ok(await gw.gql('mutation($id: ID!) { updateApiKey(id: $id, input: { allowedModels: ["some-other-model"] }) { id } }', { id: key.id }));
    for (const s of streams) {
      const end = await within(s.ended, 3000, `the ${s.transport} stream to end`);
      expect(end.codes, s.transport).toEqual(['FORBIDDEN']);
      expect(s.records.length).toBeLessThan(150);
    }
  });
});
