/*
 * N gateway processes on one PostgreSQL and one Redis behind HAProxy, on this machine: what `npm run cluster`
 * (scripts/cluster.mjs) runs, and what the cluster tests drive (kill an instance, start it again on the same port
 * and spool, watch the load balancer take it out and back).
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { findHaproxy, renderHaproxyConfig } from './cluster-haproxy.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** What `npm start` runs after its build (package.json). */
const BUILT_GATEWAY = ['--max-semi-space-size=64', '--no-allocation-site-pretenuring', 'scripts/start.mjs'];
/**
 * HAProxy takes an instance out after `fall 2` failed checks `inter 500ms` apart (deploy/haproxy.cfg): about 1 s,
 * plus a check's own timeout. A draining instance keeps serving this long before closing its listener, so the load
 * balancer has stopped sending to it by then.
 */
const DRAIN_DELAY_MS = 2000;
/** The first start of an instance runs the migrations; under `--import tsx` it also compiles everything. */
const READY_TIMEOUT_MS = 120_000;
const TAIL_LINES = 40;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function freePort() {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolvePort(port));
    });
  });
}

/** A child process whose output lines go to a log file and a callback, with its last lines kept for errors. */
function supervise(child, name, index, { logDir, onLine }) {
  const file = logDir ? createWriteStream(join(logDir, `${name}.log`), { flags: 'a' }) : undefined;
  const tail = [];
  for (const stream of ['stdout', 'stderr']) {
    createInterface({ input: child[stream], crlfDelay: Infinity }).on('line', (line) => {
      file?.write(`${line}\n`);
      tail.push(line);
      if (tail.length > TAIL_LINES) tail.shift();
      onLine?.(line, { name, index, stream });
    });
  }
  const exited = new Promise((r) =>
    child.once('exit', (code, signal) => {
      file?.end();
      r({ code, signal });
    }),
  );
  return { exited, tail: () => tail.join('\n') };
}

async function isReady(url) {
  try {
    const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

/** Resolves once `url`/readyz answers 200; rejects if the process exits first or the time runs out. */
async function waitReady(url, exited, describe, timeoutMs = READY_TIMEOUT_MS) {
  let gone;
  exited.then((e) => (gone = e));
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (gone) throw new Error(`${describe()} exited (code ${gone.code}, signal ${gone.signal}) before it was ready`);
    if (await isReady(url)) return;
    await sleep(150);
  }
  throw new Error(`${describe()} was not ready within ${timeoutMs / 1000} s`);
}

/** The built gateway's command, after making sure the build is current (scripts/build.mjs skips an unchanged one). */
function builtGateway() {
  const build = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`npm run build failed:\n${build.stderr}`);
  return BUILT_GATEWAY;
}

function createInstance(index, port, ctx) {
  const name = `gw${index}`;
  const url = `http://127.0.0.1:${port}`;
  const spoolDir = join(ctx.spoolRoot, String(index));
  let child;
  let proc;
  const running = () => child !== undefined && child.exitCode === null && child.signalCode === null;
  const instance = {
    index,
    name,
    port,
    url,
    spoolDir,
    get pid() {
      return running() ? child.pid : undefined;
    },
    get running() {
      return running();
    },
    /** Resolves when the current process has exited (at once when none runs). */
    get exited() {
      return proc ? proc.exited : Promise.resolve({ code: null, signal: null });
    },
    /** Starts the instance on its port and spool folder; resolves when its /readyz answers 200. */
    async start() {
      if (running()) throw new Error(`${name} is already running (pid ${child.pid})`);
      mkdirSync(spoolDir, { recursive: true });
      const env = {
        ...process.env,
        SHUTDOWN_DRAIN_DELAY_MS: String(DRAIN_DELAY_MS),
        ...ctx.env,
        PORT: String(port),
        HOST: '127.0.0.1',
        DATABASE_URL: ctx.databaseUrl,
        REDIS_URL: ctx.redisUrl,
        USAGE_SPOOL_DIR: spoolDir,
        GATEWAY_SECRET: ctx.secret,
        GATEWAY_ADMIN_KEY: ctx.adminKey,
      };
      child = spawn(process.execPath, ctx.command, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: ctx.detached });
      ctx.children.add(child);
      const c = child;
      proc = supervise(c, name, index, ctx);
      proc.exited.then(() => ctx.children.delete(c));
      await waitReady(url, proc.exited, () => `${name} (${url})\n${proc.tail()}\n---`);
    },
    /** Sends a signal (default SIGKILL); resolves when the process has exited (so never for SIGSTOP: do not await that). */
    async kill(signal = 'SIGKILL') {
      if (!running()) return { code: child?.exitCode ?? null, signal: child?.signalCode ?? null };
      const done = proc.exited;
      child.kill(signal);
      return done;
    },
    /** SIGTERM (a graceful drain), then SIGKILL if it is still running after `timeoutMs`. */
    async stop(timeoutMs = 30_000) {
      if (!running()) return;
      const done = proc.exited;
      child.kill('SIGTERM');
      const late = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      try {
        return await done;
      } finally {
        clearTimeout(late);
      }
    },
  };
  return instance;
}

