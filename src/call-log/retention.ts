/* Call logs older than CALL_LOG_RETENTION_DAYS are deleted: at start, then hourly, in batches, off the request path. */
import { sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Db } from '../db/client.js';
import { callLogs } from '../db/schema.js';

const HOUR_MS = 3_600_000;

/** Deletes the call logs created more than `days` ago, `batch` rows per statement; how many it deleted. */
export async function deleteOldCallLogs(db: Db, days: number, batch = 5000): Promise<number> {
  const cutoff = new Date(Date.now() - days * 86_400_000).toISOString();
  let total = 0;
  for (;;) {
    // by row address, as usage retention does: a TID scan per batch instead of a join over the table
    const res = await db.execute(
      sql`delete from ${callLogs} where ctid = any(array(select ctid from ${callLogs} where ${callLogs.createdAt} < ${cutoff}::timestamptz limit ${batch}))`,
    );
    const r = res as { affectedRows?: number; count?: number; rowCount?: number };
    const n = Number(r.affectedRows ?? r.count ?? r.rowCount ?? 0);
    total += n;
    if (n < batch) return total;
  }
}

export interface CallLogRetention {
  /** Stops the timer and waits for a sweep under way. */
  stop(): Promise<void>;
}

/** Sweeps now and every hour; the timer never keeps the process alive. */
export function startCallLogRetention(db: Db, days: number, log: Logger): CallLogRetention {
  let running: Promise<void> | undefined;
  let stopped = false;
  const run = (): void => {
    if (running || stopped) return;
    running = deleteOldCallLogs(db, days)
      .then(
        (n) => void (n && log.info({ deleted: n, days }, 'call log retention: old entries deleted')),
        (err: unknown) => log.warn({ err }, 'call log retention failed; will retry'),
      )
      .finally(() => (running = undefined));
  };
  const timer = setInterval(run, HOUR_MS);
  timer.unref();
  run();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
