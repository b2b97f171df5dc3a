/*
 * Start-up and idle memory of `npm start`, as an operator runs it: the time from spawning `npm start` (on a checkout
 * already built: `npm start` still runs its build check) to the first 200 from /readyz, and the process's RSS once it
 * has idled for a while after that. Part of `npm run bench` (run first, before any load), and runnable alone:
 * `npx tsx bench/startup.ts [--startup-rounds=3] [--startup-database=postgres://…]`.
 *
 * Cases, each `rounds` times (the median stands):
 *   - embedded, first start: a fresh DATA_DIR (the zero-setup default: the embedded database is made)
 *   - embedded, restart: the same DATA_DIR again
 *   - PostgreSQL, first start: a fresh database on the server (migrations run), then a restart on it
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { request } from 'undici';
import { rssMb } from './proc-stats.js';

export interface StartupCase {
  label: string;
  database: 'embedded' | 'postgres';
  first: boolean;
  /** ms from spawning `npm start` to /readyz answering 200, every round */
  readyMs: number[];
  /** RSS (MB) of the gateway's node process after idling `idleMs` past readiness, every round */
  idleRssMb: number[];
}

export interface StartupResult {
  cases: StartupCase[];
  idleMs: number;
  /** why the PostgreSQL cases were skipped, if they were */
  postgresSkipped?: string;
}

const SECRET = 'bench-startup-secret-0123456789abcdef';

function children(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** The node process running scripts/start.mjs under `npm start` (npm → sh → node). */
function gatewayPid(root: number): number | undefined {
  const queue = [root];
  while (queue.length) {
    const pid = queue.shift()!;
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (/(^|\/)node$/.test(argv[0] ?? '') && argv.some((a) => a.endsWith('scripts/start.mjs'))) return pid;
    } catch {
      continue;
    }
    queue.push(...children(pid));
  }
  return undefined;
}

async function answers(port: number): Promise<boolean> {
  try {
    const res = await request(`http://127.0.0.1:${port}/readyz`, { reset: true });
    await res.body.dump();
    return true;
  } catch {
    return false;
  }
}

/** Gateways started and not yet stopped: stopped if this process exits early (they run in their own group). */
const running = new Set<number>();
process.on('exit', () => {
  for (const pid of running) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One `npm start`: ms to /readyz, RSS after idling, then SIGTERM and wait for the exit. */
async function startOnce(cwd: string, port: number, env: Record<string, string>, idleMs: number): Promise<{ readyMs: number; idleRssMb: number }> {
  // an earlier gateway still on the port would answer for this one
  if (await answers(port)) throw new Error(`something already answers on port ${port}`);
  const t0 = performance.now();
  const child = spawn('npm', ['start'], {
    cwd,
    // its own process group: the stop reaches npm, sh and node alike
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', SHUTDOWN_DRAIN_DELAY_MS: '0', ...env },
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  running.add(child.pid!);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    let readyMs = NaN;
    while (Number.isNaN(readyMs)) {
      if (child.exitCode !== null) throw new Error(`npm start exited (${child.exitCode}): ${stderr}`);
      if (performance.now() - t0 > 300_000) throw new Error(`no /readyz after 300 s: ${stderr}`);
      try {
        // undici's request, not fetch: fetch refuses the ports of the WHATWG "bad ports" list (4190 is one)
        const res = await request(`http://127.0.0.1:${port}/readyz`, { reset: true });
        await res.body.dump();
        if (res.statusCode === 200) readyMs = performance.now() - t0;
      } catch {
        // not listening yet
      }
      if (Number.isNaN(readyMs)) await sleep(5);
    }
    await sleep(idleMs);
    const pid = gatewayPid(child.pid!);
    return { readyMs, idleRssMb: pid ? rssMb(pid) : NaN };
  } finally {
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      // already gone
    }
    const kill = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    }, 20_000);
    await exited;
    clearTimeout(kill);
    running.delete(child.pid!);
  }
}

