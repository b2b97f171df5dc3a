/*
 * A PostgreSQL that hangs instead of refusing (through a TCP proxy the test stalls: connections accepted, nothing
 * forwarded; the shared server keeps running): /readyz keeps answering at once from the last known state, calls with
 * a key cached before the hang are answered stale without waiting for the hung lookup, and the graceful stop ends
 * within its grace although the database's connections never answer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnyJson } from '../kit/json.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { startTcpProxy, type TcpProxy } from '../kit/tcp-proxy.js';
import { freshDatabase, PG_URL, type FreshDatabase } from '../usage/usage-kit.js';
import { sleep, waitFor } from './kit.js';

const CHAT = 'mutation($input: ChatInput!) { chat(input: $input) { id message { content } } }';
const KEY_TTL_MS = 1000;
/** src/services/keys.ts REVALIDATE_MS: past TTL + this, a call with the key would wait for the lookup. */
const REVALIDATE_MS = 10_000;
/** HAProxy's `timeout check` is 1 s (deploy/haproxy.cfg): a probe must answer well inside it. */
const PROBE_WITHIN_MS = 300;
const GRACE_MS = 3000;

const timed = async <T>(run: () => Promise<T>): Promise<{ ms: number; value: T }> => {
  const t0 = performance.now();
  const value = await run();
  return { ms: performance.now() - t0, value };
};

describe.skipIf(!PG_URL)('a PostgreSQL that hangs instead of refusing', () => {
  let fresh: FreshDatabase;
  let proxy: TcpProxy;
  let gw: TestGateway;
  let secret: string;
  let lastLookupAt = 0;
  let stalledAt = 0;

  beforeAll(async () => {
    fresh = await freshDatabase(PG_URL!);
    const u = new URL(fresh.url);
    proxy = await startTcpProxy({ host: u.hostname, port: Number(u.port || 5432) });
    u.host = `127.0.0.1:${proxy.port}`;
    gw = await startGateway({ DATABASE_URL: u.toString(), KEY_CACHE_TTL_MS: String(KEY_TTL_MS), USAGE_FLUSH_MS: '200' });
    secret = (await gw.createKey({ name: 'hang', scopes: ['INVOKE'] })).secret;
  });
  afterAll(async () => {
    await gw?.stop();
    await proxy?.close();
    await fresh?.drop();
  });

  const chat = (tag: string) => gw.gql<{ chat: { message: { content: string } } }>(CHAT, { input: { model: 'echo', messages: [{ role: 'USER', content: tag }] } }, secret);

  it('/readyz answers at once from the last known state, and turns to database down', async () => {
    await waitFor(async () => ((await (await fetch(`${gw.url}/readyz`)).json()) as { database?: string }).database === 'up', 'the database up');
    // the key looked up (cached) just before the hang
    lastLookupAt = Date.now();
    expect((await chat('before')).data?.chat.message.content).toContain('before');

    proxy.stall();
    stalledAt = Date.now();
    const probes: Array<{ at: number; ms: number; status: number; body: AnyJson }> = [];
    while (Date.now() - stalledAt < 3000) {
      const at = Date.now();
      const { ms, value: res } = await timed(() => fetch(`${gw.url}/readyz`));
      probes.push({ at: at - stalledAt, ms, status: res.status, body: (await res.json()) as AnyJson });
      await sleep(150);
    }
    console.log(`[drain-db-hang] /readyz during the hang: slowest ${Math.round(Math.max(...probes.map((p) => p.ms)))} ms over ${probes.length} probes`);
    expect(probes.every((p) => p.status === 200)).toBe(true);
    expect(probes.filter((p) => p.ms >= PROBE_WITHIN_MS)).toEqual([]);
    // a ping that does not answer within its 500 ms counts as down (pinged every 500 ms)
    expect(probes.filter((p) => p.at >= 2000).map((p) => p.body)).toContainEqual({ status: 'ok', database: 'down' });
    expect(probes.at(-1)!.body).toEqual({ status: 'ok', database: 'down' });
  });

  // waits past the key's TTL and revalidation window (11 s) while the database hangs
  it('a key cached before the hang answers stale without waiting for the hung lookup', async () => {
    const calls: Array<{ ms: number; ok: boolean }> = [];
    const pastWindow = lastLookupAt + KEY_TTL_MS + REVALIDATE_MS + 500;
    // calls in the revalidation window start the lookup that hangs; the ones after it would wait for it
    while (Date.now() < pastWindow + 2500) {
      const { ms, value } = await timed(() => chat(`during-${calls.length}`));
      calls.push({ ms, ok: !!value.data?.chat.message.content });
      await sleep(Date.now() < pastWindow ? 1000 : 200);
    }
    const late = calls.slice(-5);
    console.log(`[drain-db-hang] calls past the revalidation window: ${late.map((c) => Math.round(c.ms)).join(', ')} ms`);
    expect(calls.every((c) => c.ok)).toBe(true);
    expect(late.every((c) => c.ms < 1500)).toBe(true);
  }, 25_000);

  it('the stop ends within its grace while the database hangs', async () => {
    // a record that cannot be written: the last flush spends the grace left on it
    expect((await chat('pending')).data?.chat.message.content).toContain('pending');
    const { ms } = await timed(() => gw.app.stop(GRACE_MS));
    console.log(`[drain-db-hang] stop with a ${GRACE_MS} ms grace took ${Math.round(ms)} ms`);
    expect(ms).toBeLessThan(GRACE_MS + 250);
    expect(gw.logs.join('')).toContain('gateway stopped');
  }, 15_000);
});
