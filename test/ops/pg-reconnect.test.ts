/*
 * A PostgreSQL outage under load, through a TCP proxy the test controls (the shared server keeps running): the
 * proxy drops every connection and refuses new ones for 5 s, then accepts again. Measured from the return:
 * the first /readyz saying the database is up, the latency of calls made during and after the outage, and when the usage records
 * buffered meanwhile are in the database.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RECONNECT_MAX_S } from '../../src/db/client.js';
import { RETRY_MAX_MS } from '../../src/gateway/usage-writer.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { wsHandshake } from '../kit/ws.js';
import { startTcpProxy, type TcpProxy } from '../kit/tcp-proxy.js';
import { createPricedModel, freshDatabase, PG_URL, type FreshDatabase } from '../usage/usage-kit.js';
import { sleep, waitFor } from './kit.js';

const CHAT = 'mutation($input: ChatInput!) { chat(input: $input) { id } }';
const OUTAGE_MS = 5000;
/** "At once" for a call or a probe: well below the seconds they took before, with room for a loaded machine. */
const FAST_MS = 1500;

interface Call {
  n: number;
  start: number;
  ms: number;
  ok: boolean;
  code?: string;
  status: number;
  retryAfter: string | null;
}

async function call(gw: TestGateway, secret: string, n: number, model = 'echo'): Promise<Call> {
  const start = Date.now();
  const res = await gw.gql(CHAT, { input: { model, messages: [{ role: 'USER', content: `call ${n}` }], metadata: { n } } }, secret);
  const ok = Boolean(res.data?.chat);
  return { n, start, ms: Date.now() - start, ok, code: res.errors?.[0]?.extensions?.code, status: res.status, retryAfter: res.headers.get('retry-after') };
}

async function readyz(gw: TestGateway): Promise<{ at: number; status: number; ms: number; database?: string }> {
  const at = Date.now();
  const res = await fetch(`${gw.url}/readyz`);
  const body = (await res.json()) as { database?: string };
  return { at, status: res.status, ms: Date.now() - at, database: body.database };
}

