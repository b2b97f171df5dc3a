/*
 * Issue 20, item 1: a burst blocked each instance's event loop for seconds, the 500 ms Redis command timeout
 * fired on the late loop before the replies (already there) were read, Redis was declared down and the
 * in-memory fallback admitted the limit again from empty counters. Redis goes through a TCP proxy in this
 * process: it holds the event loop (both gateways run here) once the first limit script is on its way, as a
 * burst does, and it can make Redis unreachable.
 */
import { Agent, getGlobalDispatcher, setGlobalDispatcher, type Dispatcher } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import {
  TEST_DATABASE_URL,
  TEST_REDIS_URL,
  TcpProxy,
  blockEventLoop,
  chat,
  dropPrefix,
  freshDatabase,
  slowEcho,
  tally,
  uniquePrefix,
  type ChatOutcome,
} from './kit.js';

/** A limit script on its way to Redis (ioredis sends defined commands as EVALSHA, EVAL after NOSCRIPT). */
const isScript = (chunk: Buffer) => /\r\nEVAL(SHA)?\r\n/i.test(chunk.toString('latin1'));
const downLines = (gw: TestGateway) => gw.logs.filter((l) => l.includes('limits: Redis unreachable'));
const downLogged = (gw: TestGateway) => downLines(gw).length;

describe.skipIf(!TEST_DATABASE_URL || !TEST_REDIS_URL)('a busy instance keeps the shared limits while Redis answers', () => {
  let a: TestGateway;
  let b: TestGateway;
  let proxy: TcpProxy;
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  const prefix = uniquePrefix();

  let dispatcher: Dispatcher;

  beforeAll(async () => {
    // hundreds of connections per instance at once, but not thousands: more than the listen backlog are reset
    dispatcher = getGlobalDispatcher();
    setGlobalDispatcher(new Agent({ connections: 200 }));
    db = await freshDatabase(TEST_DATABASE_URL!);
    proxy = await TcpProxy.start(TEST_REDIS_URL!);
    const env = { DATABASE_URL: db.url, REDIS_URL: proxy.url, LOG_LEVEL: 'warn' };
    const opts = { redisPrefix: prefix, adapters: { ECHO: slowEcho(50) } };
    a = await startGateway(env, opts);
    b = await startGateway(env, opts);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await getGlobalDispatcher().close();
    setGlobalDispatcher(dispatcher);
    await proxy?.close();
    await db?.drop();
    await dropPrefix(TEST_REDIS_URL!, prefix);
  });

  it('400 parallel calls over two instances against requestsPerMinute: 50, the loop held 1.2 s mid-burst: exactly 50 admitted, Redis never declared down', async () => {
    const key = await a.createKey({ limits: { requestsPerMinute: 50 } });
    let held = 0;
    proxy.onClientData = (chunk) => {
      if (held || !isScript(chunk)) return;
      // Redis gets the script and answers while this process cannot read the answer (longer than the 500 ms timeout)
      held = 1200;
      blockEventLoop(held);
    };
    let outs: ChatOutcome[];
    try {
      outs = await Promise.all(Array.from({ length: 400 }, (_, i) => chat(i % 2 ? a : b, key.secret)));
    } finally {
      proxy.onClientData = undefined;
    }
    expect(held).toBe(1200);
    expect(tally(outs)).toEqual({ OK: 50, RATE_LIMITED: 350 });
    expect([...downLines(a), ...downLines(b)]).toEqual([]);
  });
});

describe.skipIf(!TEST_REDIS_URL)('the fallback starts from the counts it last saw in Redis', () => {
  let gw: TestGateway;
  let proxy: TcpProxy;
  const prefix = uniquePrefix();

  beforeAll(async () => {
    proxy = await TcpProxy.start(TEST_REDIS_URL!);
    gw = await startGateway({ REDIS_URL: proxy.url }, { redisPrefix: prefix });
  });
  afterEach(() => proxy.restore());
  afterAll(async () => {
    await gw?.stop();
    await proxy?.close();
    await dropPrefix(TEST_REDIS_URL!, prefix);
  });

  it('3 of requestsPerMinute: 5 admitted, then Redis unreachable: the fallback admits 2 more, not a fresh 5', async () => {
    const key = await gw.createKey({ limits: { requestsPerMinute: 5 } });
    const before: ChatOutcome[] = [];
    for (let i = 0; i < 3; i++) before.push(await chat(gw, key.secret));
    expect(tally(before)).toEqual({ OK: 3 });
    expect(downLogged(gw)).toBe(0);

    proxy.cut();
    const during: ChatOutcome[] = [];
    for (let i = 0; i < 6; i++) during.push(await chat(gw, key.secret));
    expect(downLogged(gw)).toBe(1);
    expect(tally(during)).toEqual({ OK: 2, RATE_LIMITED: 4 });
  });
});
