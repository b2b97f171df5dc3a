/*
 * usageRecorded over graphql-ws and SSE: an ADMIN subscriber receives every record of a burst exactly once,
 * a READ_USAGE subscriber exactly its own key's; with Redis, across two gateway instances.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createClient as createWsClient } from 'graphql-ws';
import { createClient as createSseClient } from 'graphql-sse';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import {
  chat,
  createPricedModel,
  freshDatabase,
  PG_URL,
  pool,
  REDIS_URL,
  units,
  waitFor,
  type ChatOut,
  type FreshDatabase,
} from './usage-kit.js';

const FEED = `subscription { usageRecorded { invocationId createdAt model provider status promptTokens completionTokens costUsd apiKey { id } } }`;

interface FeedRecord {
  invocationId: string;
  createdAt: string;
  model: string;
  provider: string | null;
  status: string;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
  apiKey: { id: string } | null;
}

interface Subscriber {
  name: string;
  /** Every record received, in arrival order (duplicates would show here). */
  received: FeedRecord[];
  errors: unknown[];
  completed: boolean;
  dispose(): Promise<void>;
}

type Key = { id: string; secret: string };

function wsSubscriber(gw: TestGateway, key: string, name: string): Subscriber {
  const client = createWsClient({
    url: `${gw.url.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${key}` },
    retryAttempts: 0,
  });
  const sub: Subscriber = { name, received: [], errors: [], completed: false, dispose: async () => {} };
  const unsubscribe = client.subscribe<{ usageRecorded: FeedRecord }>(
    { query: FEED },
    {
      next: (r) => (r.data ? sub.received.push(r.data.usageRecorded) : sub.errors.push(r.errors)),
      error: (e) => sub.errors.push(e),
      complete: () => void (sub.completed = true),
    },
  );
  sub.dispose = async () => {
    unsubscribe();
    await client.dispose();
  };
  return sub;
}

/** graphql-sse in distinct connections mode: one text/event-stream response per subscription. */
function sseSubscriber(gw: TestGateway, key: string, name: string): Subscriber {
  const client = createSseClient({ url: `${gw.url}/graphql`, headers: { authorization: `Bearer ${key}` }, retryAttempts: 0 });
  const sub: Subscriber = { name, received: [], errors: [], completed: false, dispose: async () => {} };
  const unsubscribe = client.subscribe<{ usageRecorded: FeedRecord }>(
    { query: FEED },
    {
      next: (r) => (r.data ? sub.received.push(r.data.usageRecorded) : sub.errors.push(r.errors)),
      error: (e) => sub.errors.push(e),
      complete: () => void (sub.completed = true),
    },
  );
  sub.dispose = async () => {
    unsubscribe();
    client.dispose();
  };
  return sub;
}

/**
 * A subscription is live once the server has attached it to the feed, which no protocol message tells:
 * make a call per key until every subscriber has seen a record it may see.
 */
async function untilLive(gw: TestGateway, subs: Array<{ sub: Subscriber; key: Key | null }>, callers: Key[]): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (let i = 0; ; i++) {
    for (const k of callers) await chat(gw, k.secret, 5000 + i);
    await gw.flushUsage();
    const live = () => subs.every(({ sub, key }) => sub.received.some((r) => !key || r.apiKey?.id === key.id));
    const until = Date.now() + 150;
    while (!live() && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    if (live()) return;
    if (Date.now() > deadline) throw new Error(`subscribers never went live: ${subs.map(({ sub }) => `${sub.name}=${sub.received.length} ${JSON.stringify(sub.errors)}`).join(', ')}`);
  }
}

/** Checks one subscriber against the burst: exactly the expected ids once each, with the call's numbers. */
function expectDelivered(sub: Subscriber, burst: Array<{ key: Key; out: ChatOut }>, onlyKey: Key | null): void {
  expect(sub.errors, sub.name).toEqual([]);
  const want = burst.filter((b) => !onlyKey || b.key.id === onlyKey.id);
  const burstIds = new Set(burst.map((b) => b.out.id));
  const got = sub.received.filter((r) => burstIds.has(r.invocationId));
  expect(got.length, `${sub.name}: records of the burst`).toBe(want.length);
  expect(new Set(got.map((r) => r.invocationId)), sub.name).toEqual(new Set(want.map((b) => b.out.id)));
  if (onlyKey) {
    // nothing of anyone else's, probes included
    expect(sub.received.filter((r) => r.apiKey?.id !== onlyKey.id).map((r) => r.invocationId), sub.name).toEqual([]);
  }
  const byId = new Map(got.map((r) => [r.invocationId, r]));
  for (const { key, out } of want) {
    const r = byId.get(out.id)!;
    expect(r.apiKey?.id).toBe(key.id);
    expect(r.status).toBe('OK');
    expect(r.promptTokens).toBe(out.usage.promptTokens);
    expect(r.completionTokens).toBe(out.usage.completionTokens);
    expect(units(r.costUsd)).toBe(units(out.usage.costUsd));
  }
}

async function burst(gw: TestGateway, keys: Key[], n: number): Promise<Array<{ key: Key; out: ChatOut }>> {
  const out = await pool(n, 25, async (i) => {
    const key = keys[i % keys.length]!;
    return { key, out: await chat(gw, key.secret, i) };
  });
  await gw.flushUsage();
  return out;
}

