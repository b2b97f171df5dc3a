/* Call logs older than CALL_LOG_RETENTION_DAYS are deleted: at start, then hourly, in batches, off the request path. */
import type { Logger } from 'pino';
import type { Db } from '../db/client.js';
import { callLogs } from '../db/schema.js';
import { deleteBatchBefore } from '../db/delete-before.js';

const HOUR_MS = 3_600_000;

/** One sweep's time at most: a backlog of millions of rows is deleted over several ticks, not in one long run. */
const SWEEP_BUDGET_MS = 60_000;

/** A sweep's next tick when the last one used up its budget with rows left, instead of an hour later. */
const CONTINUE_MS = 1000;

export interface SweepLimits {
  batch?: number;
  /** Checked between batches: true stops the sweep there (the app is stopping). */
  stopped?: () => boolean;
  /** The sweep stops after this many ms (between batches), leaving the rest for the next one. */
  budgetMs?: number;
}

/**
 * Deletes the call logs created more than `days` ago, `batch` rows per statement, until none is left, it is told to
 * stop, or its time budget is spent; how many it deleted, and whether it finished.
 */
export async function deleteOldCallLogs(db: Db, days: number, limits: SweepLimits = {}): Promise<{ deleted: number; done: boolean }> {
  const { batch = 5000, stopped = () => false, budgetMs = SWEEP_BUDGET_MS } = limits;
  const cutoff = new Date(Date.now() - days * 86_400_000);
  const until = Date.now() + budgetMs;
  let total = 0;
  for (;;) {
    if (stopped() || Date.now() >= until) return { deleted: total, done: false };
    const n = await deleteBatchBefore(db, callLogs, callLogs.createdAt, cutoff, batch);
    total += n;
    if (n < batch) return { deleted: total, done: true };
  }
}

export interface CallLogRetention {
  /** Stops the timer and waits for a sweep under way to finish its current batch. */
  stop(): Promise<void>;
}

/**
 * Sweeps now and every hour (sooner while a sweep left rows behind); the timers never keep the process alive.
 * `limits`: for tests (batch size, budget).
 */
export function startCallLogRetention(db: Db, days: number, log: Logger, limits: Omit<SweepLimits, 'stopped'> = {}): CallLogRetention {
  let running: Promise<void> | undefined;
  let stopped = false;
  let again: NodeJS.Timeout | undefined;
  const run = (): void => {
    if (running || stopped) return;
    running = deleteOldCallLogs(db, days, { ...limits, stopped: () => stopped })
      .then(
        ({ deleted, done }) => {
          if (deleted) log.info({ deleted, days }, 'call log retention: old entries deleted');
          if (!done && !stopped) (again = setTimeout(run, CONTINUE_MS)).unref();
        },
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
      clearTimeout(again);
      await running;
    },
  };
}
