/*
 * The response cache's policies and accounting, against a fast upstream: scopes, key/model/request policies,
 * settings, purge, the semantic half through its interface (a stand-in index), limits and costs over 1 000 calls.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { CachedAnswer, SemanticCache } from '../../src/cache/types.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { startOpenAIMock, type OpenAIMock } from '../mocks/openai.js';
import { addMockModels, chat, input, usageOf } from './kit.js';

const FAST = { text: 'An answer.', usage: { prompt_tokens: 10, completion_tokens: 5 } };
// prices of addMockModels: 1000 and 2000 USD per million tokens
const CALL_COST = (10 * 1000 + 5 * 2000) / 1e6;

/**
 * A stand-in for the semantic index: every stored prompt of the same scope and context is "close" (0.97), except
 * prompts containing "far"; a prompt containing "explode" makes the lookup fail.
 */
function fakeSemantic() {
  const entries: Array<{ scope: string; contextHash: string; entry: CachedAnswer; ttlSeconds: number }> = [];
  const cache: SemanticCache = {
    index: 'usearch',
    async lookup(q) {
      if (q.text.includes('explode')) throw new Error('vector index unavailable');
      const found = q.text.includes('far') ? undefined : entries.find((e) => e.scope === q.scope && e.contextHash === q.contextHash);
      return { vector: [q.text.length, 1], hit: found ? { entry: found.entry, similarity: 0.97 } : null };
    },
    async store(e) {
      entries.push(e);
    },
    async purge(f) {
      const before = entries.length;
      const keep = entries.filter((e) => !((f.scope === undefined || e.scope === f.scope) && (f.model === undefined || e.entry.model === f.model)));
      entries.splice(0, entries.length, ...keep);
      return before - entries.length;
    },
  };
  return { cache, entries };
}

let gw: TestGateway;
let mock: OpenAIMock;
const semantic = fakeSemantic();

beforeAll(async () => {
  [gw, mock] = await Promise.all([startGateway({}, { semanticCache: semantic.cache }), startOpenAIMock({ reply: FAST })]);
  await addMockModels(gw, mock, [{ name: 'm' }, { name: 'other' }]);
});
afterAll(async () => {
  await gw?.stop();
  await mock?.close();
});
beforeEach(() => {
  mock.reset();
  mock.reply(FAST);
});

let n = 0;
const fresh = (what: string) => `${what} #${++n}`;
const exact = (text: string, extra: Record<string, unknown> = {}) => input('m', text, { cache: { mode: 'EXACT' }, ...extra });

describe('scope', () => {
  it("a key with its own scope never gets another key's answers; GLOBAL keys share theirs", async () => {
    const [a, b, g1, g2] = await Promise.all([
      gw.createKey({ name: 'a' }),
      gw.createKey({ name: 'b' }),
      gw.createKey({ name: 'g1', cache: { scope: 'GLOBAL' } }),
      gw.createKey({ name: 'g2', cache: { scope: 'GLOBAL' } }),
    ]);
    const q = exact(fresh('shared question'));
    await chat(gw, a.secret, q);
    await chat(gw, b.secret, q);
    expect(mock.chatRequests()).toHaveLength(2);
    await chat(gw, g1.secret, q);
    expect(mock.chatRequests()).toHaveLength(3);
    await chat(gw, g2.secret, q);
    await chat(gw, a.secret, q);
    expect(mock.chatRequests()).toHaveLength(3);
    expect((await usageOf(gw, g2.id)).map((r) => r.cacheHit)).toEqual(['EXACT']);
  });
});