export async function measureStartup(opts: {
  cwd: string;
  port: number;
  rounds: number;
  /** a PostgreSQL server URL; a database of its own is made and dropped on it */
  postgresUrl: string;
  idleMs?: number;
  log: (msg: string) => void;
}): Promise<StartupResult> {
  const idleMs = opts.idleMs ?? 5000;
  const cases: StartupCase[] = [
    { label: 'embedded PGlite, first start (empty DATA_DIR)', database: 'embedded', first: true, readyMs: [], idleRssMb: [] },
    { label: 'embedded PGlite, restart (same DATA_DIR)', database: 'embedded', first: false, readyMs: [], idleRssMb: [] },
    { label: 'PostgreSQL, first start (empty database)', database: 'postgres', first: true, readyMs: [], idleRssMb: [] },
    { label: 'PostgreSQL, restart', database: 'postgres', first: false, readyMs: [], idleRssMb: [] },
  ];
  const run = async (c: StartupCase, env: Record<string, string>) => {
    const r = await startOnce(opts.cwd, opts.port, env, idleMs);
    c.readyMs.push(r.readyMs);
    c.idleRssMb.push(r.idleRssMb);
    opts.log(`start-up: ${c.label}: /readyz after ${r.readyMs.toFixed(0)} ms, idle RSS ${r.idleRssMb.toFixed(0)} MB`);
  };

  let postgresSkipped: string | undefined;
  const admin = postgres(opts.postgresUrl, { max: 1, onnotice: () => {}, connect_timeout: 3 });
  try {
    await admin`select 1`;
  } catch (e) {
    postgresSkipped = `no PostgreSQL at ${opts.postgresUrl.replace(/\/\/[^@/]*@/, '//…@')}: ${(e as Error).message}`;
  }
  try {
    for (let round = 0; round < opts.rounds; round++) {
      const dataDir = mkdtempSync(join(tmpdir(), 'gw-bench-start-'));
      try {
        await run(cases[0]!, { DATA_DIR: dataDir });
        await run(cases[1]!, { DATA_DIR: dataDir });
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
      if (postgresSkipped) continue;
      const name = `bench_startup_${process.pid}`;
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.unsafe(`create database ${name}`);
      const url = new URL(opts.postgresUrl);
      url.pathname = `/${name}`;
      // DATA_DIR still set: the usage spool lives there
      const spoolDir = mkdtempSync(join(tmpdir(), 'gw-bench-start-'));
      try {
        const env = { DATABASE_URL: url.toString(), GATEWAY_SECRET: SECRET, DATA_DIR: spoolDir };
        await run(cases[2]!, env);
        await run(cases[3]!, env);
      } finally {
        rmSync(spoolDir, { recursive: true, force: true });
        await admin.unsafe(`drop database if exists ${name} with (force)`);
      }
    }
  } finally {
    await admin.end({ timeout: 5 });
  }
  return { cases: postgresSkipped ? cases.filter((c) => c.database === 'embedded') : cases, idleMs, postgresSkipped };
}

export const median = (xs: number[]) => {
  const v = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (!v.length) return NaN;
  return v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
};

/** The goals of issue 28: ms to /readyz and idle MB, by database. */
export const STARTUP_GOALS = { embedded: { readyMs: 2000, idleRssMb: 200 }, postgres: { readyMs: 1000, idleRssMb: 120 } } as const;

export function formatStartup(r: StartupResult): string[] {
  const out = [`Start-up and idle memory: \`npm start\` (already built) to /readyz 200, RSS after ${r.idleMs / 1000} s idle; median of ${r.cases[0]?.readyMs.length ?? 0} rounds (every round in brackets)`];
  const rows = r.cases.map((c) => [
    c.label,
    `${median(c.readyMs).toFixed(0)} (${c.readyMs.map((x) => x.toFixed(0)).join(' ')})`,
    `${median(c.idleRssMb).toFixed(0)} (${c.idleRssMb.map((x) => x.toFixed(0)).join(' ')})`,
    `< ${STARTUP_GOALS[c.database].readyMs} ms, < ${STARTUP_GOALS[c.database].idleRssMb} MB`,
  ]);
  const header = ['case', 'ms to /readyz', 'idle RSS MB', 'goal'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  out.push(line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line));
  if (r.postgresSkipped) out.push(`PostgreSQL cases skipped: ${r.postgresSkipped}`);
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const argv = process.argv.slice(2);
  const opt = (name: string, def: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? def;
  const root = new URL('..', import.meta.url).pathname;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));
  const result = await measureStartup({
    cwd: root,
    port: Number(opt('startup-port', '4190')),
    rounds: Number(opt('startup-rounds', '3')),
    postgresUrl: opt('startup-database', process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres'),
    log: (msg) => process.stderr.write(`[startup] ${msg}\n`),
  });
  console.log(formatStartup(result).join('\n'));
}
