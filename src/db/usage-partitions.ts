/*
 * Upkeep of usage_records' day partitions (migrations/0011_usage_partitions.sql): the coming days' partitions made
 * ahead of their records, and retention's whole days dropped.
 */
import { sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Db } from './client.js';
import { rowsOf } from './rows-of.js';

const DAY_MS = 86_400_000;
/** The partitions 0011 and usage_records_add_partition() make: usage_records_pYYYYMMDD holds that UTC day. */
const DAY_PARTITION = /^usage_records_p(\d{4})(\d{2})(\d{2})$/;

/** The UTC day starting at or before `t`. */
function utcDay(t: Date): Date {
  return new Date(Math.floor(t.getTime() / DAY_MS) * DAY_MS);
}

/**
 * The days (ms of their UTC midnight) whose partition this process made or saw made, per database: the writer then
 * checks a batch's days against memory and sends nothing when all are known. A day dropped by another instance's
 * retention stays "known" here: the insert then finds it missing, and withUsagePartitions makes it again.
 */
const knownDays = new WeakMap<object, Set<number>>();

function known(db: Db): Set<number> {
  // by the driver's client (drizzle's public $client): every wrapper of one database shares what is known of it
  const client = (db as { $client?: unknown }).$client;
  const key = client && typeof client === 'object' ? client : db;
  let days = knownDays.get(key);
  if (!days) knownDays.set(key, (days = new Set()));
  return days;
}

/** Makes one day's partition if missing (the SQL function of migration 0011); whether it did. */
async function addDay(db: Db, dayMs: number): Promise<boolean> {
  const day = new Date(dayMs).toISOString().slice(0, 10);
  // one day a statement: each holds the function's lock only for its own day
  const [row] = rowsOf<{ made: boolean }>(await db.execute(sql`select usage_records_add_partition(${day}::date) as made`));
  known(db).add(dayMs);
  return row?.made === true;
}

/**
 * Makes the partitions of today and the `daysAhead` next days (UTC) that are missing; the days it made. Idempotent,
 * and safe when instances run it at once (the SQL function takes an advisory lock).
 */
export async function ensureUsagePartitions(db: Db, opts: { daysAhead?: number; now?: Date } = {}): Promise<string[]> {
  const today = utcDay(opts.now ?? new Date()).getTime();
  const made: string[] = [];
  for (let i = 0; i <= (opts.daysAhead ?? 3); i++) {
    const day = today + i * DAY_MS;
    if (await addDay(db, day)) made.push(new Date(day).toISOString().slice(0, 10));
  }
  return made;
}

/**
 * Makes sure the partitions of these records' UTC days exist before they are inserted (there is no default partition
 * to take a record of a day without one): nothing is sent when every day is known to this process, which is the rule
 * for records of today. `force` makes them whatever memory says (after an insert found one missing). A day retention
 * dropped comes back for a late record (a spool replayed after days); retention drops it again on its next run.
 */
export async function ensureUsagePartitionsFor(db: Db, times: Iterable<Date>, force = false): Promise<void> {
  const days = known(db);
  let missing: Set<number> | undefined;
  for (const t of times) {
    const day = Math.floor(t.getTime() / DAY_MS) * DAY_MS;
    if (force || !days.has(day)) (missing ??= new Set()).add(day);
  }
  if (missing) for (const day of missing) await addDay(db, day);
}

/** Whether an insert failed because a record's day has no partition (SQLSTATE 23514 "no partition of relation … found for row"). */
function isMissingPartition(err: unknown): boolean {
  for (let e: unknown = err; e && typeof e === 'object'; e = (e as { cause?: unknown }).cause) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (code === '23514' && typeof message === 'string' && message.startsWith('no partition of relation')) return true;
  }
  return false;
}

/**
 * Runs an insert of these records once their days' partitions exist; when it still finds one missing (dropped by
 * retention elsewhere, or made before this process started and dropped since), makes them all and tries once more.
 */