describe('policies', () => {
  it('a key and a model carry a policy, shown as ApiKey.cache and Model.cache; the request wins, then the key, then the model', async () => {
    const k = await gw.createKey({ name: 'policy', cache: { mode: 'EXACT', ttlSeconds: 60, scope: 'GLOBAL' } });
    const read = await gw.gql<{ node: { cache: unknown } }>('query($id: ID!) { node(id: $id) { ... on ApiKey { cache { mode ttlSeconds scope } } } }', { id: k.id });
    expect(read.data!.node.cache).toEqual({ mode: 'EXACT', ttlSeconds: 60, scope: 'GLOBAL' });

    // the key's EXACT applies to a model without a policy
    const q = input('other', fresh('key policy'));
    await chat(gw, k.secret, q);
    await chat(gw, k.secret, q);
    expect(mock.chatRequests()).toHaveLength(1);

    // the request's OFF wins over the key
    await chat(gw, k.secret, { ...q, cache: { mode: 'OFF' } });
    expect(mock.chatRequests()).toHaveLength(2);

    // null clears the key's policy: back to the model's (none)
    const cleared = await gw.gql<{ updateApiKey: { cache: unknown } }>(
      'mutation($id: ID!) { updateApiKey(id: $id, input: { cache: null }) { cache { mode ttlSeconds scope } } }',
      { id: k.id },
    );
    expect(cleared.data!.updateApiKey.cache).toEqual({ mode: 'OFF', ttlSeconds: null, scope: 'KEY' });
    const q2 = input('other', fresh('after clearing'));
    await chat(gw, k.secret, q2);
    await chat(gw, k.secret, q2);
    expect(mock.chatRequests()).toHaveLength(4);

    // the model's policy applies when the key sets none
    const up = await gw.gql<{ updateModel: { cache: unknown } }>('mutation { updateModel(name: "other", input: { cache: { mode: EXACT, ttlSeconds: 30 } }) { cache { mode ttlSeconds scope } } }');
    expect(up.data!.updateModel.cache).toEqual({ mode: 'EXACT', ttlSeconds: 30, scope: null });
    await chat(gw, k.secret, q2);
    await chat(gw, k.secret, q2);
    expect(mock.chatRequests()).toHaveLength(5);
    await gw.gql('mutation { updateModel(name: "other", input: { cache: null }) { name } }');
  });

  it('refuses bad policies naming the field', async () => {
    const model = await gw.gql('mutation { updateModel(name: "other", input: { cache: { mode: EXACT, scope: GLOBAL } }) { name } }');
    expect(model.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.cache.scope' });
    const key = await gw.gql('mutation { createApiKey(input: { name: "x", cache: { ttlSeconds: -1 } }) { secret } }');
    expect(key.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.cache.ttlSeconds' });
  });

  it('forgets an answer after its TTL', async () => {
    const k = await gw.createKey({ name: 'ttl' });
    const q = exact(fresh('short-lived'), { cache: { mode: 'EXACT', ttlSeconds: 1 } });
    await chat(gw, k.secret, q);
    await chat(gw, k.secret, q);
    expect(mock.chatRequests()).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 1100));
    await chat(gw, k.secret, q);
    expect(mock.chatRequests()).toHaveLength(2);
  });
});

