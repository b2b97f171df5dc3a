/*
 * Key cache coherence: a key revoked, rotated or changed on one instance is refused / changed on another
 * within 5 s. Instance B caches keys for KEY_CACHE_TTL_MS=5000 (the maximum), so passing well under that
 * proves the active invalidation (Postgres LISTEN/NOTIFY, or Redis pub/sub), not the TTL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
  });
}

suite('Postgres LISTEN/NOTIFY', undefined, !TEST_DATABASE_URL);
suite('Redis pub/sub', TEST_REDIS_URL, !TEST_DATABASE_URL || !TEST_REDIS_URL);
