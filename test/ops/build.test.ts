/* npm start in one checkout, several times at once: a build never pulls files from under a running or starting
 * instance, an unchanged checkout is not rebuilt, and old builds go once no instance uses them. Each test works in
 * its own copy of the checkout (package.json, scripts, src, migrations; node_modules linked). */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = process.cwd();

/** The environment a user's shell would give `npm start`: no vitest variables, an in-memory database, any port. */
function startEnv(): NodeJS.ProcessEnv {
  // no embedded database on disk here, so no build needs the first start's template (test/storage/pglite-template.test.ts)
  return { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: 'memory://', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'warn', BUILD_PGLITE_TEMPLATE: 'off' };
}

function copyCheckout(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gw-build-'));
  for (const entry of ['package.json', 'scripts', 'src', 'migrations', 'console']) {
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
  } catch {
    // the group is gone already
  }
  await i.exited;
}

/** Builds and answers the build folder it names on stderr; stdout stays empty, so `npm start | jq` reads only JSON logs. */
const build = async (dir: string) => {
  const { stdout, stderr } = await run('npm', ['run', '--silent', 'build'], { cwd: dir, env: startEnv() });
  expect(stdout).toBe('');
  return stderr.trim().split('\n').at(-1)!;
};
/** A source change, so the next build is a new one. */
const touchSources = (dir: string, n: number) => appendFileSync(join(dir, 'src', 'main.ts'), `\n// change ${n}\n`);

describe('npm start, several at once in one checkout', () => {
  const dirs: string[] = [];
  const instances: Instance[] = [];
  afterEach(async () => {
    await Promise.all(instances.splice(0).map(stop));
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('skips the build when nothing changed', async () => {
    const dir = copyCheckout();
    dirs.push(dir);
    const first = await build(dir);
    expect(first).toMatch(/^dist\/[0-9a-f]{16}$/);
    const main = join(dir, first, 'src', 'main.js');
    const built = statSync(main).mtimeMs;
    // the console is bundled into the build, beside the server's code that serves it
    const manifest = JSON.parse(readFileSync(join(dir, first, 'console', 'manifest.json'), 'utf8')) as Record<string, string>;
    expect(manifest['index.html']).toContain('text/html');
    for (const name of Object.keys(manifest)) expect(existsSync(join(dir, first, 'console', name)), name).toBe(true);
    expect(await build(dir)).toBe(first);
    // not rebuilt: the same file, untouched
    expect(statSync(main).mtimeMs).toBe(built);
    touchSources(dir, 1);
    const second = await build(dir);
    expect(second).not.toBe(first);
    expect(readFileSync(join(dir, 'dist', 'current'), 'utf8').trim()).toBe(second.slice('dist/'.length));
  });

  it('an unchanged checkout is recognised from the inputs list alone, without loading esbuild or reading the sources', async () => {
    const dir = copyCheckout();
    dirs.push(dir);
    // a whole second, which a file's time can be set back to exactly
    const main = join(dir, 'src', 'main.ts');
    const time = Math.floor(Date.now() / 1000) - 60;
    utimesSync(main, time, time);
    const first = await build(dir);
    // esbuild's package.json stays (its version is part of the inputs), its code goes: importing it would fail
    unlinkSync(join(dir, 'node_modules'));
    mkdirSync(join(dir, 'node_modules', 'esbuild'), { recursive: true });
    cpSync(join(ROOT, 'node_modules', 'esbuild', 'package.json'), join(dir, 'node_modules', 'esbuild', 'package.json'));
    expect(await build(dir)).toBe(first);
    // the same size and time with other contents: only a check that read the files would see it
    const { size } = statSync(main);
    writeFileSync(main, readFileSync(main, 'utf8').replace(/\S(?=\s*$)/, (c) => (c === ';' ? '}' : ';')));
    expect(statSync(main).size).toBe(size);
    utimesSync(main, time, time);
    expect(await build(dir)).toBe(first);
    // the contents back, at a new time: the digest matches the build (still no esbuild), whose list takes the new time
    writeFileSync(main, readFileSync(join(ROOT, 'src', 'main.ts')));
    expect(await build(dir)).toBe(first);
    const listed = JSON.parse(readFileSync(join(dir, first, 'inputs.json'), 'utf8')) as { files: Array<[string, number, number]> };
    expect(listed.files.find(([f]) => f === 'src/main.ts')?.[2]).toBe(statSync(main).mtimeMs);
  });

  // one real `npm start`: on an idle machine about 5 s, far more on a loaded one (importing and starting the app)
  it('an instance starts while builds of changed sources are swapped in, and its build stays until it stops', async () => {
    const dir = copyCheckout();
    dirs.push(dir);
    const a = npmStart(dir);
    instances.push(a);
    // builds (what every other `npm start` does first) run back to back while instance A builds, loads and starts
    let rounds = 0;
    let settled = false;
    void a.ready.then(() => (settled = true));
    while (!settled && rounds < 8) {
      touchSources(dir, ++rounds);
      await build(dir);
    }
    const url = await a.ready;
    expect(a.output()).not.toContain('ERR_MODULE_NOT_FOUND');
    expect(url, `instance A did not start:\n${a.output()}`).toBeDefined();
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    // the console comes from the build's own bundle
    const page = await (await fetch(`${url}/console/`)).text();
    const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(page)?.[1];
    expect(script, page).toBeDefined();
    expect((await fetch(`${url}${script}`)).status).toBe(200);

    // A holds a lease on the build it runs from; a newer build becomes current
    const builds = () => readdirSync(join(dir, 'dist')).filter((n) => /^[0-9a-f]{16}$/.test(n));
    const leases = (n: string) => (existsSync(join(dir, 'dist', n, '.leases')) ? readdirSync(join(dir, 'dist', n, '.leases')) : []);
    const leased = builds().filter((n) => leases(n).length > 0);
    expect(leased).toHaveLength(1);
    touchSources(dir, rounds + 1);
    const latest = (await build(dir)).slice('dist/'.length);
    expect(latest).not.toBe(leased[0]);
    // the pointer is old enough for any start that read it to hold its lease by now: unused builds may go
    const past = new Date(Date.now() - 10 * 60_000);
    utimesSync(join(dir, 'dist', 'current'), past, past);
    await build(dir);
    expect(builds().sort()).toEqual([leased[0], latest].sort());
    expect((await fetch(`${url}/healthz`)).status).toBe(200);

    await stop(a);
    // npm may exit before its node child has finished its graceful stop: the lease goes when that process exits
    for (let t = Date.now(); leases(leased[0]).length > 0 && Date.now() - t < 20_000; ) await new Promise((r) => setTimeout(r, 100));
    expect(leases(leased[0])).toEqual([]);
    await build(dir);
    expect(builds()).toEqual([latest]);
  }, 120_000);
});