describe('settings and purge', () => {
  it('cacheSettings and updateCacheSettings (ADMIN), with checked input', async () => {
    const s = await gw.gql<{ cacheSettings: Record<string, unknown> }>('{ cacheSettings { embeddingModel similarityThreshold defaultTtlSeconds store vectorIndex } }');
    expect(s.data!.cacheSettings).toEqual({ embeddingModel: null, similarityThreshold: 0.95, defaultTtlSeconds: 3600, store: 'memory', vectorIndex: 'usearch' });
    const u = await gw.gql<{ updateCacheSettings: Record<string, unknown> }>(
      'mutation { updateCacheSettings(input: { embeddingModel: "m", similarityThreshold: 0.9, defaultTtlSeconds: 120 }) { embeddingModel similarityThreshold defaultTtlSeconds } }',
    );
    expect(u.data!.updateCacheSettings).toEqual({ embeddingModel: 'm', similarityThreshold: 0.9, defaultTtlSeconds: 120 });
    const bad = await gw.gql('mutation { updateCacheSettings(input: { similarityThreshold: 1.5 }) { defaultTtlSeconds } }');
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.similarityThreshold' });
    const unknown = await gw.gql('mutation { updateCacheSettings(input: { embeddingModel: "nope" }) { defaultTtlSeconds } }');
    expect(unknown.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.embeddingModel' });
    const k = await gw.createKey({ name: 'not admin', scopes: ['INVOKE'] });
    const forbidden = await gw.gql('{ cacheSettings { store } }', {}, k.secret);
    expect(forbidden.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    await gw.gql('mutation { updateCacheSettings(input: { embeddingModel: null, similarityThreshold: 0.95, defaultTtlSeconds: 3600 }) { store } }');
  });

  it("purgeCache removes a key's answers, a model's, or all, and says how many", async () => {
    const [a, b] = await Promise.all([gw.createKey({ name: 'pa' }), gw.createKey({ name: 'pb' })]);
    const qa = exact(fresh('purge a'));
    const qb = exact(fresh('purge b'));
    const qo = input('other', fresh('purge other'), { cache: { mode: 'EXACT' } });
    for (const [k, q] of [[a, qa], [b, qb], [b, qo]] as const) await chat(gw, k.secret, q);
    expect(mock.chatRequests()).toHaveLength(3);
    const purge = async (i: Record<string, unknown>) => {
      const r = await gw.gql<{ purgeCache: { purged: number } }>('mutation($i: PurgeCacheInput!) { purgeCache(input: $i) { purged } }', { i });
      if (!r.data) throw new Error(JSON.stringify(r.errors));
      return r.data.purgeCache.purged;
    };
    expect(await purge({ apiKeyId: a.id })).toBe(1);
    await chat(gw, a.secret, qa);
    await chat(gw, b.secret, qb);
    expect(mock.chatRequests()).toHaveLength(4);
    expect(await purge({ apiKeyId: b.id, model: 'other' })).toBe(1);
    await chat(gw, b.secret, qb);
    expect(mock.chatRequests()).toHaveLength(4);
    expect(await purge({ all: true })).toBeGreaterThanOrEqual(2);
    await chat(gw, a.secret, qa);
    await chat(gw, b.secret, qb);
    expect(mock.chatRequests()).toHaveLength(6);

    const both = await gw.gql('mutation { purgeCache(input: { all: true, model: "m" }) { purged } }');
    expect(both.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.all' });
    const none = await gw.gql('mutation { purgeCache(input: {}) { purged } }');
    expect(none.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const notAdmin = await gw.gql('mutation { purgeCache(input: { all: true }) { purged } }', {}, a.secret);
    expect(notAdmin.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });
});

describe('semantic (through the SemanticCache interface)', () => {
  it('an exact miss asks the semantic index; its hit answers with its similarity; the answer is stored in both', async () => {
    const k = await gw.createKey({ name: 'sem', scopes: ['INVOKE', 'READ_USAGE'] });
    const settings = (embeddingModel: string | null) =>
      gw.gql('mutation($m: String) { updateCacheSettings(input: { embeddingModel: $m }) { embeddingModel } }', { m: embeddingModel });
    await settings('m');
    const system = { role: 'SYSTEM', content: fresh('Answer briefly') };
    const ask = (text: string, sys = system) => ({ model: 'm', messages: [sys, { role: 'USER', content: text }], cache: { mode: 'SEMANTIC' } });
    const stored = semantic.entries.length;
    const first = await chat(gw, k.secret, ask('What is the capital of France?'));
    expect(semantic.entries.length).toBe(stored + 1);
    expect(semantic.entries.at(-1)).toMatchObject({ scope: `key:${k.uuid}`, ttlSeconds: 3600 });
    // a paraphrase: a semantic hit
    const para = await chat(gw, k.secret, ask('Which city is the capital of France?'));
    expect(para.answer.message.content).toBe(first.answer.message.content);
    expect(mock.chatRequests()).toHaveLength(1);
    // the same question again: an exact hit, the semantic index is not asked
    await chat(gw, k.secret, ask('What is the capital of France?'));
    // far away, another context, a failing index: misses
    await chat(gw, k.secret, ask('something far away'));
    await chat(gw, k.secret, ask('Which city is the capital of France?', { role: 'SYSTEM', content: 'Another context' }));
    await chat(gw, k.secret, ask('please explode'));
    expect(mock.chatRequests()).toHaveLength(4);
    const rows = await usageOf(gw, k.id);
    expect(rows.map((r) => [r.status, r.cacheHit, r.cacheSimilarity])).toEqual([
      ['OK', null, null],
      ['OK', 'SEMANTIC', 0.97],
      ['OK', 'EXACT', 1],
      ['OK', null, null],
      ['OK', null, null],
      ['OK', null, null],
    ]);
    expect(gw.logs.some((l) => l.includes('semantic lookup failed'))).toBe(true);

    // without an embedding model, SEMANTIC is EXACT: the paraphrase now misses
    await settings(null);
    await chat(gw, k.secret, ask('Which city is the capital of France?'));
    expect(mock.chatRequests()).toHaveLength(5);
  });
});

describe('accounting', () => {
  it('hits count against requestsPerMinute, not against tokensPerDay', async () => {
    const k = await gw.createKey({ name: 'limited', scopes: ['INVOKE', 'READ_USAGE'], limits: { requestsPerMinute: 3, tokensPerDay: 1000 } });
    const q = exact(fresh('limited question'), { maxTokens: 10 });
    for (let i = 0; i < 3; i++) await chat(gw, k.secret, q);
    const lu = await gw.gql<{ node: { limitUsage: { requestsThisMinute: number; tokensToday: number } } }>(
      'query($id: ID!) { node(id: $id) { ... on ApiKey { limitUsage { requestsThisMinute tokensToday } } } }',
      { id: k.id },
    );
    expect(lu.data!.node.limitUsage).toEqual({ requestsThisMinute: 3, tokensToday: 15 });
    const fourth = await gw.gql('mutation($input: ChatInput!) { chat(input: $input) { id } }', { input: q }, k.secret);
    expect(fourth.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    expect(mock.chatRequests()).toHaveLength(1);
  });

  it('a key whose token quota is spent still gets its cached answers; a call that needs the upstream is refused', async () => {
    // the first call uses the mock's 15 tokens: the whole day's quota
    const k = await gw.createKey({ name: 'spent', scopes: ['INVOKE', 'READ_USAGE'], limits: { tokensPerDay: 15, tokensPerMinute: 15, requestsPerMinute: 3 } });
    const q = exact(fresh('spent question'), { maxTokens: 10 });
    await chat(gw, k.secret, q);
    const again = async (input: Record<string, unknown>) => gw.gql('mutation($input: ChatInput!) { chat(input: $input) { id } }', { input }, k.secret);
    expect((await again(exact(fresh('another spent question')))).errors?.[0]?.extensions?.code).toBe('QUOTA_EXCEEDED');
    // hits: neither the spent day nor the spent minute of tokens refuses them, the request rate does (the refusal
    // above was not counted: a quota refuses before the minute's window is charged)
    for (let i = 0; i < 2; i++) expect((await again(q)).errors).toBeUndefined();
    expect((await again(q)).errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    expect(mock.chatRequests()).toHaveLength(1);
  });

  it('1 000 calls, half of them repeats: exactly the repeats hit, and the costs add up to the upstream calls made', async () => {
    const k = await gw.createKey({ name: 'bulk', scopes: ['INVOKE', 'READ_USAGE'] });
    const questions = Array.from({ length: 500 }, (_, i) => exact(fresh(`bulk question ${i}`)));
    const run = async (qs: Array<Record<string, unknown>>) => {
      for (let i = 0; i < qs.length; i += 25) await Promise.all(qs.slice(i, i + 25).map((q) => chat(gw, k.secret, q)));
    };
    await run(questions);
    // every question once more, in another order
    await run([...questions].reverse());
    expect(mock.chatRequests()).toHaveLength(500);
    const rows = await usageOf(gw, k.id);
    expect(rows).toHaveLength(1000);
    const hits = rows.filter((r) => r.cacheHit === 'EXACT');
    expect(hits).toHaveLength(500);
    expect(rows.slice(0, 500).every((r) => r.cacheHit === null)).toBe(true);
    const total = rows.reduce((s, r) => s + r.costUsd, 0);
    expect(total).toBeCloseTo(500 * CALL_COST, 6);
    expect(hits.every((r) => r.costUsd === 0)).toBe(true);
    expect(hits.reduce((s, r) => s + r.costSavedUsd, 0)).toBeCloseTo(500 * CALL_COST, 6);

    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toMatch(/gateway_cache_lookups_total\{result="hit_exact"\} \d+/);
  });
});