describe.skipIf(!PG_URL)('PostgreSQL outage and return (through a TCP proxy)', () => {
  let fresh: FreshDatabase;
  let proxy: TcpProxy;
  let gw: TestGateway;
  /** A second instance on the same database, beside the proxy: it never sees the outage. */
  let direct: TestGateway;

  beforeAll(async () => {
    fresh = await freshDatabase(PG_URL!);
    const u = new URL(fresh.url);
    proxy = await startTcpProxy({ host: u.hostname, port: Number(u.port || 5432) });
    u.host = `127.0.0.1:${proxy.port}`;
    // the default flush interval, so the writer's retry backoff is the one users get
    gw = await startGateway({ DATABASE_URL: u.toString(), USAGE_FLUSH_MS: '200', KEY_CACHE_TTL_MS: '5000' });
    direct = await startGateway({ DATABASE_URL: fresh.url });
  });
  afterAll(async () => {
    await gw?.stop();
    await direct?.stop();
    await proxy?.close();
    await fresh?.drop();
  });

  it('stays ready, reports the database up within a second of the return; calls stay fast; buffered usage lands within two seconds', async () => {
    const key = await gw.createKey({ name: 'load', scopes: ['INVOKE'] });
    // created before the outage and never used: not in the key cache when the database goes away
    const coldKey = await gw.createKey({ name: 'cold', scopes: ['INVOKE'] });
    // created on the other instance, so this one's catalogue cache neither holds it nor is cleared
    await createPricedModel(direct, 'cold-model');
    expect((await call(gw, key.secret, -1)).ok).toBe(true);

    const calls: Call[] = [];
    const probes: Array<Awaited<ReturnType<typeof readyz>>> = [];
    let stop = false;
    let next = 0;
    const workers = Array.from({ length: 4 }, async () => {
      while (!stop) {
        calls.push(await call(gw, key.secret, next++));
        await sleep(20);
      }
    });
    const prober = (async () => {
      while (!stop) {
        probes.push(await readyz(gw));
        await sleep(50);
      }
    })();

    await sleep(500);
    const downAt = Date.now();
    await proxy.down();
    await sleep(1000);
    const cold = call(gw, coldKey.secret, -2);
    const coldModel = call(gw, key.secret, -4, 'cold-model');
    const coldSocket = wsHandshake(gw.url, { authorization: `Bearer ${coldKey.secret}` });
    await sleep(OUTAGE_MS - (Date.now() - downAt));
    const callsBeforeReturn = calls.filter((c) => c.ok).map((c) => c.n);
    await proxy.up();
    const upAt = Date.now();

    const ready = await waitFor(() => probes.find((p) => p.at >= upAt && p.database === 'up'), 'a /readyz saying the database is up after the return', 20_000);
    const readyMs = ready.at + ready.ms - upAt;

    // every record of a call answered before the return is in the database (read beside the proxy)
    const landed = await waitFor(
      async () => {
        const [{ count }] = await fresh.sql<[{ count: number }]>`
          select count(*)::int as count from usage_records
          where api_key_id = ${key.uuid}::uuid and (metadata->>'n')::int = any(${callsBeforeReturn}::int[])`;
        return count === callsBeforeReturn.length ? Date.now() : 0;
      },
      'the buffered usage records to land',
      20_000,
    );
    const landedMs = landed - upAt;
    await sleep(1000);
    stop = true;
    await Promise.all([...workers, prober]);
    const coldCall = await cold;
    const coldModelCall = await coldModel;
    const coldSocketOutcome = await coldSocket;

    const during = calls.filter((c) => c.start >= downAt && c.start < upAt);
    const after = calls.filter((c) => c.start >= upAt);
    const slowest = (cs: Call[]) => Math.max(0, ...cs.map((c) => c.ms));
    // /readyz reports the last background ping (every 500 ms while up): the probes of the first moment may still say up
    const downProbes = probes.filter((p) => p.at >= downAt + 1000 && p.at + p.ms < upAt);
    console.log(
      `[pg-reconnect] outage ${upAt - downAt} ms; /readyz "database up" ${readyMs} ms after the return; usage landed ${landedMs} ms after; ` +
        `calls during: ${during.length} (slowest ${slowest(during)} ms), after: ${after.length} (slowest ${slowest(after)} ms); ` +
        `uncached key during the outage: ${coldCall.code} in ${coldCall.ms} ms, uncached model: ${coldModelCall.code} in ${coldModelCall.ms} ms; /readyz during: slowest ${Math.max(0, ...downProbes.map((p) => p.ms))} ms`,
    );

    // the pool's reconnect wait is bounded, and the writer's retry wait: the slack is for a loaded machine
    expect(RECONNECT_MAX_S).toBeLessThanOrEqual(0.25);
    expect(readyMs).toBeLessThan(1000);
    expect(landedMs).toBeLessThan(RETRY_MAX_MS + 1000);
    // a cached key keeps working through the outage, without waiting on the database
    expect(during.length).toBeGreaterThan(20);
    expect(calls.every((c) => c.ok)).toBe(true);
    expect(slowest(during)).toBeLessThan(FAST_MS);
    expect(slowest(after)).toBeLessThan(FAST_MS);
    // the instance still serves, so it stays ready (a cluster's instances would otherwise all leave the load balancer
    // at once), saying at once that the database is away; a key or model it cannot look up fails fast
    expect(downProbes.length).toBeGreaterThan(10);
    expect(downProbes.every((p) => p.status === 200 && p.database === 'down' && p.ms < FAST_MS)).toBe(true);
    expect(coldCall).toMatchObject({ ok: false, code: 'SERVICE_UNAVAILABLE', status: 503, retryAfter: '1' });
    expect(coldCall.ms).toBeLessThan(FAST_MS);
    // a websocket whose key cannot be checked is closed with 1013 "try again later", not as a refused key (4403)
    expect(coldSocketOutcome).toMatchObject({ acked: false, code: 1013 });
    expect(coldModelCall).toMatchObject({ ok: false, code: 'SERVICE_UNAVAILABLE' });
    expect(coldModelCall.ms).toBeLessThan(FAST_MS);
    // once the database is back, that key and that model work
    expect((await call(gw, coldKey.secret, -3)).ok).toBe(true);
    expect((await call(gw, key.secret, -5, 'cold-model')).ok).toBe(true);
  }, 60_000);

  it('a key revoked on another instance during the outage is refused within a second of the return', async () => {
    // a fresh lookup caches the key on the proxied instance for KEY_CACHE_TTL_MS (5 s)
    const key = await direct.createKey({ name: 'revoked during the outage', scopes: ['INVOKE'] });
    expect((await call(gw, key.secret, 0)).ok).toBe(true);

    await proxy.down();
    // the other instance still reaches the database: the revocation commits, its NOTIFY cannot reach this one
    const revoked = await direct.gql('mutation($id: ID!) { revokeApiKey(id: $id) { id } }', { id: key.id });
    expect(revoked.errors).toBeUndefined();
    await sleep(1000);
    await proxy.up();
    const upAt = Date.now();

    const refused = await waitFor(
      async () => {
        const c = await call(gw, key.secret, 1);
        return c.ok ? undefined : c;
      },
      'the revoked key to be refused',
      8000,
    );
    const ms = Date.now() - upAt;
    console.log(`[pg-reconnect] key revoked during the outage refused ${ms} ms after the return`);
    expect(refused.code).toBe('UNAUTHENTICATED');
    // well before the cached lookup runs out (5 s after it was made)
    expect(ms).toBeLessThan(1000);
  }, 30_000);

  it('a statement the database refuses is not reported as an outage', async () => {
    const key = await gw.createKey({ name: 'nul', scopes: ['INVOKE'] });
    // PostgreSQL refuses a NUL in text (SQLSTATE 22021): the database answered, so this is no SERVICE_UNAVAILABLE
    const c = await call(gw, key.secret, 0, 'a\u0000b');
    expect(c.ok).toBe(false);
    expect(c.code).toBeTruthy();
    expect(c.code).not.toBe('SERVICE_UNAVAILABLE');
    expect(c.status).not.toBe(503);
  });
});
