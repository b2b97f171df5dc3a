/* Usage records are buffered and written in batches off the request path; kept while the database is away. */
import type { Logger } from 'pino';
import type { Db } from '../db/client.js';
import { usageRecords, type UsageInsert } from '../db/schema.js';

export type UsageStatus = 'OK' | 'ERROR' | 'RATE_LIMITED' | 'QUOTA_EXCEEDED' | 'CANCELLED';

/** One invocation's record, as the gateway produced it. */
export interface UsageEvent {
  id: string;
  createdAt: Date;
  apiKeyId: string | null;
  model: string;
  provider: string | null;
  upstreamModel: string | null;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
  latencyMs: number;
  ttftMs: number | null;
  status: UsageStatus;
  errorCode: string | null;
  streamed: boolean;
  attempts: number;
  usageExact: boolean;
  metadata: Record<string, unknown> | null;
}

export interface UsageWriterOptions {
  flushMs: number;
  /** Records kept in memory at most while the database is unreachable. */
  bufferMax: number;
  batchSize?: number;
  log: Logger;
  /** Called with each batch once it is durably written (live feed, metrics). */
  onWritten?: (events: UsageEvent[]) => void;
  /** Called with the records dropped because the bound was reached. */
  onDropped?: (count: number) => void;
}

export type UsageWriter = ReturnType<typeof createUsageWriter>;

export function toRow(e: UsageEvent): UsageInsert {
  return { ...e, costUsd: e.costUsd.toFixed(10) };
}

export function createUsageWriter(db: Db, opts: UsageWriterOptions) {
  const batchSize = opts.batchSize ?? 500;
  let buffer: UsageEvent[] = [];
  let timer: NodeJS.Timeout | undefined;
  let flushing: Promise<void> | undefined;
  let failures = 0;
  let dropped = 0;
  let stopped = false;

  function schedule(delay: number): void {
    if (timer || stopped) return;
    timer = setTimeout(() => {
      timer = undefined;
      void flush();
    }, delay);
    timer.unref();
  }

  async function writeOnce(): Promise<void> {
    while (buffer.length) {
      const batch = buffer.slice(0, batchSize);
      // ids are ours, so a batch re-sent after a lost acknowledgement cannot duplicate rows
      await db.insert(usageRecords).values(batch.map(toRow)).onConflictDoNothing();
      buffer = buffer.slice(batch.length);
      failures = 0;
      opts.onWritten?.(batch);
    }
  }

  function flush(): Promise<void> {
    if (flushing) return flushing;
    flushing = (async () => {
      try {
        await writeOnce();
      } catch (err) {
        failures++;
        if (failures === 1 || failures % 20 === 0) {
          opts.log.warn({ err, pending: buffer.length, failures }, 'usage records could not be written; keeping them and retrying');
        }
        // back off up to 5 s while the database is away
        schedule(Math.min(5000, opts.flushMs * 2 ** Math.min(failures, 5)));
      } finally {
        flushing = undefined;
      }
    })();
    return flushing;
  }

  return {
    record(e: UsageEvent): void {
      buffer.push(e);
      if (buffer.length > opts.bufferMax) {
        const over = buffer.length - opts.bufferMax;
        buffer.splice(0, over);
        dropped += over;
        opts.onDropped?.(over);
        opts.log.error({ dropped, bufferMax: opts.bufferMax }, 'usage buffer full: oldest records dropped');
      }
      if (buffer.length >= batchSize && !failures) void flush();
      else schedule(opts.flushMs);
    },
    flush,
    pending: () => buffer.length,
    dropped: () => dropped,
    /** Flushes everything, retrying for up to `deadlineMs`. */
    async stop(deadlineMs = 10_000): Promise<void> {
      const until = Date.now() + deadlineMs;
      if (timer) clearTimeout(timer);
      timer = undefined;
      while (buffer.length && Date.now() < until) {
        await flushing;
        try {
          await writeOnce();
        } catch (err) {
          opts.log.warn({ err, pending: buffer.length }, 'usage flush at shutdown failed; retrying');
          await new Promise((r) => setTimeout(r, 250));
        }
      }
      stopped = true;
      if (buffer.length) opts.log.error({ lost: buffer.length }, 'usage records could not be written before shutdown');
    },
  };
}
