/*
 * usage_records by day partition (migrations/0011, src/db/usage-partitions.ts), on embedded PGlite and on PostgreSQL
 * (TEST_DATABASE_URL): the upgrade from 0010 moves every record into its day with the rollups untouched, the coming
 * days are made idempotently (and at once from two connections), retention drops whole days and deletes the rest, and
 * the usage writer's inserts land in the partitions, making the day of a record that has none (there is no default
 * partition) instead of refusing it.
 */
import { randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { sql } from 'drizzle-orm';
import { createDatabase, type Database, type Db } from '../../src/db/client.js';
import { rowsOf } from '../../src/db/rows-of.js';
import { dropUsagePartitionsBefore, ensureUsagePartitions, ensureUsagePartitionsFor } from '../../src/db/usage-partitions.js';
import { createUsageWriter, type UsageEvent } from '../../src/gateway/usage-writer.js';
import { createUsageQueries } from '../../src/services/usage-queries.js';
import { freshDatabase, PG_URL, type FreshDatabase } from '../usage/usage-kit.js';

const DAY = 86_400_000;
const journal = JSON.parse(readFileSync(new URL('../../migrations/meta/_journal.json', import.meta.url), 'utf8')) as {
  entries: Array<{ tag: string }>;
};
const KEY = '00000000-0000-4000-8000-0000000000a1';

const dayName = (t: Date) => `usage_records_p${t.toISOString().slice(0, 10).replaceAll('-', '')}`;

function event(createdAt: Date, n: number): UsageEvent {
  return {
    id: randomUUID(),
    createdAt,
    apiKeyId: KEY,
    model: `m${n % 3}`,
    provider: 'p',
    upstreamModel: 'u',
    promptTokens: n,
    completionTokens: 1,
    cachedReadTokens: 0,
    cacheWriteTokens: 0,
    reasoningTokens: 0,
    costUsd: 0.000001,
    latencyMs: 10 + n,
    ttftMs: n % 2 ? 5 : null,
    status: n % 5 ? 'OK' : 'ERROR',
    errorCode: null,
    streamed: false,
    attempts: 1,
    usageExact: true,
    metadata: null,
    cacheHit: null,
    costSavedUsd: 0,
    cacheSimilarity: null,
    guardrails: null,
    teamId: null,
    endUser: null,
  };
}

/**
 * Records inserted directly at these times; `withDays` makes their days' partitions first (not before 0011), whatever
 * this process remembers: the tests drop partitions behind its back.
 */
async function insertAt(db: Database, times: Date[], from = 0, withDays = true): Promise<void> {
  if (withDays) await ensureUsagePartitionsFor(db.db, times, true);
  for (const [i, t] of times.entries()) {
    const n = from + i;
    await db.db.execute(sql`insert into usage_records (id, created_at, api_key_id, model, provider, status, prompt_tokens, latency_ms, ttft_ms)
      values (${randomUUID()}::uuid, ${t.toISOString()}::timestamptz, ${KEY}::uuid, ${`m${n % 3}`}, 'p', ${n % 5 ? 'OK' : 'ERROR'}, ${n}, ${10 + n}, ${n % 2 ? 5 : null})`);
  }
}

/** Every record with the partition that holds it, oldest first. */
async function placement(db: Database): Promise<Array<{ at: string; part: string; tokens: number }>> {
  const res = await db.db.execute(
    sql`select to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') as at, tableoid::regclass::text as part, prompt_tokens as tokens
        from usage_records order by created_at, id`,
  );
  return rowsOf(res);
}

async function partitions(db: Database): Promise<string[]> {
  const res = await db.db.execute(
    sql`select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'usage_records'::regclass order by 1`,
  );
  return rowsOf<{ name: string }>(res).map((r) => r.name);
}

type Exec = Pick<Db, 'execute'>;

/** Both rollup tables, every column but the cached percentiles, in a fixed order. */
async function rollupsOf(db: Exec): Promise<unknown[]> {
  const r = await db.execute(sql`select bucket_start::text, api_key_id::text, model, provider, status, requests::text, errors::text,
      prompt_tokens::text, completion_tokens::text, cost_usd::text, ttft_count::text, latency_hist::text, ttft_hist::text
      from usage_rollups order by 1, 2, 3, 4, 5`);
  const g = await db.execute(sql`select group_by, bucket_start::text, group_key, requests::text, errors::text, prompt_tokens::text,
      completion_tokens::text, cost_usd::text, ttft_count::text, latency_hist::text, ttft_hist::text
      from usage_group_rollups order by 1, 2, 3`);
  return [rowsOf(r), rowsOf(g)];
}

const rollups = (db: Database) => rollupsOf(db.db);

/** The rollups as usage_rollups_rebuild() computes them from the records now; the database is left as it was. */
async function rebuiltRollups(db: Database): Promise<unknown[]> {
  let rebuilt: unknown[] = [];
  const undo = new Error('undo the rebuild');
  await db.db
    .transaction(async (tx) => {
      await tx.execute(sql`select usage_rollups_rebuild()`);
      rebuilt = await rollupsOf(tx);
      throw undo;
    })
    .catch((err: unknown) => {
      if (err !== undo) throw err;
    });
  return rebuilt;
}

const backends = [
  { name: 'PGlite', postgres: false },
  { name: 'PostgreSQL', postgres: true },
] as const;

for (const backend of backends) {
  describe.skipIf(backend.postgres && !PG_URL)(`usage partitions on ${backend.name}`, () => {
    const opened: Array<{ db: Database; fresh?: FreshDatabase }> = [];

    /** A database of its own, migrated to `upTo` migrations (all by default). */
    async function open(upTo = journal.entries.length): Promise<{ db: Database; url: string }> {
      const fresh = backend.postgres ? await freshDatabase(PG_URL!) : undefined;
      const url = fresh?.url ?? 'memory://';
      const db = await createDatabase({ url, dataDir: '' });
      opened.push({ db, fresh });
      if (upTo === journal.entries.length) {
        await db.migrate();
        return { db, url };
      }
      const dir = mkdtempSync(join(tmpdir(), 'gw-migrations-'));
      try {
        const src = new URL('../../migrations/', import.meta.url).pathname;
        for (const e of journal.entries.slice(0, upTo)) cpSync(join(src, `${e.tag}.sql`), join(dir, `${e.tag}.sql`));
        cpSync(join(src, 'meta'), join(dir, 'meta'), { recursive: true });
        writeFileSync(join(dir, 'meta/_journal.json'), JSON.stringify({ ...journal, entries: journal.entries.slice(0, upTo) }));
        const { migrate } = db.kind === 'pglite' ? await import('drizzle-orm/pglite/migrator') : await import('drizzle-orm/postgres-js/migrator');
        await migrate(db.db as never, { migrationsFolder: dir });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      return { db, url };
    }

    let shared: { db: Database; url: string };
    // one migrated database for the tests after the upgrade's, emptied for each: a migration run is what costs PGlite
    // most (tens of seconds on a loaded 2-core machine)
    beforeAll(async () => {
      shared = await open();
    }, 90_000);

    async function migrated(): Promise<{ db: Database; url: string }> {
      const { db } = shared;
      for (const name of await partitions(db)) await db.db.execute(sql.raw(`drop table "${name}"`));
      // the truncate trigger empties the rollups too
      await db.db.execute(sql`truncate usage_records`);
      return shared;
    }

    afterAll(async () => {
      for (const { db, fresh } of opened) {
        await db.close().catch(() => {});
        await fresh?.drop();
      }
    });

    it('the upgrade from 0010 moves every record into its day, and leaves the rollups as they were', async () => {
      const { db } = await open(journal.entries.findIndex((e) => e.tag.startsWith('0011')));
      expect(await partitions(db)).toEqual([]);
      const now = Date.now();
      const times = [
        ...[0, 1, 2, 3].map((i) => new Date(now - 3 * DAY - i * 60_000)),
        ...[0, 1].map((i) => new Date(now - 2 * DAY - i * 3_600_000)),
        new Date(now - DAY),
        ...[0, 1, 2].map((i) => new Date(now - i * 1000)),
      ];
      await insertAt(db, times, 0, false);
      const before = await rollups(db);
      const days = [...new Set(times.map(dayName))].sort();

      await db.migrate();

      expect(await partitions(db)).toEqual(days);
      const placed = await placement(db);
      expect(placed).toHaveLength(times.length);
      for (const p of placed) expect(p.part).toBe(dayName(new Date(`${p.at}Z`)));
      expect(placed.map((p) => p.tokens).sort((a, b) => a - b)).toEqual(times.map((_, i) => i));
      // the moved records were not counted a second time
      expect(await rollups(db)).toEqual(before);

      // the triggers work on the new table: a record more is one more request in its hour
      await insertAt(db, [new Date(now)], 100);
      expect(await rollups(db)).toEqual(await rebuiltRollups(db));
      const total = await createUsageQueries(db.db).summary({ groupBy: 'MODEL', readScope: { kind: 'all' } });
      expect(total.reduce((s, b) => s + b.requests, 0)).toBe(times.length + 1);
    }, 90_000); // two migration runs on a database of its own: tens of seconds on PGlite on a loaded machine

    it('ensureUsagePartitions makes the coming days once, even from two connections at once', async () => {
      const { db, url } = await migrated();
      const now = new Date();
      const inTwoDays = new Date(now.getTime() + 2 * DAY);

      const second = backend.postgres ? await createDatabase({ url, dataDir: '' }) : db;
      try {
        const made = await Promise.all([ensureUsagePartitions(db.db, { now }), ensureUsagePartitions(second.db, { now })]);
        const expected = [0, 1, 2, 3].map((i) => new Date(now.getTime() + i * DAY).toISOString().slice(0, 10));
        // each day made exactly once, by one or the other
        expect([...made[0], ...made[1]].sort()).toEqual(expected);
      } finally {
        if (second !== db) await second.close();
      }
      expect(await ensureUsagePartitions(db.db, { now })).toEqual([]);
      expect(await partitions(db)).toEqual([0, 1, 2, 3].map((i) => dayName(new Date(now.getTime() + i * DAY))));
      await insertAt(db, [inTwoDays, new Date(inTwoDays.getTime() + 1000)]);
      expect((await placement(db)).map((p) => p.part)).toEqual([dayName(inTwoDays), dayName(inTwoDays)]);
    });

    it('retention drops the whole days before the cutoff with their rollup hours, and deletes the older records left', async () => {
      const { db } = await migrated();
      const queries = createUsageQueries(db.db);
      const now = Date.now();
      const cutoff = now - 7 * DAY;
      const old = [new Date(now - 10 * DAY), new Date(now - 10 * DAY + 1000), new Date(now - 9 * DAY)];
      const straddling = [new Date(cutoff - 60_000), new Date(cutoff + 60_000)];
      const recent = [new Date(now - DAY), new Date(now)];
      for (const t of [...old, ...straddling, ...recent]) {
        await db.db.execute(sql`select usage_records_add_partition(${t.toISOString().slice(0, 10)}::date)`);
      }
      await insertAt(db, [...old, ...straddling, ...recent]);

      const { partitions: dropped, deleted } = await queries.retain(7);
      expect(dropped).toEqual([...new Set(old.map(dayName))].sort());
      const left = await partitions(db);
      for (const name of dropped) expect(left).not.toContain(name);
      expect(left).toContain(dayName(straddling[0]!));
      // the straddling day's older record went by the batched delete
      expect(deleted).toBe(1);
      const kept = await placement(db);
      expect(kept.map((p) => new Date(`${p.at}Z`).getTime())).toEqual([straddling[1]!, ...recent].map((t) => t.getTime()));
      // the rollups describe exactly the records left, as the delete trigger leaves them
      expect(await rollups(db)).toEqual(await rebuiltRollups(db));
      const series = await queries.summary({ groupBy: 'MODEL', readScope: { kind: 'all' } });
      expect(series.reduce((s, b) => s + b.requests, 0)).toBe(3);

      // nothing left to drop
      expect(await dropUsagePartitionsBefore(db.db, new Date(cutoff))).toEqual([]);
    });

    it("the usage writer's batches land in the day partitions, and a record of a day without one (past or future) makes it instead of being refused", async () => {
      const { db } = await migrated();
      await ensureUsagePartitions(db.db);
      const log = pino({ level: 'silent' });
      const writer = createUsageWriter(db.db, { flushMs: 5, bufferMax: 1000, log, copyRows: db.copyRows });
      const now = Date.now();
      const events = [0, 1, 2, 3, 4].map((i) => event(new Date(now - i * 1000), i));
      // days no partition was made for: 40 days ago and 10 days ahead
      const past = new Date(now - 40 * DAY);
      const future = new Date(now + 10 * DAY);
      expect(await partitions(db)).not.toContain(dayName(past));
      expect(await partitions(db)).not.toContain(dayName(future));
      events.push(event(past, 5), event(future, 6));
      for (const e of events) writer.record(e);
      await writer.flush();
      expect(writer.dropped()).toBe(0);
      let placed = await placement(db);
      expect(placed).toHaveLength(7);
      for (const p of placed) expect(p.part).toBe(dayName(new Date(`${p.at}Z`)));
      expect(await partitions(db)).toContain(dayName(past));
      expect(await partitions(db)).toContain(dayName(future));

      // the days dropped behind the writer's back (as another instance's retention does): its memory says they exist,
      // the insert finds them missing, and the writer makes them again and writes the records
      for (const t of [past, future]) {
        const from = new Date(Math.floor(t.getTime() / DAY) * DAY).toISOString();
        await db.db.execute(sql.raw(`drop table "${dayName(t)}"`));
        // with the day's rollup hours, as retention drops a day
        for (const table of ['usage_rollups', 'usage_group_rollups']) {
          await db.db.execute(sql`delete from ${sql.identifier(table)} where bucket_start >= ${from}::timestamptz and bucket_start < ${from}::timestamptz + interval '1 day'`);
        }
      }
      const late = [event(new Date(past.getTime() + 1000), 7), event(new Date(future.getTime() + 1000), 8), event(new Date(now), 9)];
      for (const e of late) writer.record(e);
      await writer.flush();
      await writer.stop();
      expect(writer.dropped()).toBe(0);
      placed = await placement(db);
      // 5 and 6 went with their dropped days
      expect(placed.map((p) => p.tokens).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 7, 8, 9]);
      for (const p of placed) expect(p.part).toBe(dayName(new Date(`${p.at}Z`)));
      expect(await rollups(db)).toEqual(await rebuiltRollups(db));
    });

    it('newest-first pages read the newest days first and answer exactly as a read of every day does, cursors included', async () => {
      const { db } = await migrated();
      const now = Date.now();
      const midnight = Math.floor(now / DAY) * DAY;
      // dense today, thinner back through the week, month and year, a few older than a year, one ahead of the clock,
      // and ties at a day boundary (the same microsecond, three records)
      const times = [
        ...Array.from({ length: 30 }, (_, i) => new Date(now - i * 60_000)),
        ...Array.from({ length: 20 }, (_, i) => new Date(now - (1 + i * 0.3) * DAY)),
        ...Array.from({ length: 20 }, (_, i) => new Date(now - (8 + i * 1.2) * DAY)),
        ...Array.from({ length: 20 }, (_, i) => new Date(now - (32 + i * 16) * DAY)),
        ...Array.from({ length: 6 }, (_, i) => new Date(now - (370 + i * 40) * DAY)),
        new Date(now + 2 * DAY),
        new Date(midnight), new Date(midnight), new Date(midnight),
      ];
      await insertAt(db, times);
      const recentFirst = createUsageQueries(db.db);
      const everyDay = createUsageQueries(db.db, { recentFirst: false });
      type Queries = ReturnType<typeof createUsageQueries>;
      /** Every page of a walk through the list, forward with first/after or backward with last/before. */
      async function walk(q: Queries, filter: Record<string, unknown>, size: number, backward: boolean) {
        const pages = [];
        let cursor: string | null = null;
        for (let n = 0; n < 200; n++) {
          const page = await q.page({
            filter,
            readScope: { kind: 'all' },
            ...(backward ? { last: size, before: cursor } : { first: size, after: cursor }),
          });
          pages.push({ ids: page.edges.map((e) => e.cursor), info: page.pageInfo });
          if (!(backward ? page.pageInfo.hasPreviousPage : page.pageInfo.hasNextPage)) break;
          cursor = backward ? page.pageInfo.startCursor : page.pageInfo.endCursor;
        }
        return pages;
      }
      const filters: Array<[Record<string, unknown>, number]> = [
        [{}, times.length],
        // sparse: one record in five, spread over every period
        [{ status: 'ERROR' }, times.filter((_, i) => i % 5 === 0).length],
        [{ model: 'm1', from: new Date(now - 100 * DAY) }, -1],
      ];
      for (const [filter, expected] of filters) {
        for (const size of [1, 7, 50]) {
          for (const backward of [false, true]) {
            const got = await walk(recentFirst, filter, size, backward);
            expect(got).toEqual(await walk(everyDay, filter, size, backward));
            if (expected >= 0) expect(got.flatMap((p) => p.ids)).toHaveLength(expected);
          }
        }
      }
    }, 60_000); // a few hundred pages on PGlite on a loaded machine
  });
}
