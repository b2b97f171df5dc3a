/* Retention's one statement: a batch of a table's oldest rows deleted, for the usage records and the call logs alike. */
import { sql } from 'drizzle-orm';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';
import type { Db } from './client.js';

/**
 * Deletes a batch of `table`'s rows whose `createdAt` is before `cutoff` (`batch` of them, or a few more on a partitioned
 * table, see below); how many it deleted. The batch is picked
 * on the time index and deleted by row address: `= any(array(…))` is a TID scan, where `in (select …)` planned a hash
 * join that read the whole table for every batch. `cutoff` goes as an ISO string, not a Date: a raw sql`` parameter
 * skips drizzle's column mapping, and postgres.js rejects Dates. The outer statement repeats the time condition: on a
 * partitioned table (usage_records) a ctid is an address within one partition, and the same ctid names a row in each
 * of the others, newer ones included; the condition keeps the delete to rows before the cutoff, in the partitions
 * that can hold them.
 */
export async function deleteBatchBefore(db: Db, table: PgTable, createdAt: PgColumn, cutoff: Date, batch: number): Promise<number> {
  const at = cutoff.toISOString();
  const res = await db.execute(
    sql`delete from ${table} where ${createdAt} < ${at}::timestamptz and ctid = any(array(select ctid from ${table} where ${createdAt} < ${at}::timestamptz limit ${batch}))`,
  );
  // PGlite answers affectedRows, postgres.js count
  const r = res as { affectedRows?: number; count?: number; rowCount?: number };
  return Number(r.affectedRows ?? r.count ?? r.rowCount ?? 0);
}
