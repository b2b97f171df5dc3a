/* Usage over GraphQL: one record per invocation, newest first with cursors and filters, monthToDate, DataLoader batching. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { sseCollect } from '../kit/sse.js';
import { CHAT, CHAT_STREAM, USAGE, chatInput, expectCode, ok, sleep, usageOf, type UsageNode } from './helpers.js';

let gw: TestGateway;

beforeAll(async () => {
  gw = await startGateway();
  ok(await gw.gql('mutation { createModel(input: { name: "echo-two", targets: [{ provider: "echo", upstreamModel: "echo-2" }] }) { id } }'));
});

afterAll(async () => {
  await gw?.stop();
});

type Page = { usage: { edges: Array<{ cursor: string; node: UsageNode }>; pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null } } };

describe('one usage record per invocation', () => {
  it('success, unknown model, invalid input and a stream each leave exactly one record', async () => {
    const key = await gw.createKey({ name: 'counted', scopes: ['INVOKE'] });
    ok(await gw.gql(CHAT, { input: chatInput('hello there', { metadata: { step: 'ok' } }) }, key.secret));
    expectCode(await gw.gql(CHAT, { input: chatInput('x', { model: 'missing-model', metadata: { step: 'missing' } }) }, key.secret), 'MODEL_NOT_FOUND');
    expectCode(await gw.gql(CHAT, { input: chatInput('x', { maxTokens: 0, metadata: { step: 'bad' } }) }, key.secret), 'BAD_USER_INPUT', 'input.maxTokens');
    const streamed = await sseCollect(gw.url, CHAT_STREAM, { input: chatInput('streamed words', { metadata: { step: 'stream' } }) }, key.secret);
    expect(streamed.at(-1)?.data?.chatStream.finishReason).toBe('STOP');

    const records = await usageOf(gw, key.id);
    expect(records).toHaveLength(4);
    const byStep = Object.fromEntries(records.map((r) => [String(r.metadata?.step), r]));
    expect(Object.keys(byStep).sort()).toEqual(['bad', 'missing', 'ok', 'stream']);

    expect(byStep.ok).toMatchObject({
      model: 'echo',
      provider: 'echo',
      upstreamModel: 'echo',
      status: 'OK',
      errorCode: null,
      streamed: false,
      attempts: 1,
      promptTokens: 2,
      completionTokens: 3,
      costUsd: 0,
      apiKey: { id: key.id, name: 'counted' },
    });
    expect(byStep.missing).toMatchObject({ model: 'missing-model', status: 'ERROR', errorCode: 'MODEL_NOT_FOUND', provider: null, promptTokens: 0, completionTokens: 0 });
    expect(byStep.bad).toMatchObject({ status: 'ERROR', errorCode: 'BAD_USER_INPUT' });
    expect(byStep.stream).toMatchObject({ status: 'OK', streamed: true, provider: 'echo', promptTokens: 2, completionTokens: 3 });
    expect(byStep.stream.ttftMs).not.toBeNull();

    // and still exactly four a moment later: nothing was written twice
    await sleep(100);
    expect(await usageOf(gw, key.id)).toHaveLength(4);
  });

  it('NUL characters and lone surrogates in metadata are stored (replaced), never blocking the records behind them', async () => {
    const { id, secret } = await gw.createKey({ name: 'odd text' });
    const odd = { tag: 'a\u0000b', broken: 'x\ud800y', nested: { list: ['\u0000'], 'key\u0000': 1 }, 'lone\udc00': true };
    const r1 = await gw.gql(CHAT, { input: { ...chatInput('hi'), metadata: odd } }, secret);
    expect(r1.errors).toBeUndefined();
    // a NUL in a text argument is refused at the edge, before the gateway core: no usage record
    const r2 = await gw.gql(CHAT, { input: { ...chatInput('hi'), model: 'no\u0000such-model' } }, secret);
    expectCode(r2, 'BAD_USER_INPUT', 'input.model');
    const r3 = await gw.gql(CHAT, { input: chatInput('after') }, secret);
    expect(r3.errors).toBeUndefined();
    const records = await usageOf(gw, id);
    expect(records).toHaveLength(2);
    expect(gw.app.usage.pending()).toBe(0);
    // keys are cleaned like values: the record keeps its metadata
    expect(records.find((r) => r.metadata?.tag)?.metadata).toEqual({
      tag: 'a\uFFFDb',
      broken: 'x\uFFFDy',
      nested: { list: ['\uFFFD'], 'key\uFFFD': 1 },
      'lone\uFFFD': true,
    });
  });

  it('concurrent invocations leave one record each', async () => {
    const key = await gw.createKey({ name: 'parallel', scopes: ['INVOKE'] });
    await Promise.all(Array.from({ length: 20 }, (_, i) => gw.gql(CHAT, { input: chatInput(`n${i}`, { metadata: { i } }) }, key.secret).then(ok)));
    const records = await usageOf(gw, key.id);
    expect(records).toHaveLength(20);
    expect(new Set(records.map((r) => r.metadata?.i)).size).toBe(20);
    expect(new Set(records.map((r) => r.id)).size).toBe(20);
  });

  it('calls refused before the gateway core (no key, no scope) leave none for the key', async () => {
    const reader = await gw.createKey({ name: 'reader only', scopes: ['READ_USAGE'] });
    expectCode(await gw.gql(CHAT, { input: chatInput('x') }, reader.secret), 'FORBIDDEN');
    expect(await usageOf(gw, reader.id)).toHaveLength(0);
  });
});

describe('usage connection', () => {
  let key: { id: string; secret: string };
  const N = 7;

  beforeAll(async () => {
    key = await gw.createKey({ name: 'pager', scopes: ['INVOKE', 'READ_USAGE'] });
    for (let i = 0; i < N; i++) {
      const model = i % 2 ? 'echo-two' : 'echo';
      ok(await gw.gql(CHAT, { input: chatInput(`message ${i}`, { model, metadata: { i } }) }, key.secret));
      await sleep(3); // distinct creation times, so "newest first" has one right answer
    }
    expectCode(await gw.gql(CHAT, { input: chatInput('x', { model: 'nope', metadata: { i: N } }) }, key.secret), 'MODEL_NOT_FOUND');
    await gw.flushUsage();
  });

  it('is newest first', async () => {
    const d = ok(await gw.gql<Page>(USAGE, { filter: { apiKeyId: key.id } }));
    const order = d.usage.edges.map((e) => e.node.metadata?.i);
    expect(order).toEqual([7, 6, 5, 4, 3, 2, 1, 0]);
    const times = d.usage.edges.map((e) => Date.parse(e.node.createdAt));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    expect(d.usage.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: false });
  });

  it('pages with first/after without gaps or repeats', async () => {
    const seen: number[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const d: Page = ok(await gw.gql<Page>(USAGE, { filter: { apiKeyId: key.id }, first: 3, after }));
      pages++;
      const { edges, pageInfo } = d.usage;
      expect(edges.length).toBeLessThanOrEqual(3);
      seen.push(...edges.map((e) => e.node.metadata?.i as number));
      expect(pageInfo.startCursor).toBe(edges[0]?.cursor ?? null);
      expect(pageInfo.endCursor).toBe(edges.at(-1)?.cursor ?? null);
      expect(pageInfo.hasPreviousPage).toBe(after !== null);
      if (!pageInfo.hasNextPage) break;
      after = pageInfo.endCursor;
      expect(pages).toBeLessThan(10);
    }
    expect(pages).toBe(3);
    expect(seen).toEqual([7, 6, 5, 4, 3, 2, 1, 0]);
  });

  it('first: 0 returns no edges but says there is more', async () => {
    const d = ok(await gw.gql<Page>(USAGE, { filter: { apiKeyId: key.id }, first: 0 }));
    expect(d.usage.edges).toEqual([]);
    expect(d.usage.pageInfo.hasNextPage).toBe(true);
  });

  it('filters by model, status, provider and time', async () => {
    const byModel = ok(await gw.gql<Page>(USAGE, { filter: { apiKeyId: key.id, model: 'echo-two' } }));
    expect(byModel.usage.edges.map((e) => e.node.metadata?.i)).toEqual([5, 3, 1]);
    expect(byModel.usage.edges.every((e) => e.node.upstreamModel === 'echo-2')).toBe(true);

    const errors = ok(await gw.gql<Page>(USAGE, { filter: { apiKeyId: key.id, status: 'ERROR' } }));
    expect(errors.usage.edges.map((e) => [e.node.model, e.node.errorCode])).toEqual([['nope', 'MODEL_NOT_FOUND']]);

    const byProvider = ok(await gw.gql<Page>(USAGE, { filter: { apiKeyId: key.id, provider: 'echo' } }));
    expect(byProvider.usage.edges).toHaveLength(N);

    const all = ok(await gw.gql<Page>(USAGE, { filter: { apiKeyId: key.id } })).usage.edges.map((e) => e.node);
    const pivot = all.find((n) => n.metadata?.i === 3)!;
    const since = ok(await gw.gql<Page>(USAGE, { filter: { apiKeyId: key.id, from: pivot.createdAt } }));
    expect(since.usage.edges.map((e) => e.node.metadata?.i)).toEqual([7, 6, 5, 4, 3]);
    const before = ok(await gw.gql<Page>(USAGE, { filter: { apiKeyId: key.id, to: pivot.createdAt } }));
    expect(before.usage.edges.map((e) => e.node.metadata?.i)).toEqual([2, 1, 0]);
    const future = ok(await gw.gql<Page>(USAGE, { filter: { apiKeyId: key.id, from: new Date(Date.now() + 3_600_000).toISOString() } }));
    expect(future.usage.edges).toEqual([]);
  });

  it('a non-admin key sees only its own records, whatever the filter says', async () => {
    const other = await gw.createKey({ name: 'someone else', scopes: ['INVOKE'] });
    ok(await gw.gql(CHAT, { input: chatInput('not yours') }, other.secret));
    await gw.flushUsage();
    const mine = ok(await gw.gql<Page>(USAGE, {}, key.secret));
    expect(mine.usage.edges).toHaveLength(N + 1);
    expect(mine.usage.edges.every((e) => e.node.apiKey?.id === key.id)).toBe(true);
    const snooping = ok(await gw.gql<Page>(USAGE, { filter: { apiKeyId: other.id } }, key.secret));
    expect(snooping.usage.edges).toEqual([]);
    // the admin sees both
    const admin = ok(await gw.gql<Page>(USAGE, { filter: { apiKeyId: other.id } }));
    expect(admin.usage.edges).toHaveLength(1);
  });

  it('bad arguments are BAD_USER_INPUT naming them', async () => {
    expectCode(await gw.gql(USAGE, { after: 'not-a-cursor' }), 'BAD_USER_INPUT', 'after');
    expectCode(await gw.gql(USAGE, { first: -1 }), 'BAD_USER_INPUT', 'first');
    expectCode(await gw.gql(USAGE, { first: 100_000 }), 'BAD_USER_INPUT', 'first');
    expectCode(await gw.gql(USAGE, { filter: { apiKeyId: 'nope' } }), 'BAD_USER_INPUT', 'filter.apiKeyId');
    const wrongStatus = await gw.gql(USAGE, { filter: { status: 'WHATEVER' } });
    expectCode(wrongStatus, 'BAD_USER_INPUT');
  });

  it('viewer.monthToDate totals this key’s calls this month', async () => {
    const d = ok(await gw.gql<{ viewer: { monthToDate: { requests: number; promptTokens: number; completionTokens: number; costUsd: number } } }>('{ viewer { monthToDate { requests promptTokens completionTokens costUsd } } }', {}, key.secret));
    // 7 chats of "message i": 2 prompt tokens and 3 completion tokens each; the failed call counts as a request with no tokens
    // (plus nothing from other keys)
    expect(d.viewer.monthToDate).toEqual({ requests: N + 1, promptTokens: 2 * N, completionTokens: 3 * N, costUsd: 0 });
  });

  it('apiKeys { monthToDate } for many keys agrees with each key’s own viewer', async () => {
    const d = ok(await gw.gql<{ apiKeys: Array<{ id: string; monthToDate: { requests: number } }> }>('{ apiKeys { id monthToDate { requests } } }'));
    expect(d.apiKeys.find((k) => k.id === key.id)?.monthToDate.requests).toBe(N + 1);
    expect(d.apiKeys.every((k) => Number.isInteger(k.monthToDate.requests))).toBe(true);
  });
});

describe('UsageRecord.apiKey through a per-request DataLoader', () => {
  const PAGE_WITH_KEYS = `query($first: Int) { usage(first: $first) { edges { node { id apiKey { id name scopes } } } } }`;

  beforeAll(async () => {
    // 100+ records spread over 5 keys
    const keys = await Promise.all(Array.from({ length: 5 }, (_, i) => gw.createKey({ name: `loader ${i}`, scopes: ['INVOKE'] })));
    for (let round = 0; round < 4; round++) {
      await Promise.all(
        Array.from({ length: 25 }, (_, i) => gw.gql(CHAT, { input: chatInput(`r${round} ${i}`) }, keys[i % 5].secret).then(ok)),
      );
    }
    await gw.flushUsage();
  });

  async function statementsFor(first: number) {
    await gw.gql(PAGE_WITH_KEYS, { first: 1 }); // warm the key cache and lastUsedAt for the admin
    await gw.flushUsage();
    const before = gw.app.services.database.queryCount();
    const res = ok(await gw.gql<{ usage: { edges: Array<{ node: { apiKey: { id: string; name: string } | null } }> } }>(PAGE_WITH_KEYS, { first }));
    const after = gw.app.services.database.queryCount();
    return { statements: after - before, edges: res.usage.edges };
  }

  it('a page of 100 records with nested apiKey takes a small constant number of statements', async () => {
    const big = await statementsFor(100);
    expect(big.edges).toHaveLength(100);
    expect(big.edges.every((e) => e.node.apiKey?.id)).toBe(true);
    expect(new Set(big.edges.map((e) => e.node.apiKey!.id)).size).toBeGreaterThanOrEqual(5);
    // the page itself and one batched key lookup
    expect(big.statements).toBeLessThanOrEqual(3);

    const small = await statementsFor(10);
    expect(small.edges).toHaveLength(10);
    expect(small.statements).toBeLessThanOrEqual(3);
    expect(big.statements).toBeLessThanOrEqual(small.statements + 1);
  });
});
