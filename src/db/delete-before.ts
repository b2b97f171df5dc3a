/* Retention's one statement: a batch of a table's oldest rows deleted, for the usage records and the call logs alike. */
import { sql } from 'drizzle-orm';
import type { PgColumn, PgTable } from 'drizzle-orm/pg-core';
import type { Db } from './client.js';

/**
 * Deletes up to `batch` rows of `table` whose `createdAt` is before `cutoff`; how many it deleted. The batch is picked
 * on the time index and deleted by row address: `= any(array(…))` is a TID scan, where `in (select …)` planned a hash
 * join that read the whole table for every batch. `cutoff` goes as an ISO string, not a Date: a raw sql`` parameter
 * skips drizzle's column mapping, and postgres.js rejects Dates.
 */
export async function deleteBatchBefore(db: Db, table: PgTable, createdAt: PgColumn, cutoff: Date, batch: number): Promise<number> {
  const res = await db.execute(
    sql`delete from ${table} where ctid = any(array(select ctid from ${table} where ${createdAt} < ${cutoff.toISOString()}::timestamptz limit ${batch}))`,
  );
  // PGlite answers affectedRows, postgres.js count
  const r = res as { affectedRows?: number; count?: number; rowCount?: number };
  return Number(r.affectedRows ?? r.count ?? r.rowCount ?? 0);
}
