/*
 * Key cache coherence: a key revoked, rotated or changed on one instance is refused / changed on another
 * within 5 s. Instance B caches keys for KEY_CACHE_TTL_MS=5000 (the maximum), so passing well under that
 * proves the active invalidation (Postgres LISTEN/NOTIFY, or Redis pub/sub), not the TTL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openFeed, untilLive, within, type Feed } from '../kit/feed.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { TEST_DATABASE_URL, TEST_REDIS_URL, chat, dropPrefix, freshDatabase, ok, sleep, uniquePrefix, updateLimits, type ChatOutcome } from './kit.js';

/** Polls until `done` holds; returns how long it took (or throws after 5 s). */
async function within5s(probe: () => Promise<ChatOutcome>, done: (o: ChatOutcome) => boolean): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < 5000) {
    if (done(await probe())) return Date.now() - started;
    await sleep(25);
  }
  throw new Error('not within 5 s');
}

/** Invalidation must be quicker than this (the TTL alone would take ~5 s). */
const ACTIVE_MS = 1500;

function suite(name: string, redisUrl: string | undefined, skip: boolean) {
  describe.skipIf(skip)(`key changes reach another instance (${name})`, () => {
    let a: TestGateway;
    let b: TestGateway;
    let db: Awaited<ReturnType<typeof freshDatabase>>;
    const prefix = uniquePrefix();

    beforeAll(async () => {
      db = await freshDatabase(TEST_DATABASE_URL!);
      const env = { DATABASE_URL: db.url, REDIS_URL: redisUrl };
      a = await startGateway(env, { redisPrefix: prefix });
      b = await startGateway({ ...env, KEY_CACHE_TTL_MS: '5000' }, { redisPrefix: prefix });
    });
    afterAll(async () => {
      await Promise.all([a?.stop(), b?.stop()]);
      await db?.drop();
      if (redisUrl) await dropPrefix(redisUrl, prefix);
    });

    it('a key revoked on A is refused by B within 5 s', async () => {
      const key = await a.createKey();
      expect((await chat(b, key.secret)).ok).toBe(true); // cached on B now
      ok(await a.gql('mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }', { id: key.id }));
      const ms = await within5s(() => chat(b, key.secret), (o) => o.code === 'UNAUTHENTICATED');
      expect(ms).toBeLessThan(ACTIVE_MS);
    });

    it('a key rotated on A: B refuses the old secret and accepts the new one', async () => {
      const key = await a.createKey();
      expect((await chat(b, key.secret)).ok).toBe(true);
      const rotated = ok(await a.gql<{ rotateApiKey: { secret: string } }>('mutation($id: ID!) { rotateApiKey(id: $id) { secret } }', { id: key.id }));
      const ms = await within5s(() => chat(b, key.secret), (o) => o.code === 'UNAUTHENTICATED');
      expect(ms).toBeLessThan(ACTIVE_MS);
      expect((await chat(b, rotated.rotateApiKey.secret)).ok).toBe(true);
    });

    it('limits and allowedModels changed on A apply on B within 5 s', async () => {
      const key = await a.createKey({ limits: { requestsPerMinute: 100 } });
      expect((await chat(b, key.secret)).ok).toBe(true);
      await updateLimits(a, key.id, { allowedModels: ['not-echo'] });
      expect(await within5s(() => chat(b, key.secret), (o) => o.code === 'FORBIDDEN')).toBeLessThan(ACTIVE_MS);
      await updateLimits(a, key.id, { allowedModels: null, limits: { requestsPerMinute: 0 } });
      expect(await within5s(() => chat(b, key.secret), (o) => o.code === 'RATE_LIMITED')).toBeLessThan(ACTIVE_MS);
    });

    /** An ADMIN key's usageRecorded feeds open on B (graphql-ws and SSE), receiving records. */
    async function feedsOnB(scopes: string[]): Promise<{ key: { id: string; secret: string }; feeds: Feed[] }> {
      const key = await a.createKey({ scopes });
      const invoker = await a.createKey({ name: 'invoker' });
      const feeds = (['ws', 'sse'] as const).map((t) => openFeed(b.url, key.secret, t));
      await untilLive(b, feeds, invoker.secret);
      return { key, feeds };
    }

    /** Each feed on B ends with `code` quicker than B's 5 s TTL could explain. */
    async function endsOnB(feeds: Feed[], code: string, started: number) {
      for (const f of feeds) {
        const end = await within(f.ended, 5000, `the ${f.transport} feed on B to end`);
        expect(end.codes, f.transport).toEqual([code]);
      }
      expect(Date.now() - started).toBeLessThan(ACTIVE_MS);
    }

    it('a key revoked on A ends its open feeds on B: the websocket closes with 4403, SSE ends with UNAUTHENTICATED', async () => {
      const { key, feeds } = await feedsOnB(['ADMIN']);
      const started = Date.now();
      ok(await a.gql('mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }', { id: key.id }));
      await endsOnB(feeds, 'UNAUTHENTICATED', started);
      expect(await within(feeds[0].socketClosed, 1000, 'the websocket on B to close')).toBe(4403);
    });

    it('a key rotated on A ends what its old secret opened on B', async () => {
      const { key, feeds } = await feedsOnB(['ADMIN']);
      const started = Date.now();
      ok(await a.gql('mutation($id: ID!) { rotateApiKey(id: $id) { secret } }', { id: key.id }));
      await endsOnB(feeds, 'UNAUTHENTICATED', started);
      expect(await within(feeds[0].socketClosed, 1000, 'the websocket on B to close')).toBe(4403);
    });

    it('ADMIN taken from a key on A ends its unfiltered feeds on B with FORBIDDEN', async () => {
      const { key, feeds } = await feedsOnB(['ADMIN', 'READ_USAGE']);
      const started = Date.now();
      await updateLimits(a, key.id, { scopes: ['READ_USAGE'] });
      await endsOnB(feeds, 'FORBIDDEN', started);
    });
  });
}

suite('Postgres LISTEN/NOTIFY', undefined, !TEST_DATABASE_URL);
suite('Redis pub/sub', TEST_REDIS_URL, !TEST_DATABASE_URL || !TEST_REDIS_URL);
