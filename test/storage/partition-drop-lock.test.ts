/*
 * Retention's partition drop needs the parent's exclusive lock; while it waits, every insert and read of usage_records
 * queues behind it. Behind a long read it must give up quickly (and leave the day to the next run) instead of
 * holding the writer up for seconds. PostgreSQL only: embedded PGlite has one connection, so nothing can hold a lock.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type Database } from '../../src/db/client.js';
import { dropUsagePartitionsBefore, ensureUsagePartitionsFor } from '../../src/db/usage-partitions.js';
import { freshDatabase, PG_URL, type FreshDatabase } from '../usage/usage-kit.js';

const DAY_MS = 86_400_000;

describe.skipIf(!PG_URL)('retention behind a long read (PostgreSQL)', () => {
  let fresh: FreshDatabase;
  let database: Database;

  beforeAll(async () => {
    fresh = await freshDatabase(PG_URL!);
    database = await createDatabase({ url: fresh.url, dataDir: '' });
    await database.migrate();
  }, 60_000);

  afterAll(async () => {
    await database?.close();
    await fresh?.drop();
  });

  it('gives up within a second while a read holds the table, keeps inserts moving, and drops the day once it can', async () => {
    const old = new Date(Date.now() - 10 * DAY_MS);
    await ensureUsagePartitionsFor(database.db, [old, new Date()], true);
    const insert = (at: Date) =>
      fresh.sql`insert into usage_records (id, created_at, model, status) values (gen_random_uuid(), ${at}, 'm', 'OK')`;
    await insert(old);

    // a long read: a transaction that has read usage_records holds its lock until it ends
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let reading!: () => void;
    const readStarted = new Promise<void>((r) => (reading = r));
    const reader = fresh.sql.begin(async (tx) => {
      await tx`select count(*) from usage_records`;
      reading();
      await released;
    });
    await readStarted;

    const started = Date.now();
    const drop = dropUsagePartitionsBefore(database.db, new Date(Date.now() - 5 * DAY_MS), { pauseMs: 300 }).then(
      () => 'dropped',
      (err: { code?: string; cause?: { code?: string } }) => err.cause?.code ?? err.code ?? 'failed',
    );
    // an insert of now while the drop waits for its lock
    await new Promise((r) => setTimeout(r, 50));
    const insertStarted = Date.now();
    await insert(new Date());
    const insertMs = Date.now() - insertStarted;
    const outcome = await drop;
    const gaveUpAfter = Date.now() - started;
    release();
    await reader;

    expect(outcome).toBe('55P03');
    expect(gaveUpAfter).toBeLessThan(2500);
    // queued behind one try of the drop at most, not behind the whole read
    expect(insertMs).toBeLessThan(1000);

    // the next run, with nothing in the way, drops the day
    const dropped = await dropUsagePartitionsBefore(database.db, new Date(Date.now() - 5 * DAY_MS));
    expect(dropped).toHaveLength(1);
    const [{ n }] = await fresh.sql<{ n: number }[]>`select count(*)::int as n from usage_records where created_at < ${new Date(Date.now() - 5 * DAY_MS)}`;
    expect(n).toBe(0);
  }, 30_000);
});
