/* The routing cache under load: concurrent invocations of a model whose entry is missing load it once. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { chat, createModel, createProvider, uniq, userSays } from './helpers.js';

describe('catalogue cache', () => {
  let gw: TestGateway;
  let key: string;
  beforeAll(async () => {
    // no timed usage flush during the burst: the count below is routing loads only
    // and the longest key/catalogue cache life: on a loaded machine the burst can outlast the default 2 s, and a
    // re-read key would count as a routing statement
    gw = await startGateway({ DATABASE_URL: 'memory://', USAGE_FLUSH_MS: '60000', KEY_CACHE_TTL_MS: '5000' });
    key = (await gw.createKey()).secret;
    await createProvider(gw, { name: 'echo-cache', kind: 'ECHO' });
  });
  afterAll(() => gw?.stop());

  it('200 concurrent chats on a model not yet cached cost one routing load, not one per call', async () => {
    const name = uniq('cached');
    await createModel(gw, { name, targets: [{ provider: 'echo-cache', upstreamModel: 'echo' }] });
    // the key is cached by a first call on another (unknown) model name
    await chat(gw, { model: uniq('warm'), messages: userSays('hi') }, key);
    await gw.flushUsage();
    const before = gw.app.services.database.queryCount();
    // the database busy for a moment: every chat arrives while the routing load is still waiting for it
    const { sql } = await import('drizzle-orm');
    const busy = gw.app.services.database.db.execute(sql`select count(*) from generate_series(1, 1500000) g where g % 7 = 3`);
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => chat(gw, { model: name, messages: userSays(`call ${i}`) }, key)));
    await busy;
    for (const r of results) expect(r.errors).toBeUndefined();
    // the busy statement, then one routing load
    const during = gw.app.services.database.queryCount() - before - 1;
    // one load is two statements (model, targets); without the shared load it was 8 here, and it grows with concurrency
    expect(during, `${during} statements`).toBeLessThanOrEqual(3);
    await gw.flushUsage();
  });

  it('a change to the model during a load is not hidden by the load that started before it', async () => {
    const name = uniq('changing');
    await createModel(gw, { name, targets: [{ provider: 'echo-cache', upstreamModel: 'echo' }] });
    const first = chat(gw, { model: name, messages: userSays('a') }, key);
    const upd = await gw.gql('mutation($name: String!) { updateModel(name: $name, input: { status: RETIRED }) { status } }', { name });
    await first;
    expect(upd.errors).toBeUndefined();
    const after = await chat(gw, { model: name, messages: userSays('b') }, key);
    expect(after.errors?.[0]?.extensions?.code).toBe('MODEL_RETIRED');
  });
});
