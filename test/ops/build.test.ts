/* npm start in one checkout, several times at once: a build never pulls files from under a running or starting
 * instance, an unchanged checkout is not rebuilt, and old builds go once no instance uses them. Each test works in
 * its own copy of the checkout (package.json, scripts, src, migrations; node_modules linked). */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = process.cwd();

/** The environment a user's shell would give `npm start`: no vitest variables, an in-memory database, any port. */
function startEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: 'memory://', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'warn' };
}

function copyCheckout(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gw-build-'));
  for (const entry of ['package.json', 'scripts', 'src', 'migrations']) {
    if (existsSync(join(ROOT, entry))) cpSync(join(ROOT, entry), join(dir, entry), { recursive: true });
  }
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return dir;
}

interface Instance {
  proc: ChildProcess;
  /** Everything it printed (both streams). */
  output: () => string;
  /** Resolves with the base URL once it listens, or with undefined when it exits first. */
  ready: Promise<string | undefined>;
  exited: Promise<number | null>;
}

/** `npm start` in `dir`, in its own process group so that stopping it stops npm, the shell and node. */
function npmStart(dir: string): Instance {
  const proc = spawn('npm', ['start'], { cwd: dir, env: startEnv(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let onOutput = () => {};
  const collect = (b: Buffer) => {
    out += b.toString();
    onOutput();
  };
  proc.stdout!.on('data', collect);
  proc.stderr!.on('data', collect);
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const ready = new Promise<string | undefined>((resolve) => {
    onOutput = () => {
      const m = /GraphQL AI gateway on (http:\/\/\S+)\/graphql/.exec(out);
      if (m) resolve(m[1]);
    };
    void exited.then(() => resolve(undefined));
  });
  return { proc, output: () => out, ready, exited };
}

async function stop(i: Instance): Promise<void> {
  if (i.proc.exitCode !== null || i.proc.signalCode !== null) return;
  try {
    process.kill(-i.proc.pid!, 'SIGTERM');
  } catch {}
  await i.exited;
}

const build = async (dir: string) => (await run('npm', ['run', '--silent', 'build'], { cwd: dir, env: startEnv() })).stdout.trim();
/** A source change, so the next build is a new one. */
const touchSources = (dir: string, n: number) => appendFileSync(join(dir, 'src', 'main.ts'), `\n// change ${n}\n`);

describe('npm start, several at once in one checkout', () => {
  const dirs: string[] = [];
  const instances: Instance[] = [];
  afterEach(async () => {
    await Promise.all(instances.splice(0).map(stop));
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('an instance starts and serves while other builds of changed sources are swapped in meanwhile', async () => {
    const dir = copyCheckout();
    dirs.push(dir);
    const a = npmStart(dir);
    instances.push(a);
    // builds run back to back for as long as instance A builds, loads its modules and starts
    let rounds = 0;
    let settled = false;
    void a.ready.then(() => (settled = true));
    while (!settled && rounds < 12) {
      touchSources(dir, ++rounds);
      await build(dir);
    }
    const url = await a.ready;
    expect(a.output()).not.toContain('ERR_MODULE_NOT_FOUND');
    expect(url, `instance A did not start:\n${a.output()}`).toBeDefined();
    expect(rounds).toBeGreaterThan(0);

    // a second npm start with changed sources builds and starts beside it; both serve
    touchSources(dir, ++rounds);
    const b = npmStart(dir);
    instances.push(b);
    const urlB = await b.ready;
    expect(urlB, `instance B did not start:\n${b.output()}`).toBeDefined();
    for (const u of [url, urlB]) expect((await fetch(`${u}/healthz`)).status).toBe(200);
    expect(a.output() + b.output()).not.toContain('ERR_MODULE_NOT_FOUND');
  }, 60_000);

  it('skips the build when nothing changed and keeps an old build while an instance runs from it', async () => {
    const dir = copyCheckout();
    dirs.push(dir);
    const first = await build(dir);
    expect(first).toMatch(/^dist\/[0-9a-f]{16}$/);
    const main = join(dir, first, 'src', 'main.js');
    const built = statSync(main).mtimeMs;
    expect(await build(dir)).toBe(first);
    // not rebuilt: the same file, untouched
    expect(statSync(main).mtimeMs).toBe(built);

    const a = npmStart(dir);
    instances.push(a);
    expect(await a.ready, a.output()).toBeDefined();
    touchSources(dir, 1);
    const second = await build(dir);
    expect(second).not.toBe(first);
    expect(readFileSync(join(dir, 'dist', 'current'), 'utf8').trim()).toBe(second.slice('dist/'.length));
    // the pointer is old enough for any start that read it to hold its lease: old builds may go now
    const past = new Date(Date.now() - 10 * 60_000);
    utimesSync(join(dir, 'dist', 'current'), past, past);
    expect(await build(dir)).toBe(second);
    // instance A still runs from the first build: it stays
    expect(existsSync(main)).toBe(true);

    await stop(a);
    await build(dir);
    expect(existsSync(join(dir, first))).toBe(false);
    expect(existsSync(join(dir, second, 'src', 'main.js'))).toBe(true);
  }, 60_000);
});
