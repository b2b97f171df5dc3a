/*
 * The main-thread face of the PGlite worker (pglite-worker.mjs): the part of PGlite's interface that drizzle's
 * PGlite session calls (query, exec, transaction), forwarded over the worker's port. SQL then runs beside the
 * event loop instead of on it.
 */
import { Worker } from 'node:worker_threads';

export interface RemoteResult {
  rows: unknown[];
  fields: { name: string; dataTypeID: number }[];
  affectedRows?: number;
}

interface QueryOptions {
  rowMode?: 'array' | 'object';
}

/** What a transaction callback gets: the same calls, bound to the open transaction. */
export interface RemoteTransaction {
  query(sql: string, params?: unknown[], opts?: QueryOptions): Promise<RemoteResult>;
  exec(sql: string): Promise<RemoteResult[]>;
}

/** A database error from the worker, with Postgres' fields (code = SQLSTATE, detail, constraint, …). */
class PGliteError extends Error {
  code?: string;
  constructor(fields: { message: string } & Record<string, unknown>) {
    super(fields.message);
    this.name = 'PGliteError';
    Object.assign(this, fields);
  }
}

const encoder = new TextEncoder();

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

export class PGliteRemote {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private dead: Error | undefined;
  readonly waitReady: Promise<void>;

  /**
   * @param dataDir undefined: in memory
   * @param settings Postgres settings as `name=value`, given on the command line at every start
   */
  constructor(dataDir?: string, settings: readonly string[] = []) {
    // the worker is plain JavaScript: no loader flags needed, and profiling flags are not wanted in it
    this.worker = new Worker(new URL('./pglite-worker.mjs', import.meta.url), { workerData: { dataDir, settings }, execArgv: [] });
    this.waitReady = new Promise<void>((resolve, reject) => this.pending.set(0, { resolve: () => resolve(), reject }));
    this.worker.on('message', (m: { id: number; result?: unknown; error?: { message: string } & Record<string, unknown> }) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) this.worker.unref();
      if (m.error) p.reject(new PGliteError(m.error));
      else p.resolve(m.result);
    });
    const die = (err: Error) => {
      this.dead ??= err;
      for (const p of this.pending.values()) p.reject(this.dead);
      this.pending.clear();
    };
    this.worker.on('error', die);
    this.worker.on('exit', (code) => die(new Error(`the database thread exited (code ${code})`)));
  }

  private call<T>(msg: Record<string, unknown>, transfer?: ArrayBuffer[]): Promise<T> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      // referenced only while a call is waiting: an idle database does not keep the process alive
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ id, ...msg }, transfer);
    });
  }

  query(sql: string, params: unknown[] = [], opts: QueryOptions = {}, tx?: number): Promise<RemoteResult> {
    return this.call({ op: 'query', sql, params, rowMode: opts.rowMode, tx });
  }

  exec(sql: string, tx?: number): Promise<RemoteResult[]> {
    return this.call({ op: 'exec', sql, tx });
  }

  /**
   * `COPY … FROM '/dev/blob'` with `text` as the data (COPY text format). The text goes over as UTF-8 bytes
   * whose buffer is handed to the worker, not copied: cloning a batch-sized string built by concatenation
   * held the event loop for a noticeable time every batch.
   */
  copy(sql: string, text: string): Promise<{ affectedRows?: number }> {
    const data = encoder.encode(text);
    return this.call({ op: 'copy', sql, data }, [data.buffer as ArrayBuffer]);
  }

  async transaction<T>(fn: (tx: RemoteTransaction) => Promise<T>): Promise<T> {
    const txId = await this.call<number>({ op: 'begin' });
    const tx: RemoteTransaction = {
      query: (sql, params, opts) => this.query(sql, params, opts, txId),
      exec: (sql) => this.exec(sql, txId),
    };
    let result: T;
    try {
      result = await fn(tx);
    } catch (err) {
      await this.call({ op: 'rollback', tx: txId }).catch(() => {});
      throw err;
    }
    await this.call({ op: 'commit', tx: txId });
    return result;
  }

  async close(): Promise<void> {
    if (this.dead) return;
    try {
      await this.call({ op: 'close' });
    } finally {
      await this.worker.terminate();
    }
  }
}
