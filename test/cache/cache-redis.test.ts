/*
 * The exact cache in Redis: shared by every instance of a gateway (when TEST_REDIS_URL is set), and never the
 * reason a call fails: with Redis unreachable, lookups and stores are misses and the calls are answered upstream.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closedPort } from '../gateway/helpers.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { startTcpProxy, type TcpProxy } from '../kit/tcp-proxy.js';
import { startOpenAIMock, type OpenAIMock } from '../mocks/openai.js';
import { addMockModels, chat, input } from './kit.js';

const TEST_REDIS_URL = process.env.TEST_REDIS_URL || undefined;
const q = (text: string) => input('m', text, { cache: { mode: 'EXACT' } });

describe('Redis unreachable', () => {
  let gw: TestGateway;
  let mock: OpenAIMock;
  beforeAll(async () => {
    const port = await closedPort();
    [gw, mock] = await Promise.all([startGateway({ REDIS_URL: `redis://127.0.0.1:${port}` }), startOpenAIMock()]);
    await addMockModels(gw, mock, [{ name: 'm' }]);
  });
  afterAll(async () => {
    await gw?.stop();
    await mock?.close();
  });

  it('calls succeed as misses, and the failures are logged', async () => {
    const k = await gw.createKey({ name: 'k' });
    const a = await chat(gw, k.secret, q('while Redis is down'));
    const b = await chat(gw, k.secret, q('while Redis is down'));
    expect(b.answer.message.content).toBe(a.answer.message.content);
    expect(mock.chatRequests()).toHaveLength(2);
    expect(gw.logs.some((l) => l.includes('exact lookup failed'))).toBe(true);
    expect(gw.logs.some((l) => l.includes('exact store failed'))).toBe(true);
    const s = await gw.gql<{ cacheSettings: { store: string } }>('{ cacheSettings { store } }');
    expect(s.data!.cacheSettings.store).toBe('redis');
  });
});

describe.skipIf(!TEST_REDIS_URL)('Redis shared by instances', () => {
  let one: TestGateway;
  let two: TestGateway;
  let mock: OpenAIMock;
  let proxy: TcpProxy;
  beforeAll(async () => {
    const target = new URL(TEST_REDIS_URL!);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
    const env = { REDIS_URL: `redis://127.0.0.1:${proxy.port}${target.pathname}` };
    const opts = { redisPrefix: `test-cache-${randomBytes(4).toString('hex')}:` };
    // one database for both: each gateway has its own in-memory one, so the key is created in each with the same secret
    [one, two, mock] = await Promise.all([startGateway(env, opts), startGateway(env, opts), startOpenAIMock()]);
    await addMockModels(one, mock, [{ name: 'm' }]);
    await addMockModels(two, mock, [{ name: 'm' }]);
  });
  afterAll(async () => {
    await one?.stop();
    await two?.stop();
    await mock?.close();
    await proxy?.close();
  });

  it("an answer stored by one instance answers the other's GLOBAL calls; purge on one empties both", async () => {
    const [k1, k2] = await Promise.all([one.createKey({ name: 'g', cache: { scope: 'GLOBAL' } }), two.createKey({ name: 'g', cache: { scope: 'GLOBAL' } })]);
    const question = q(`shared ${randomBytes(4).toString('hex')}`);
    const a = await chat(one, k1.secret, question);
    const b = await chat(two, k2.secret, question);
    expect(b.answer.message.content).toBe(a.answer.message.content);
    expect(mock.chatRequests()).toHaveLength(1);
    const purged = await two.gql<{ purgeCache: { purged: number } }>('mutation { purgeCache(input: { model: "m" }) { purged } }');
    expect(purged.data!.purgeCache.purged).toBe(1);
    await chat(one, k1.secret, question);
    expect(mock.chatRequests()).toHaveLength(2);
  });

  it('the shared limiter admits a hit as a request only: a spent daily token quota does not refuse it, the request rate does', async () => {
    const k = await one.createKey({ name: 'spent', limits: { tokensPerDay: 1, tokensPerMinute: 1, requestsPerMinute: 3 } });
    const question = q(`spent ${randomBytes(4).toString('hex')}`);
    await chat(one, k.secret, question);
    const before = mock.chatRequests().length;
    const again = async (input: Record<string, unknown>) => one.gql('mutation($input: ChatInput!) { chat(input: $input) { id } }', { input }, k.secret);
    expect((await again(q(`another ${randomBytes(4).toString('hex')}`))).errors?.[0]?.extensions?.code).toBe('QUOTA_EXCEEDED');
    for (let i = 0; i < 2; i++) expect((await again(question)).errors).toBeUndefined();
    expect((await again(question)).errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    expect(mock.chatRequests()).toHaveLength(before);
  });

  it('a Redis that goes away mid-run only turns hits into misses', async () => {
    const k = await one.createKey({ name: 'down' });
    const question = q(`outage ${randomBytes(4).toString('hex')}`);
    await chat(one, k.secret, question);
    const before = mock.chatRequests().length;
    await proxy.down();
    try {
      const r = await chat(one, k.secret, question);
      expect(r.answer.message.content).toBeTruthy();
      expect(mock.chatRequests()).toHaveLength(before + 1);
    } finally {
      await proxy.up();
    }
  });
});
