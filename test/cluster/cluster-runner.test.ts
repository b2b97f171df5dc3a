/* `npm run cluster`'s runner (scripts/cluster-lib.mjs): three built gateways on one PostgreSQL database and one Redis
 * behind a real HAProxy. Calls through the load balancer reach every instance; a graphql-ws subscription passes
 * through it; a killed instance is taken out of rotation fast, without a failed call, and comes back after a restart
 * on the same port; stopping the cluster drains every instance. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findHaproxy } from '../../scripts/cluster-haproxy.mjs';
import { startCluster, type Cluster } from '../../scripts/cluster-lib.mjs';
import { createWsClient, wsCollect } from '../kit/ws.js';
import { freshDatabase, sleep, TEST_DATABASE_URL, TEST_REDIS_URL } from '../limits/kit.js';
import { startOpenAIMock, type OpenAIMock } from '../mocks/openai.js';

const CHAT = 'mutation($input: ChatInput!) { chat(input: $input) { message { content } } }';
const STREAM = 'subscription($input: ChatInput!) { chatStream(input: $input) { delta finishReason } }';

const skipReason = !findHaproxy()
  ? 'haproxy is not installed (apt-get install haproxy)'
  : !TEST_DATABASE_URL
    ? 'TEST_DATABASE_URL is not set'
    : !TEST_REDIS_URL
      ? 'TEST_REDIS_URL is not set'
      : undefined;
if (skipReason) console.warn(`test/cluster/cluster-runner.test.ts skipped: ${skipReason}`);

interface Answer {
  status: number;
  instance: string | null;
  content?: string;
}

describe.skipIf(skipReason)('the cluster runner: 3 instances behind HAProxy', () => {
  let cluster: Cluster;
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let dir: string;
  let mock: OpenAIMock;

  const gql = async (query: string, variables: Record<string, unknown>) => {
    const res = await fetch(`${cluster.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${cluster.adminKey}` },
      body: JSON.stringify({ query, variables }),
    });
    return { res, body: (await res.json()) as { data?: Record<string, unknown>; errors?: unknown[] } };
  };
  const chat = async (text: string, model = 'echo'): Promise<Answer> => {
    const res = await fetch(`${cluster.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${cluster.adminKey}` },
      body: JSON.stringify({ query: CHAT, variables: { input: { model, messages: [{ role: 'USER', content: text }] } } }),
    });
    const body = (await res.json()) as { data?: { chat: { message: { content: string } } } };
    return { status: res.status, instance: res.headers.get('x-gateway-instance'), content: body.data?.chat.message.content };
  };

  // three processes run the migrations and start (building first when the sources changed) on a loaded machine
  beforeAll(async () => {
    db = await freshDatabase(TEST_DATABASE_URL!);
    mock = await startOpenAIMock({ reply: { text: 'slow answer', delayMs: 300 } });
    dir = mkdtempSync(join(tmpdir(), 'gw-cluster-test-'));
    cluster = await startCluster({
      port: 0,
      databaseUrl: db.url,
      redisUrl: TEST_REDIS_URL!,
      spoolRoot: join(dir, 'spool'),
      logDir: join(dir, 'logs'),
      env: { LOG_LEVEL: 'warn' },
    });
  }, 180_000);

  afterAll(async () => {
    // a test that failed half-way may leave processes running: stop() is a no-op for those already stopped
    await cluster?.stop();
    await db?.drop();
    await mock?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  it('spreads GraphQL calls over every instance', async () => {
    const answers: Answer[] = [];
    for (let i = 0; i < 12; i++) answers.push(await chat(`call ${i}`));
    expect(answers.map((a) => [a.status, a.content])).toEqual(answers.map((_, i) => [200, `echo: call ${i}`]));
    const byInstance = new Set(answers.map((a) => a.instance));
    expect([...byInstance].sort()).toEqual(['gw0', 'gw1', 'gw2']);
  });

  it('passes a graphql-ws subscription through', async () => {
    const client = createWsClient(cluster.url, cluster.adminKey);
    try {
      const events = await wsCollect<{ chatStream: { delta: string; finishReason: string | null } }>(client, STREAM, {
        input: { model: 'echo', messages: [{ role: 'USER', content: 'through the balancer' }] },
      });
      expect(events.every((e) => !e.errors)).toBe(true);
      expect(events.map((e) => e.data!.chatStream.delta).join('')).toBe('echo: through the balancer');
      expect(events.at(-1)!.data!.chatStream.finishReason).not.toBeNull();
    } finally {
      await client.dispose();
    }
  });

  it('takes a killed instance out within 2 s without failing a call, and sends to it again once restarted', async () => {
    const gw1 = cluster.instances[1];
    const { port, pid } = gw1;
    const killedAt = Date.now();
    await gw1.kill('SIGKILL');
    // calls keep coming while HAProxy has not noticed yet: those it sends to gw1 are refused and redispatched
    const during: Answer[] = [];
    let detected = false;
    const load = (async () => {
      for (let i = 0; !detected || i < 10; i++) during.push(await chat(`during ${i}`));
    })();
    await cluster.haproxy.waitFor('gw1', 'DOWN', 5000);
    const detectionMs = Date.now() - killedAt;
    detected = true;
    await load;
    expect(detectionMs).toBeLessThan(2000);
    expect(during.filter((a) => a.status !== 200)).toEqual([]);
    expect(new Set(during.map((a) => a.instance))).toEqual(new Set(['gw0', 'gw2']));

    await gw1.start();
    expect(gw1.port).toBe(port);
    expect(gw1.pid).not.toBe(pid);
    await cluster.haproxy.waitFor('gw1', 'UP', 5000);
    const after: Answer[] = [];
    for (let i = 0; i < 9; i++) after.push(await chat(`after ${i}`));
    expect(after.filter((a) => a.status !== 200)).toEqual([]);
    expect(after.filter((a) => a.instance === 'gw1').length).toBeGreaterThan(0);
    // a new gateway process starting on a loaded 2-core machine takes 10-20 s of this
  }, 60_000);

  // calls that take a while, so some are in flight on the instance when it gets SIGTERM
  it('stops an instance with SIGTERM under load without failing a call', async () => {
    const provider = await gql('mutation($i: CreateProviderInput!) { createProvider(input: $i) { id } }', {
      i: { name: 'slow', kind: 'OPENAI_COMPATIBLE', baseUrl: mock.baseUrl, apiKey: 'sk-slow' },
    });
    expect(provider.body.errors).toBeUndefined();
    const model = await gql('mutation($i: CreateModelInput!) { createModel(input: $i) { id } }', { i: { name: 'slow-model', targets: [{ provider: 'slow', upstreamModel: 'm' }] } });
    expect(model.body.errors).toBeUndefined();

    const gw2 = cluster.instances[2];
    const answers: Array<Answer & { started: number; ended: number }> = [];
    let stopAt = 0;
    let done = false;
    const worker = async (w: number) => {
      for (let i = 0; !done; i++) {
        const started = Date.now();
        const a = await chat(`worker ${w} call ${i}`, 'slow-model');
        answers.push({ ...a, started, ended: Date.now() });
      }
    };
    const workers = [0, 1, 2, 3, 4, 5].map(worker);
    await sleep(1500);
    stopAt = Date.now();
    const exit = gw2.stop();
    await sleep(3000);
    done = true;
    await Promise.all(workers);
    expect(await exit).toEqual({ code: 0, signal: null });
    expect(answers.filter((a) => a.status !== 200 || a.content !== 'slow answer')).toEqual([]);
    // gw2 answered calls it had received before the signal, and none once it was gone
    expect(answers.filter((a) => a.instance === 'gw2' && a.started < stopAt && a.ended > stopAt).length).toBeGreaterThan(0);
    expect(answers.filter((a) => a.instance === 'gw2' && a.started > stopAt + 2500)).toEqual([]);
    expect(answers.filter((a) => a.started > stopAt).length).toBeGreaterThan(6);
  }, 30_000);

  it('stop() drains every instance (exit code 0), then stops HAProxy', async () => {
    const exits = cluster.instances.map((i) => i.exited);
    await cluster.stop();
    expect(await Promise.all(exits)).toEqual(cluster.instances.map(() => ({ code: 0, signal: null })));
    await cluster.haproxy.exited;
    await expect(fetch(cluster.url)).rejects.toThrow();
  }, 40_000);
});