describe('usageRecorded on one instance (graphql-ws and SSE)', () => {
  let gw: TestGateway;
  let A: Key;
  let B: Key;
  let invokeOnly: Key;

  beforeAll(async () => {
    gw = await startGateway();
    await createPricedModel(gw);
    A = await gw.createKey({ name: 'A', scopes: ['INVOKE', 'READ_USAGE'] });
    B = await gw.createKey({ name: 'B', scopes: ['INVOKE', 'READ_USAGE'] });
    invokeOnly = await gw.createKey({ name: 'invoke only', scopes: ['INVOKE'] });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('delivers all 1 000 records of a burst to ADMIN and only its own to each READ_USAGE key', async () => {
    const subs = [
      { sub: wsSubscriber(gw, gw.adminKey, 'admin/ws'), key: null },
      { sub: sseSubscriber(gw, gw.adminKey, 'admin/sse'), key: null },
      { sub: wsSubscriber(gw, A.secret, 'A/ws'), key: A },
      { sub: sseSubscriber(gw, A.secret, 'A/sse'), key: A },
      { sub: wsSubscriber(gw, B.secret, 'B/ws'), key: B },
      { sub: sseSubscriber(gw, B.secret, 'B/sse'), key: B },
    ];
    try {
      await untilLive(gw, subs, [A, B]);
      const t0 = performance.now();
      const calls = await burst(gw, [A, B, invokeOnly], 1000);
      const want = (key: Key | null) => calls.filter((c) => !key || c.key.id === key.id).length;
      const ids = new Set(calls.map((c) => c.out.id));
      await waitFor(
        () => subs.every(({ sub, key }) => sub.received.filter((r) => ids.has(r.invocationId)).length >= want(key)),
        15_000,
        'every subscriber to receive its records',
      );
      console.log(`[feed] 1000 calls delivered to ${subs.length} subscribers in ${Math.round(performance.now() - t0)} ms`);
      // anything late or duplicated would arrive now
      await new Promise((r) => setTimeout(r, 100));
      for (const { sub, key } of subs) expectDelivered(sub, calls, key);
      // the INVOKE-only key's records went to ADMIN only
      expect(calls.filter((c) => c.key === invokeOnly).length).toBeGreaterThan(300);
    } finally {
      await Promise.all(subs.map(({ sub }) => sub.dispose()));
    }
  }, 120_000);

  it('records arrive as they are written, not at the end', async () => {
    const sub = wsSubscriber(gw, gw.adminKey, 'admin/ws');
    try {
      await untilLive(gw, [{ sub, key: null }], [A]);
      for (let i = 0; i < 5; i++) {
        const out = await chat(gw, A.secret, i);
        await gw.flushUsage();
        // each single record is on the feed before the next call is made
        await waitFor(() => sub.received.some((r) => r.invocationId === out.id), 2000, `record ${i} on the feed`);
      }
    } finally {
      await sub.dispose();
    }
  });

  it('a key without READ_USAGE cannot subscribe, on either transport', async () => {
    for (const make of [wsSubscriber, sseSubscriber]) {
      const sub = make(gw, invokeOnly.secret, 'invoke-only');
      try {
        await waitFor(() => sub.errors.length > 0, 5000, 'the FORBIDDEN error');
        expect(JSON.stringify(sub.errors)).toContain('FORBIDDEN');
        expect(sub.received).toEqual([]);
      } finally {
        await sub.dispose();
      }
    }
  });
});

describe.skipIf(!PG_URL || !REDIS_URL)('usageRecorded across two instances sharing Postgres and Redis', () => {
  let fresh: FreshDatabase;
  let gwA: TestGateway;
  let gwB: TestGateway;
  let A: Key;
  let B: Key;

  beforeAll(async () => {
    fresh = await freshDatabase(PG_URL!);
    const env = { DATABASE_URL: fresh.url, REDIS_URL: REDIS_URL! };
    gwA = await startGateway(env);
    gwB = await startGateway(env);
    await createPricedModel(gwA);
    A = await gwA.createKey({ name: 'A', scopes: ['INVOKE', 'READ_USAGE'] });
    B = await gwA.createKey({ name: 'B', scopes: ['INVOKE', 'READ_USAGE'] });
  }, 60_000);
  afterAll(async () => {
    await gwA?.stop();
    await gwB?.stop();
    await fresh?.drop();
  });

  it('a record written by instance A reaches subscribers connected to instance B (and A)', async () => {
    const subs = [
      { sub: wsSubscriber(gwB, gwB.adminKey, 'B:admin/ws'), key: null },
      { sub: sseSubscriber(gwB, gwB.adminKey, 'B:admin/sse'), key: null },
      { sub: wsSubscriber(gwB, A.secret, 'B:A/ws'), key: A },
      { sub: sseSubscriber(gwB, B.secret, 'B:B/sse'), key: B },
      { sub: wsSubscriber(gwA, gwA.adminKey, 'A:admin/ws'), key: null },
    ];
    try {
      // every call is made on instance A: B only ever hears of them through Redis
      await untilLive(gwA, subs, [A, B]);
      const calls = await burst(gwA, [A, B], 400);
      const want = (key: Key | null) => calls.filter((c) => !key || c.key.id === key.id).length;
      const ids = new Set(calls.map((c) => c.out.id));
      await waitFor(
        () => subs.every(({ sub, key }) => sub.received.filter((r) => ids.has(r.invocationId)).length >= want(key)),
        15_000,
        'every subscriber on B to receive its records',
      );
      await new Promise((r) => setTimeout(r, 200));
      for (const { sub, key } of subs) expectDelivered(sub, calls, key);
      // instance B wrote none of them
      expect(gwB.app.usage.pending()).toBe(0);
      const [{ n }] = await fresh.sql`select count(*)::int as n from usage_records where id = any(${[...ids]}::uuid[])`;
      expect(n).toBe(400);
    } finally {
      await Promise.all(subs.map(({ sub }) => sub.dispose()));
    }
  }, 60_000);
});
