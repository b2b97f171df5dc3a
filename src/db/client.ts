/* createDb: postgres.js for postgres://…, PGlite in a directory by default, PGlite in memory for memory://. */
import { existsSync, mkdirSync } from 'node:fs';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { sql } from 'drizzle-orm';
import type { PGlite } from '@electric-sql/pglite';
import { PGliteRemote } from './pglite-remote.js';
import { copyTemplate, DEFAULT_TEMPLATE_DIR } from './pglite-template.js';
import * as schema from './schema.js';
import type { Config } from '../config.js';

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface Database {
  db: Db;
  kind: 'postgres' | 'pglite';
  /** Runs the committed migrations; safe when several instances start at once. */
  migrate(): Promise<void>;
  ping(): Promise<boolean>;
  close(): Promise<void>;
  /** Counts statements sent, for tests that prove batching. */
  queryCount(): number;
  /**
   * Embedded PGlite only: `COPY table (columns) FROM` the given COPY-text-format rows, which costs PGlite less
   * database CPU per usage record than the same rows as one jsonb parameter (figures in bench/README.md).
   */
  copyRows?(table: string, columns: readonly string[], text: string): Promise<void>;
  /** postgres.js only: LISTEN/NOTIFY for cross-instance invalidation; `onListen` runs on every (re-)LISTEN. */
  listen?(channel: string, onMessage: (payload: string) => void, onListen?: () => void): Promise<() => Promise<void>>;
  notify?(channel: string, payload: string): Promise<void>;
}

const migrationsFolder = new URL('../../migrations', import.meta.url).pathname;
// any fixed 64-bit number; only our migrations take it
const MIGRATION_LOCK = 7_316_042_219;

/** The longest wait, in seconds, before a pool connection tries the server again after a failed attempt. */
export const RECONNECT_MAX_S = 0.25;

/**
 * Seconds before a closed pool connection reconnects; postgres.js passes the failed attempts counted across the
 * whole pool since the last success. Its default grows as 3^n towards 20 s, so ten connections failing together
 * during a short outage left the pool waiting many seconds after the server was back (and every query with it).
 * Here: 50 ms doubling, with jitter so the pool does not reconnect in lockstep, never above RECONNECT_MAX_S; a
 * refused connection costs next to nothing, and a pool connection only retries while a query waits for it.
 */
function reconnectBackoff(failures: number): number {
  return Math.min(0.05 * 2 ** failures, RECONNECT_MAX_S) * (0.5 + Math.random() / 2);
}

/**
 * Embedded PGlite's `shared_buffers` unless configured. Postgres zeroes its whole shared memory when it starts, so
 * all of it is resident in PGlite's WebAssembly memory from the first second, and WebAssembly memory never
 * shrinks: Postgres' default of 128 MB was the largest part of an idle gateway. Pages that do not fit are read
 * through the operating system's file cache instead (figures in bench/README.md).
 */
export const PGLITE_SHARED_BUFFERS = '16MB';

export interface CreateDatabaseOptions {
  /**
   * Embedded PGlite on disk: the template a first start copies instead of creating the cluster
   * (src/db/pglite-template.ts); false: always create it. Default: the one the build made.
   */
  template?: string | false;
}

/** Config['db']; callers outside the app (tests, benches) may leave PGlite's settings out. */
type DbConfig = Omit<Config['db'], 'pgliteSharedBuffers'> & Partial<Pick<Config['db'], 'pgliteSharedBuffers'>>;

export async function createDatabase(c: DbConfig, options: CreateDatabaseOptions = {}): Promise<Database> {
  let count = 0;
  const logger = { logQuery: () => void count++ };

  if (c.url?.startsWith('postgres')) {
    const { default: postgres } = await import('postgres');
    const { drizzle } = await import('drizzle-orm/postgres-js');
    const client = postgres(c.url, {
      max: 10,
      onnotice: () => {},
      idle_timeout: 30,
      connect_timeout: 10,
      backoff: reconnectBackoff,
      // no statement of the gateway reads enough rows to repay compiling it: with JIT on, a usage summary whose
      // estimated cost passes jit_above_cost spent longer compiling than running
      connection: { jit: 'off' },
    });
    const db = drizzle(client, { schema, logger }) as unknown as Db;
    return {
      db,
      kind: 'postgres',
      async migrate() {
        const { migrate } = await import('drizzle-orm/postgres-js/migrator');
        const lockConn = await client.reserve();
        try {
          await lockConn`select pg_advisory_lock(${MIGRATION_LOCK})`;
          await migrate(drizzle(client), { migrationsFolder });
        } finally {
          await lockConn`select pg_advisory_unlock(${MIGRATION_LOCK})`.catch(() => {});
          lockConn.release();
        }
      },
      ping: () => ping(db),
      close: () => client.end({ timeout: 5 }),
      queryCount: () => count,
      async listen(channel, onMessage, onListen) {
        const sub = await client.listen(channel, onMessage, onListen);
        return () => sub.unlisten();
      },
      async notify(channel, payload) {
        await client.notify(channel, payload);
      },
    };
  }

  let dataDir: string | undefined;
  if (c.url !== 'memory://') {
    mkdirSync(c.dataDir, { recursive: true });
    dataDir = `${c.dataDir.replace(/\/$/, '')}/pgdata`;
  }
  const settings = [`shared_buffers=${c.pgliteSharedBuffers ?? PGLITE_SHARED_BUFFERS}`];
  const template = options.template ?? DEFAULT_TEMPLATE_DIR;
  // PGlite runs its SQL synchronously on its thread: that thread is a worker, not the event loop
  if (dataDir && !existsSync(`${dataDir}/PG_VERSION`) && !(template && (await copyTemplate(template, dataDir)))) {
    // creating the cluster (initdb) leaves hundreds of MB of WebAssembly memory that PGlite never gives back; a
    // new thread on the now existing files starts without it (figures in bench/README.md)
    const init = new PGliteRemote(dataDir, settings);
    await init.waitReady;
    await init.close();
  }
  const pg = new PGliteRemote(dataDir, settings);
  // imported while the worker starts: the driver loads all of PGlite's JavaScript once more on this thread
  const { drizzle } = await import('drizzle-orm/pglite');
  await pg.waitReady;
  const db = drizzle(pg as unknown as PGlite, { schema, logger }) as unknown as Db;
  return {
    db,
    kind: 'pglite',
    async migrate() {
      const { migrate } = await import('drizzle-orm/pglite/migrator');
      // PGlite is one connection in one process: nothing else can race us here
      await migrate(drizzle(pg as unknown as PGlite), { migrationsFolder });
    },
    ping: () => ping(db),
    close: () => pg.close(),
    queryCount: () => count,
    async copyRows(table, columns, text) {
      count++;
      await pg.copy(`copy ${table} (${columns.join(', ')}) from '/dev/blob'`, text);
    },
  };
}

async function ping(db: Db): Promise<boolean> {
  try {
    await db.execute(sql`select 1`);
    return true;
  } catch {
    return false;
  }
}
