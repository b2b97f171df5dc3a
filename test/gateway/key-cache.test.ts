/* The key cache under load: concurrent requests with a key not yet cached share one lookup. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';

describe('key cache', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    // no timed usage flush during the burst, and a key TTL longer than any burst: the count below is key lookups
    gw = await startGateway({ DATABASE_URL: 'memory://', USAGE_FLUSH_MS: '60000', KEY_CACHE_TTL_MS: '5000' });
  });
  afterAll(() => gw?.stop());

  it('200 concurrent requests with a key not yet cached cost one key lookup, not one per request', async () => {
    const { secret } = await gw.createKey({ name: 'burst' });
    const database = gw.app.services.database;
    const before = database.queryCount();
    // the database busy for a moment: every request arrives while the lookup is still waiting for it
    const busy = database.db.execute(sql`select count(*) from generate_series(1, 1500000) g where g % 7 = 3`);
    const results = await Promise.all(Array.from({ length: 200 }, () => gw.gql<{ viewer: { name: string } }>('{ viewer { name } }', {}, secret)));
    await busy;
    for (const r of results) expect(r.data?.viewer.name).toBe('burst');
    // the busy statement, then the lookup and the key's lastUsedAt (written at most once a minute)
    const during = database.queryCount() - before - 1;
    expect(during, `${during} statements`).toBeLessThanOrEqual(2);
  });
});
