/*
 * usage_records plain (the layout of migration 0010) against partitioned by day (0011), on PostgreSQL:
 * `npm run bench:partitions`. Not a timed test.
 *
 * For each size and layout, one database (bench_partitions_plain / bench_partitions_day, made and dropped; one at a
 * time, so the disk holds one copy) is migrated (0010 only, or all), filled with one generate_series INSERT per
 * million records spread evenly over --days UTC days ending now (the rollup triggers off, the rollups rebuilt after,
 * as bench/overview.ts does; the partitioned one gets its day partitions first), analyzed, then measured:
 *   - insert: the gateway's usage writer (500-record batches, one INSERT … ON CONFLICT DO NOTHING with the rollup
 *     triggers) writing records of now, µs per record, median batch of --batches after 5 of warm-up;
 *   - newest page: usage(first: 50) as the API reads it (src/services/usage-queries.ts page()), without and with a
 *     key filter, --runs times each after warm-up, p50 and p95 in ms;
 *   - retention of the oldest day: the day partition dropped (with its rollup hours, dropUsagePartitionsBefore) or
 *     the same records deleted by the batched delete (5 000 a statement, the rollup trigger on), in seconds.
 * Prints a markdown table on stdout; progress on stderr.
 *
 * Options (or environment):
 *   --sizes=1000000,<ROWS>  ROWS defaults to 10 000 000; about 1 GB of disk per million records and layout
 *   --days=30  --batches=40  --runs=200
 *   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres   the server (its database is only used to connect)
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { createDatabase, type Database } from '../src/db/client.js';
import { deleteBatchBefore } from '../src/db/delete-before.js';
import { rowsOf } from '../src/db/rows-of.js';
import { usageRecords } from '../src/db/schema.js';
import { dropUsagePartitionsBefore, ensureUsagePartitions } from '../src/db/usage-partitions.js';
import { createUsageWriter, type UsageEvent } from '../src/gateway/usage-writer.js';
import { createUsageQueries } from '../src/services/usage-queries.js';
import { timeOrderedId } from '../src/util/time-ordered-id.js';

const argv = process.argv.slice(2);
const opt = (name: string, def: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? def;
const ROWS = Number(process.env.ROWS || 10_000_000);
const SIZES = opt('sizes', `1000000,${ROWS}`).split(',').map(Number).filter((n) => n > 0);
const DAYS = Number(opt('days', '30'));
const BATCHES = Number(opt('batches', '40'));
const RUNS = Number(opt('runs', '200'));
const SERVER = process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
const CHUNK = 1_000_000;
const KEYS = 200;
const DAY = 86_400_000;
const log = (msg: string) => process.stderr.write(`[partitions ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const keyId = (k: number) => `00000000-0000-4000-8000-${String(k).padStart(12, '0')}`;

type Layout = 'plain' | 'day';

const migrationsDir = new URL('../migrations/', import.meta.url).pathname;
const journal = JSON.parse(readFileSync(join(migrationsDir, 'meta/_journal.json'), 'utf8')) as { entries: Array<{ tag: string }> };

/** The migrations up to 0010 in a folder of their own: the plain layout. */
async function migrateTo0010(database: Database): Promise<void> {
  const upTo = journal.entries.findIndex((e) => e.tag.startsWith('0011'));
  const dir = mkdtempSync(join(tmpdir(), 'bench-migrations-'));
  try {
    for (const e of journal.entries.slice(0, upTo)) cpSync(join(migrationsDir, `${e.tag}.sql`), join(dir, `${e.tag}.sql`));
    cpSync(join(migrationsDir, 'meta'), join(dir, 'meta'), { recursive: true });
    writeFileSync(join(dir, 'meta/_journal.json'), JSON.stringify({ ...journal, entries: journal.entries.slice(0, upTo) }));
    const { migrate } = await import('drizzle-orm/postgres-js/migrator');
    await migrate(database.db as never, { migrationsFolder: dir });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // The writer makes a batch's day partition before inserting it (src/db/usage-partitions.ts); on the plain table the
  // same call must succeed and make nothing, or every batch would fail at that call and the insert cost would be the
  // cost of an error.
  await database.db.execute(
    sql.raw(`create function usage_records_add_partition(day date) returns boolean language sql as 'select false'`),
  );
}

/** Records g in [lo, hi] of `size`, evenly over [start, start + DAYS days), every field derived from g. */
function insertChunk(lo: number, hi: number, size: number, start: Date) {
  const stepUs = Math.floor((DAYS * DAY * 1000) / size);
  return sql`insert into usage_records (id, created_at, api_key_id, model, provider, upstream_model, prompt_tokens,
      completion_tokens, cost_usd, latency_ms, ttft_ms, status, streamed, attempts)
    select ('10000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid,
      ${start.toISOString()}::timestamptz + (g * ${stepUs}::bigint) * interval '1 microsecond',
      ('00000000-0000-4000-8000-' || lpad((g % ${KEYS})::text, 12, '0'))::uuid,
      'model-' || (g % 12), 'provider-' || (g % 4), 'upstream-' || (g % 12),
      10 + h % 1500, 5 + h % 500, round(((10 + h % 1500) * 1.5 + (5 + h % 500) * 2.5) / 1e6, 10),
      200 + h % 5000, case when g % 2 = 0 then 40 + h % 800 end,
      case when h % 100 < 95 then 'OK' else 'ERROR' end, g % 2 = 0, 1
    from (select g, (g * 2654435761) % 4294967296 as h from generate_series(${lo}::bigint, ${hi}::bigint) g) s`;
}

async function fill(database: Database, layout: Layout, size: number, start: Date): Promise<void> {
  const { db } = database;
  if (layout === 'day') {
    for (let t = start.getTime(); t < Date.now(); t += DAY) {
      await db.execute(sql`select usage_records_add_partition(${new Date(t).toISOString().slice(0, 10)}::date)`);
    }
    await ensureUsagePartitions(db);
  }
  const t0 = performance.now();
  await db.execute(sql`alter table usage_records disable trigger user`);
  for (let lo = 1; lo <= size; lo += CHUNK) {
    const hi = Math.min(size, lo + CHUNK - 1);
    await db.execute(insertChunk(lo, hi, size, start));
    log(`  ${layout}: ${hi.toLocaleString('en')} records (${Math.round((performance.now() - t0) / 1000)} s)`);
  }
  await db.execute(sql`alter table usage_records enable trigger user`);
  await db.execute(sql`select usage_rollups_rebuild()`);
  await db.execute(sql`analyze`);
  log(`  ${layout}: filled and analyzed in ${Math.round((performance.now() - t0) / 1000)} s`);
}

function event(): UsageEvent {
  const k = Math.floor(Math.random() * KEYS);
  return {
    id: timeOrderedId(),
    createdAt: new Date(),
    apiKeyId: keyId(k),
    model: `model-${k % 12}`,
    provider: `provider-${k % 4}`,
    upstreamModel: `upstream-${k % 12}`,
    promptTokens: 100,
    completionTokens: 50,
    cachedReadTokens: 0,
    cacheWriteTokens: 0,
    reasoningTokens: 0,
    costUsd: 0.0002,
    latencyMs: 300 + Math.floor(Math.random() * 2000),
    ttftMs: null,
    status: 'OK',
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

const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

async function countRecords(database: Database): Promise<number> {
  const [row] = rowsOf<{ n: string }>(await database.db.execute(sql`select count(*)::text as n from usage_records`));
  return Number(row!.n);
}

/** µs per record of the writer's batch insert at the head of the table, median batch. */
async function insertCost(database: Database): Promise<number> {
  const writer = createUsageWriter(database.db, { flushMs: 60_000, bufferMax: 10_000, batchSize: 500, log: pino({ level: 'silent' }) });
  const perRow: number[] = [];
  const before = await countRecords(database);
  for (let b = 0; b < BATCHES + 5; b++) {
    const events = Array.from({ length: 500 }, event);
    // the 500th record starts the batch's write: the clock starts before the first
    const t0 = performance.now();
    for (const e of events) writer.record(e);
    await writer.flush();
    if (b >= 5) perRow.push(((performance.now() - t0) * 1000) / 500);
  }
  await writer.stop();
  // a batch the writer could not write costs only its error: the figure counts only if every record is in the table
  const stored = (await countRecords(database)) - before;
  if (stored !== (BATCHES + 5) * 500) throw new Error(`the writer stored ${stored} of ${(BATCHES + 5) * 500} records`);
  return quantile(perRow, 0.5);
}

/** p50 and p95 ms of the newest page (first: 50), of all records or one key's. */
async function newestPage(database: Database, byKey: boolean): Promise<[number, number]> {
  const queries = createUsageQueries(database.db);
  const ms: number[] = [];
  for (let i = 0; i < RUNS + 20; i++) {
    const readScope = byKey ? ({ kind: 'key', keyId: keyId(i % KEYS) } as const) : ({ kind: 'all' } as const);
    const t0 = performance.now();
    const page = await queries.page({ first: 50, readScope });
    if (i >= 20) ms.push(performance.now() - t0);
    if (page.edges.length !== 50) throw new Error(`a newest page of ${page.edges.length} records`);
  }
  return [quantile(ms, 0.5), quantile(ms, 0.95)];
}

/** Seconds to take the oldest day (`[start, start + 1 day)`) out, and how many records it held. */
async function retention(database: Database, layout: Layout, start: Date): Promise<{ s: number; rows: number }> {
  const cutoff = new Date(start.getTime() + DAY);
  const [{ n }] = rowsOf<{ n: number }>(
    await database.db.execute(sql`select count(*)::int as n from usage_records where created_at < ${cutoff.toISOString()}::timestamptz`),
  ) as [{ n: number }];
  const t0 = performance.now();
  if (layout === 'day') {
    const dropped = await dropUsagePartitionsBefore(database.db, cutoff);
    if (dropped.length !== 1) throw new Error(`dropped ${dropped.length} partitions`);
  } else {
    while ((await deleteBatchBefore(database.db, usageRecords, usageRecords.createdAt, cutoff, 5000)) >= 5000);
  }
  return { s: (performance.now() - t0) / 1000, rows: Number(n) };
}

interface Result {
  size: number;
  layout: Layout;
  insertUs: number;
  page: [number, number];
  keyPage: [number, number];
  retention: { s: number; rows: number };
  bytes: number;
}

async function measure(admin: postgres.Sql, size: number, layout: Layout): Promise<Result> {
  const name = `bench_partitions_${layout}`;
  await admin.unsafe(`drop database if exists ${name} with (force)`);
  await admin.unsafe(`create database ${name}`);
  const u = new URL(SERVER);
  u.pathname = `/${name}`;
  const database = await createDatabase({ url: u.toString(), dataDir: '' });
  try {
    if (layout === 'plain') await migrateTo0010(database);
    else await database.migrate();
    // the data's first day is a whole UTC day, the one retention takes out
    const start = new Date(Math.floor(Date.now() / DAY) * DAY - (DAYS - 1) * DAY);
    log(`${size.toLocaleString('en')} records, ${layout}: filling`);
    await fill(database, layout, size, start);
    const [{ bytes }] = rowsOf<{ bytes: string }>(await database.db.execute(sql`select pg_database_size(current_database())::text as bytes`)) as [
      { bytes: string },
    ];
    log(`  measuring (load ${loadavg()[0]!.toFixed(1)})`);
    const insertUs = await insertCost(database);
    const page = await newestPage(database, false);
    const keyPage = await newestPage(database, true);
    const ret = await retention(database, layout, start);
    return { size, layout, insertUs, page, keyPage, retention: ret, bytes: Number(bytes) };
  } finally {
    await database.close();
    await admin.unsafe(`drop database if exists ${name} with (force)`);
  }
}

const admin = postgres(SERVER, { max: 1, onnotice: () => {} });
const results: Result[] = [];
try {
  for (const size of SIZES) for (const layout of ['plain', 'day'] as const) results.push(await measure(admin, size, layout));
} finally {
  await admin.end({ timeout: 5 });
}

const f = (x: number, d = 2) => x.toFixed(d);
console.log(`\nusage_records on PostgreSQL, ${DAYS} days of records, ${KEYS} keys; newest page = first 50, ${RUNS} runs\n`);
console.log('| records | layout | database size | insert µs/record (median of 500-batches) | newest page p50 / p95 ms | one key\'s newest page p50 / p95 ms | drop the oldest day (records) |');
console.log('|---:|---|---:|---:|---:|---:|---:|');
for (const r of results) {
  console.log(
    `| ${r.size.toLocaleString('en')} | ${r.layout === 'day' ? 'partitioned by day' : 'plain (0010)'} | ${f(r.bytes / 2 ** 30, 1)} GiB | ${f(r.insertUs, 1)} | ${f(r.page[0])} / ${f(r.page[1])} | ${f(r.keyPage[0])} / ${f(r.keyPage[1])} | ${f(r.retention.s, 3)} s (${r.retention.rows.toLocaleString('en')}) |`,
  );
}
