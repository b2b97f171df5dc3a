/* The semantic cache on the embedded database (pgvector in PGlite) and on the in-process usearch index. */
import { describe, expect, it } from 'vitest';
import { createPgvectorStore, preparePgvector } from '../../src/cache/semantic/pgvector-store.js';
import { createUsearchStore } from '../../src/cache/semantic/usearch-store.js';
import { answer, semanticSuite, useSemanticWorld } from './semantic-kit.js';

const world = useSemanticWorld();
semanticSuite({ name: 'embedded PGlite with pgvector', world, expectedIndex: 'pgvector' });
semanticSuite({ name: 'in-process usearch index', world, expectedIndex: 'usearch', deps: { index: 'usearch' } });

const MIB = 1024 * 1024;

describe('usearch store bounds', () => {
  const partition = { scope: 'global', contextHash: 'c', embeddingModel: 'e' };

  it('keeps at most maxBytes of answers, the least recently used out first, and never one larger than the bound', async () => {
    const store = createUsearchStore({ maxEntries: 1000, maxBytes: 20_000 });
    const expiresAt = Date.now() + 60_000;
    // about 8 KB each in memory: two fit in 20 000 bytes, a third pushes the oldest out
    const big = (c: string) => answer('m', c.repeat(4000));
    await store.add({ ...partition, vector: [1, 0, 0], entry: big('a'), expiresAt });
    await store.add({ ...partition, vector: [0, 1, 0], entry: big('b'), expiresAt });
    await store.add({ ...partition, vector: [0, 0, 1], entry: big('c'), expiresAt });
    expect((await store.nearest(partition, [1, 0, 0]))?.entry.response.content?.at(0)).not.toBe('a');
    expect((await store.nearest(partition, [0, 0, 1]))?.entry.response.content?.at(0)).toBe('c');
    // larger than the whole bound: not kept, and nothing else is evicted for it
    await store.add({ ...partition, vector: [-1, 0, 0], entry: answer('m', 'x'.repeat(20_000)), expiresAt });
    expect(await store.purge({})).toBe(2);
  });

  it('keeps at most maxEntries, the least recently used out first', async () => {
    const store = createUsearchStore({ maxEntries: 2, maxBytes: MIB });
    await store.add({ ...partition, vector: [1, 0], entry: answer('m', 'a'), expiresAt: Date.now() + 60_000 });
    await store.add({ ...partition, vector: [0, 1], entry: answer('m', 'b'), expiresAt: Date.now() + 60_000 });
    // touch "a": "b" is now the least recently used
    expect((await store.nearest(partition, [1, 0]))?.entry.response.content).toBe('a');
    await store.add({ ...partition, vector: [-1, 0], entry: answer('m', 'c'), expiresAt: Date.now() + 60_000 });
    expect((await store.nearest(partition, [0, 1]))?.entry.response.content).not.toBe('b');
    expect(await store.purge({})).toBe(2);
    expect(await store.nearest(partition, [1, 0])).toBeNull();
  });

  it('finds the nearest in a partition large enough for a graph, and forgets what is purged', async () => {
    const store = createUsearchStore({ maxEntries: 1000, maxBytes: MIB });
    let seed = 7;
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
    const expiresAt = Date.now() + 60_000;
    for (let i = 0; i < 300; i++) {
      await store.add({ ...partition, vector: Array.from({ length: 8 }, random), entry: answer('m', `random ${i}`), expiresAt });
    }
    await store.add({ ...partition, vector: [1, 0, 0, 0, 0, 0, 0, 0], entry: answer('target-model', 'target'), expiresAt });
    const near = await store.nearest(partition, [0.99, 0.01, 0, 0, 0, 0, 0, 0]);
    expect(near?.entry.response.content).toBe('target');
    expect(near?.similarity).toBeGreaterThan(0.99);
    expect(await store.purge({ model: 'target-model' })).toBe(1);
    expect((await store.nearest(partition, [0.99, 0.01, 0, 0, 0, 0, 0, 0]))?.entry.response.content).not.toBe('target');
    expect(await store.purge({})).toBe(300);
  });

  it('purges expired entries', async () => {
    let t = 1_000;
    const store = createUsearchStore({ maxEntries: 10, maxBytes: MIB, now: () => t });
    await store.add({ ...partition, vector: [1, 0], entry: answer('m', 'old'), expiresAt: 2_000 });
    await store.add({ ...partition, vector: [0, 1], entry: answer('m', 'new'), expiresAt: 5_000 });
    t = 3_000;
    expect((await store.nearest(partition, [1, 0]))?.entry.response.content).toBe('new');
    expect(await store.purgeExpired()).toBe(0);
    t = 6_000;
    expect(await store.purgeExpired()).toBe(1);
    expect(await store.nearest(partition, [0, 1])).toBeNull();
  });
});

describe('pgvector store expiry', () => {
  it('purgeExpired deletes the expired rows only', async () => {
    const db = world.gw.app.services.database.db;
    expect(await preparePgvector(db)).toBe(true);
    const store = createPgvectorStore(db);
    const partition = { scope: 'expiry', contextHash: 'c', embeddingModel: 'e' };
    await store.add({ ...partition, vector: [1, 0], entry: answer('m', 'old'), expiresAt: Date.now() - 1000 });
    await store.add({ ...partition, vector: [0, 1], entry: answer('m', 'new'), expiresAt: Date.now() + 60_000 });
    // the expired row is never returned, even though it is the closer one
    expect((await store.nearest(partition, [1, 0]))?.entry.response.content).toBe('new');
    expect(await store.purgeExpired()).toBe(1);
    expect(await store.purge({ scope: 'expiry' })).toBe(1);
  });

  it('keeps at most maxPerPartition rows per partition, the oldest deleted first, other partitions untouched', async () => {
    const db = world.gw.app.services.database.db;
    expect(await preparePgvector(db)).toBe(true);
    const store = createPgvectorStore(db, { maxPerPartition: 3 });
    const busy = { scope: 'capped', contextHash: 'c', embeddingModel: 'e' };
    const other = { ...busy, contextHash: 'other' };
    const expiresAt = Date.now() + 60_000;
    await store.add({ ...other, vector: [1, 0], entry: answer('m', 'other'), expiresAt });
    for (let i = 0; i < 5; i++) await store.add({ ...busy, vector: [Math.cos(i / 4), Math.sin(i / 4)], entry: answer('m', `row ${i}`), expiresAt });
    // rows 0 and 1 are gone: the nearest to row 0's vector is now row 2
    expect((await store.nearest(busy, [1, 0]))?.entry.response.content).toBe('row 2');
    expect((await store.nearest(other, [1, 0]))?.entry.response.content).toBe('other');
    expect(await store.purge({ scope: 'capped' })).toBe(4);
  });
});