/** HAProxy's view of its servers, from the stats page's CSV: server name → status (UP, DOWN, MAINT, "UP 1/2", …). */
async function serverStates(statsUrl) {
  const res = await fetch(`${statsUrl}/;csv`, { signal: AbortSignal.timeout(2000) });
  const text = await res.text();
  const [header, ...rows] = text.split('\n').filter(Boolean);
  const cols = header.replace(/^# /, '').split(',');
  const at = (name) => cols.indexOf(name);
  const states = {};
  for (const row of rows) {
    const f = row.split(',');
    if (f[at('pxname')] === 'gateways' && !['FRONTEND', 'BACKEND'].includes(f[at('svname')])) states[f[at('svname')]] = f[at('status')];
  }
  return states;
}

async function startHaproxy(bin, instances, ctx) {
  const statsPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'gw-haproxy-'));
  const cfg = join(dir, 'haproxy.cfg');
  writeFileSync(
    cfg,
    renderHaproxyConfig({
      bind: `127.0.0.1:${ctx.port}`,
      statsBind: `127.0.0.1:${statsPort}`,
      servers: instances.map((i) => ({ name: i.name, address: `127.0.0.1:${i.port}` })),
    }),
  );
  // -db: in the foreground, not a daemon, so it is our child and dies with a signal from us
  const child = spawn(bin, ['-db', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'], detached: ctx.detached });
  ctx.children.add(child);
  const proc = supervise(child, 'haproxy', undefined, ctx);
  const statsUrl = `http://127.0.0.1:${statsPort}`;
  const haproxy = {
    pid: child.pid,
    url: `http://127.0.0.1:${ctx.port}`,
    statsUrl,
    configFile: cfg,
    exited: proc.exited,
    states: () => serverStates(statsUrl),
    /** Resolves when HAProxy reports `server` with exactly `status` (UP, DOWN; not a transition such as "UP 1/2"). */
    async waitFor(server, status, timeoutMs = 10_000) {
      const until = Date.now() + timeoutMs;
      let last;
      while (Date.now() < until) {
        last = await serverStates(statsUrl).catch(() => ({}));
        if (last[server] === status) return;
        await sleep(100);
      }
      throw new Error(`HAProxy did not report ${server} ${status} within ${timeoutMs} ms (last: ${JSON.stringify(last)})`);
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await proc.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
  let gone;
  proc.exited.then((e) => (gone = e));
  const until = Date.now() + 10_000;
  for (;;) {
    if (gone) throw new Error(`haproxy exited (code ${gone.code}) at start-up:\n${proc.tail()}`);
    const states = await serverStates(statsUrl).catch(() => undefined);
    // exactly UP: a server HAProxy has not checked yet shows "UP 1/2"
    if (states && instances.every((i) => states[i.name] === 'UP')) return haproxy;
    if (Date.now() > until) throw new Error(`HAProxy did not see every instance up within 10 s: ${JSON.stringify(states)}`);
    await sleep(100);
  }
}

/**
 * Starts `instances` gateways and HAProxy in front of them; resolves when every instance is ready and HAProxy sees
 * them all up.
 *
 * @param {object} opts
 * @param {number} [opts.instances=3]
 * @param {number} [opts.port=8080] the load balancer's port on 127.0.0.1; 0 picks a free one
 * @param {string} opts.databaseUrl
 * @param {string} opts.redisUrl
 * @param {Record<string, string>} [opts.env] extra environment of every instance (GATEWAY_SECRET and
 *   GATEWAY_ADMIN_KEY here are shared by all; generated when absent, see the result's `generated`)
 * @param {string} [opts.spoolRoot] instance i spools into spoolRoot/i (default: a new temporary folder, removed by stop())
 * @param {string[]} [opts.command] node's arguments (default: the built gateway, built first if needed)
 * @param {string} [opts.logDir] each process's output goes to logDir/<name>.log (gw0.log …, haproxy.log)
 * @param {(line: string, from: { name: string, index?: number, stream: 'stdout' | 'stderr' }) => void} [opts.onLine]
 * @param {boolean} [opts.detached] children in process groups of their own: a terminal's Ctrl-C then reaches only
 *   the caller, which stops them in order (npm run cluster)
 */
export async function startCluster(opts) {
  const bin = findHaproxy();
  if (!bin) throw new Error('haproxy is not installed (Debian/Ubuntu: apt-get install haproxy)');
  if (!opts?.databaseUrl || !opts.redisUrl) throw new Error('startCluster: databaseUrl and redisUrl are required');
  const count = opts.instances ?? 3;
  const env = { ...opts.env };
  const secret = env.GATEWAY_SECRET || process.env.GATEWAY_SECRET || randomBytes(32).toString('base64url');
  const adminKey = env.GATEWAY_ADMIN_KEY || process.env.GATEWAY_ADMIN_KEY || `gw_${randomBytes(24).toString('base64url')}`;
  const generated = {
    secret: !(env.GATEWAY_SECRET || process.env.GATEWAY_SECRET),
    adminKey: !(env.GATEWAY_ADMIN_KEY || process.env.GATEWAY_ADMIN_KEY),
  };
  if (opts.logDir) mkdirSync(opts.logDir, { recursive: true });
  const ctx = {
    env,
    secret,
    adminKey,
    databaseUrl: opts.databaseUrl,
    redisUrl: opts.redisUrl,
    spoolRoot: resolve(opts.spoolRoot ?? mkdtempSync(join(tmpdir(), 'gw-spool-'))),
    ownSpoolRoot: opts.spoolRoot === undefined,
    command: opts.command ?? builtGateway(),
    logDir: opts.logDir,
    onLine: opts.onLine,
    detached: opts.detached ?? false,
    port: opts.port === 0 ? await freePort() : (opts.port ?? 8080),
    children: new Set(),
  };
  // a test runner that dies must not leave gateways and a load balancer behind
  const killChildren = () => {
    for (const c of ctx.children) c.kill('SIGKILL');
  };
  process.on('exit', killChildren);

  const ports = [];
  for (let i = 0; i < count; i++) ports.push(await freePort());
  const instances = ports.map((port, i) => createInstance(i, port, ctx));
  let haproxy;
  const stop = async () => {
    await Promise.all(instances.map((i) => i.stop()));
    await haproxy?.stop();
    process.off('exit', killChildren);
    // a temporary spool nobody will start on again; a caller's own spoolRoot is left for the next start
    if (ctx.ownSpoolRoot) rmSync(ctx.spoolRoot, { recursive: true, force: true });
  };
  try {
    // the first instance alone runs the migrations (the others would wait on the migration lock anyway)
    await instances[0].start();
    await Promise.all(instances.slice(1).map((i) => i.start()));
    haproxy = await startHaproxy(bin, instances, ctx);
  } catch (e) {
    killChildren();
    await Promise.all([...instances.map((i) => i.exited), haproxy?.exited]);
    process.off('exit', killChildren);
    throw e;
  }
  return { url: haproxy.url, instances, haproxy, secret, adminKey, generated, spoolRoot: ctx.spoolRoot, stop };
}
