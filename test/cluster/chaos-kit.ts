/*
 * The chaos test's own servers: a private PostgreSQL cluster (Debian's pg_createcluster, so it can be stopped and
 * started like a real one) and a private redis-server, both on ports of their own. The shared servers on 5432 and
 * 6379 serve other suites and are never touched.
 */
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import postgres from 'postgres';
import { findHaproxy } from '../../scripts/cluster-haproxy.mjs';
import { ControlledRedis, HAS_REDIS_SERVER, sleep } from '../limits/kit.js';

const PG_VERSION = '15';
/** Start and stop the server directly, also where systemd runs (pg_ctlcluster would hand them to systemctl there). */
const CTL = ['--skip-systemctl-redirect'];

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Runs a command without holding this process's event loop (the load's clients keep running meanwhile). */
function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile(cmd, args, (err, stdout, stderr) => (err ? reject(new Error(`${cmd} ${args.join(' ')} failed: ${stderr || stdout || err.message}`)) : resolve())),
  );
}

/** Why the chaos test cannot run here, or undefined when it can. */
export function chaosSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root (pg_createcluster needs it)';
  if (!existsSync('/usr/bin/pg_createcluster')) return 'pg_createcluster missing (apt-get install postgresql-common)';
  if (!existsSync(`/usr/lib/postgresql/${PG_VERSION}/bin/postgres`)) return `PostgreSQL ${PG_VERSION} binaries missing`;
  if (!HAS_REDIS_SERVER) return 'redis-server missing';
  if (!findHaproxy()) return 'haproxy missing (apt-get install haproxy)';
  return undefined;
}

/** A PostgreSQL cluster of our own that a test can stop (fast shutdown, as an outage) and start again. */
export class PrivatePostgres {
  private constructor(
    readonly name: string,
    readonly port: number,
  ) {}

  /** postgres://…/postgres on the private cluster (trust auth on loopback, like the shared test server). */
  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  static async create(): Promise<PrivatePostgres> {
    const pg = new PrivatePostgres(`chaos${randomBytes(4).toString('hex')}`, await freePort());
    // fsync off: a fast stop is a clean shutdown, the test never crashes the machine, and the 2 cores' disk is shared
    // (listen_addresses stays the default, localhost)
    try {
      await run('pg_createcluster', [PG_VERSION, pg.name, '-p', String(pg.port), '-o', 'fsync=off', '-o', 'max_connections=200', '--', '--auth-host=trust', '--auth-local=trust']);
      await pg.start();
    } catch (e) {
      pg.drop();
      throw e;
    }
    return pg;
  }

  /** Stops it as an operator would (`-m fast`: open connections are cut, new ones refused). */
  stop(): Promise<void> {
    return run('pg_ctlcluster', [...CTL, PG_VERSION, this.name, 'stop', '-m', 'fast']);
  }

  async start(): Promise<void> {
    await run('pg_ctlcluster', [...CTL, PG_VERSION, this.name, 'start']);
    await this.waitUp();
  }

  drop(): void {
    spawnSync('pg_ctlcluster', [...CTL, PG_VERSION, this.name, 'stop', '-m', 'immediate'], { stdio: 'ignore' });
    spawnSync('pg_dropcluster', [PG_VERSION, this.name], { stdio: 'ignore' });
  }

  /** A short-lived client for the test's own queries (never held across an outage). */
  async query<T extends Record<string, unknown>>(sql: string, params: Array<string | number> = []): Promise<T[]> {
    const c = postgres(this.url, { max: 1, onnotice: () => {}, connect_timeout: 5 });
    try {
      return (await c.unsafe(sql, params)) as unknown as T[];
    } finally {
      await c.end({ timeout: 2 });
    }
  }

  private async waitUp(): Promise<void> {
    for (let i = 0; i < 100; i++) {
      try {
        await this.query('select 1');
        return;
      } catch {
        await sleep(100);
      }
    }
    throw new Error(`private PostgreSQL ${this.name} did not accept connections on ${this.port}`);
  }
}

/** A private redis-server (`--save ""`: a restart comes back empty, the worst case for shared counters). */
export class PrivateRedis {
  private constructor(private readonly server: ControlledRedis) {}

  static async start(): Promise<PrivateRedis> {
    return new PrivateRedis(await ControlledRedis.start());
  }

  get url(): string {
    return this.server.url;
  }

  kill(): Promise<void> {
    return this.server.kill();
  }

  /** Starts it again on the same port, empty. */
  restart(): Promise<void> {
    return this.server.start();
  }
}
