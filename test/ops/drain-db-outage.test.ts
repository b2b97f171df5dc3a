/*
 * Serving through a PostgreSQL outage (through a TCP proxy the test controls; the shared server keeps running): with
 * keys looked up before it, GraphQL chat, REST chat, graphql-ws and SSE streams keep answering for longer than the
 * key cache's TTL and its revalidation window (so answers come from the stale-if-error path), a key whose day and
 * month quotas were never loaded is admitted (seeding fails open), /readyz stays 200 and says the database is down,
 * and every usage record lands once the database is back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnyJson } from '../kit/json.js';
import { sseCollect } from '../kit/sse.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { startTcpProxy, type TcpProxy } from '../kit/tcp-proxy.js';
import { createWsClient, wsCollect } from '../kit/ws.js';
import { freshDatabase, PG_URL, type FreshDatabase } from '../usage/usage-kit.js';
import { sleep, waitFor } from './kit.js';

const CHAT = 'mutation($input: ChatInput!) { chat(input: $input) { id message { content } } }';
const STREAM = 'subscription($input: ChatInput!) { chatStream(input: $input) { delta finishReason } }';
const KEY_TTL_MS = 1000;
/** Past the key TTL plus the key cache's 10 s revalidation window (src/services/keys.ts): the last calls are served stale-if-error. */
const OUTAGE_MS = 13_000;

type Outcome = { tag: string; at: number; ok: boolean; detail?: string };

describe.skipIf(!PG_URL)('serving through a PostgreSQL outage', () => {
  let fresh: FreshDatabase;
  let proxy: TcpProxy;
  let gw: TestGateway;

  beforeAll(async () => {
    fresh = await freshDatabase(PG_URL!);
    const u = new URL(fresh.url);
    proxy = await startTcpProxy({ host: u.hostname, port: Number(u.port || 5432) });
    u.host = `127.0.0.1:${proxy.port}`;
    gw = await startGateway({ DATABASE_URL: u.toString(), KEY_CACHE_TTL_MS: String(KEY_TTL_MS), USAGE_FLUSH_MS: '200' });
  });
  afterAll(async () => {
    await gw?.stop();
    await proxy?.close();
    await fresh?.drop();
  });

  // the outage itself is 13 s (it must outlast the key cache's TTL and revalidation window), then the records land
  it('keys looked up before it keep working, /readyz stays 200 with database down, usage lands after', async () => {
    const key = await gw.createKey({ name: 'outage', scopes: ['INVOKE'] });
    const quota = await gw.createKey({ name: 'quota', scopes: ['INVOKE'], limits: { tokensPerDay: 1_000_000, monthlyBudgetUsd: 100 } });
    const input = (tag: string) => ({ model: 'echo', messages: [{ role: 'USER', content: `hello ${tag}` }], metadata: { tag } });
    const outcomes: Outcome[] = [];
    const attempt = async (tag: string, run: () => Promise<string | undefined>) => {
      const at = Date.now();
      try {
        const failure = await run();
        outcomes.push({ tag, at, ok: !failure, detail: failure });
      } catch (e) {
        outcomes.push({ tag, at, ok: false, detail: String(e) });
      }
    };
    const gqlChat = async (tag: string, secret: string) => {
      const r = await gw.gql<{ chat: { message: { content: string } } }>(CHAT, { input: input(tag) }, secret);
      return r.data?.chat.message.content ? undefined : `HTTP ${r.status} ${JSON.stringify(r.errors)}`;
    };
    const restChat = async (tag: string) => {
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key.secret}` },
        body: JSON.stringify({ model: 'echo', messages: [{ role: 'user', content: `hello ${tag}` }], metadata: { tag } }),
      });
      const body = (await res.json()) as { choices?: Array<{ message?: { content?: string } }> };
      return res.status === 200 && body.choices?.[0]?.message?.content ? undefined : `HTTP ${res.status} ${JSON.stringify(body)}`;
    };
    const wsStream = async (tag: string) => {
      // a new socket each time: its connection_init checks the key too
      const client = createWsClient(gw.url, key.secret);
      try {
        const results = await wsCollect<{ chatStream: { finishReason: string | null } }>(client, STREAM, { input: input(tag) });
        return results.at(-1)?.data?.chatStream.finishReason ? undefined : JSON.stringify(results);
      } finally {
        await client.dispose();
      }
    };
    const sseStream = async (tag: string) => {
      const results = await sseCollect<{ chatStream: { finishReason: string | null } }>(gw.url, STREAM, { input: input(tag) }, key.secret);
      return results.at(-1)?.data?.chatStream.finishReason ? undefined : JSON.stringify(results);
    };

    // both keys looked up (cached) before the outage; the quota key never called, so its quotas are not loaded
    await attempt('before-gql', () => gqlChat('before-gql', key.secret));
    const models = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${quota.secret}` } });
    expect(models.status).toBe(200);

    await proxy.down();
    const downAt = Date.now();
    const probes: Array<{ at: number; status: number; body: AnyJson }> = [];
    for (let round = 0; Date.now() - downAt < OUTAGE_MS; round++) {
      await Promise.all([
        attempt(`gql-${round}`, () => gqlChat(`gql-${round}`, key.secret)),
        attempt(`rest-${round}`, () => restChat(`rest-${round}`)),
        attempt(`ws-${round}`, () => wsStream(`ws-${round}`)),
        attempt(`sse-${round}`, () => sseStream(`sse-${round}`)),
        attempt(`quota-${round}`, () => gqlChat(`quota-${round}`, quota.secret)),
        (async () => {
          const at = Date.now();
          const res = await fetch(`${gw.url}/readyz`);
          probes.push({ at, status: res.status, body: (await res.json()) as AnyJson });
        })(),
      ]);
      await sleep(300);
    }
    await proxy.up();
    const upAt = Date.now();

    const failed = outcomes.filter((o) => !o.ok);
    expect(failed).toEqual([]);
    // calls were answered all through the outage, the last ones past TTL + revalidation (the stale-if-error answers)
    expect(outcomes.filter((o) => o.at >= downAt + KEY_TTL_MS + 10_500).length).toBeGreaterThanOrEqual(5);
    expect(probes.length).toBeGreaterThan(5);
    expect(probes.every((p) => p.status === 200)).toBe(true);
    // /readyz answers from a background ping (every 500 ms, 500 ms timeout): the probes of the first moments may still say up
    expect(probes.filter((p) => p.at >= downAt + 2000).every((p) => (p.body as { database?: string }).database === 'down')).toBe(true);

    const tags = outcomes.map((o) => o.tag);
    const rows = await waitFor(
      async () => {
        const r = await fresh.sql<Array<{ tag: string; status: string }>>`
          select metadata->>'tag' as tag, status from usage_records where metadata->>'tag' = any(${tags}::text[])`;
        return r.length >= tags.length ? r : undefined;
      },
      'the usage records of the outage to land',
      20_000,
    );
    console.log(`[drain-db-outage] ${outcomes.length} calls in a ${upAt - downAt} ms outage, all answered; ${rows.length} records landed after ${Date.now() - upAt} ms`);
    expect(rows.map((r) => r.tag).sort()).toEqual([...tags].sort());
    expect(rows.every((r) => r.status === 'OK')).toBe(true);
    // the background ping's next round sees it back
    const after = await waitFor(async () => {
      const body = (await (await fetch(`${gw.url}/readyz`)).json()) as AnyJson;
      return (body as { database?: string }).database === 'up' ? body : undefined;
    }, '/readyz to see the database again');
    expect(after).toEqual({ status: 'ok', database: 'up' });
  }, 60_000);
});