export async function withUsagePartitions<T>(db: Db, times: Iterable<Date>, insert: () => Promise<T>): Promise<T> {
  await ensureUsagePartitionsFor(db, times);
  try {
    return await insert();
  } catch (err) {
    if (!isMissingPartition(err)) throw err;
  }
  await ensureUsagePartitionsFor(db, times, true);
  return insert();
}

interface DayPartition {
  name: string;
  from: Date;
  to: Date;
}

async function dayPartitions(db: Db): Promise<DayPartition[]> {
  const rows = rowsOf<{ name: string }>(
    await db.execute(
      sql`select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'usage_records'::regclass`,
    ),
  );
  const out: DayPartition[] = [];
  for (const { name } of rows) {
    const m = DAY_PARTITION.exec(name);
    if (!m) continue;
    const from = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
    out.push({ name, from, to: new Date(from.getTime() + DAY_MS) });
  }
  return out.sort((a, b) => a.from.getTime() - b.from.getTime());
}

/**
 * Drops every day partition that ends at or before `cutoff`; the names it dropped. Dropping a table fires no delete
 * trigger, so the same transaction takes the day's hours out of the rollups, as the batched delete's trigger would
 * have: a day partition holds every record of its hours, so the rollups keep exactly the hours that still have records.
 * The drop needs the parent's exclusive lock, and while it waits for one every later insert and read of usage_records
 * queues behind it: so it waits at most `lockTimeoutMs` a try (behind a long read), a few tries apart, and otherwise
 * leaves the day to the next run. Rows older than the cutoff in the day it cuts are the batched delete's.
 */
export async function dropUsagePartitionsBefore(db: Db, cutoff: Date, opts: { lockTimeoutMs?: number; tries?: number; pauseMs?: number } = {}): Promise<string[]> {
  const { lockTimeoutMs = 200, tries = 3, pauseMs = 1000 } = opts;
  const dropped: string[] = [];
  for (const p of await dayPartitions(db)) {
    if (p.to.getTime() > cutoff.getTime()) break;
    for (let attempt = 1; ; attempt++) {
      try {
        await dropDay(db, p, lockTimeoutMs);
        break;
      } catch (err) {
        if (!isLockTimeout(err) || attempt >= tries) throw err;
        await new Promise((resolve) => setTimeout(resolve, pauseMs));
      }
    }
    known(db).delete(p.from.getTime());
    dropped.push(p.name);
  }
  return dropped;
}

async function dropDay(db: Db, p: DayPartition, lockTimeoutMs: number): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.execute(sql.raw(`set local lock_timeout = ${Math.trunc(lockTimeoutMs)}`));
    await tx.execute(sql.raw(`drop table if exists "${p.name}"`));
    const from = p.from.toISOString();
    const to = p.to.toISOString();
    await tx.execute(sql`delete from usage_rollups where bucket_start >= ${from}::timestamptz and bucket_start < ${to}::timestamptz`);
    await tx.execute(sql`delete from usage_group_rollups where bucket_start >= ${from}::timestamptz and bucket_start < ${to}::timestamptz`);
  });
}

/** SQLSTATE 55P03 (lock_not_available): lock_timeout ran out. */
function isLockTimeout(err: unknown): boolean {
  for (let e: unknown = err; e && typeof e === 'object'; e = (e as { cause?: unknown }).cause) {
    if ((e as { code?: unknown }).code === '55P03') return true;
  }
  return false;
}

export interface UsagePartitionUpkeep {
  /** Stops the timer and waits for a run under way. */
  stop(): Promise<void>;
}

/**
 * Runs ensureUsagePartitions hourly, off the request path; the first run is the caller's (at start-up). A failed run
 * costs nothing but a warning: the writer makes a day it finds missing itself.
 */
export function startUsagePartitionUpkeep(db: Db, log: Logger, everyMs = 3_600_000): UsagePartitionUpkeep {
  let running: Promise<void> | undefined;
  const run = (): void => {
    running ??= ensureUsagePartitions(db)
      .then(
        (made) => made.length && log.info({ days: made }, 'usage partitions: days added'),
        (err: unknown) => log.warn({ err }, 'usage partitions: days not added; will retry'),
      )
      .then(() => (running = undefined));
  };
  const timer = setInterval(run, everyMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
