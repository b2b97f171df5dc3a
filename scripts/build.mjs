/*
 * npm run build: src/ → dist/<hash>/ with esbuild, where <hash> is a digest of everything the build reads.
 *
 * Several `npm start` may run in one checkout at once, and a running instance keeps importing from its build
 * (lazy imports, the PGlite worker, source maps), so a build never deletes or rewrites a folder in use:
 * - unchanged sources: nothing is built, the existing dist/<hash>/ is used again;
 * - changed sources: the new build is written into a fresh temporary folder and renamed into place (atomic),
 *   then dist/current (a one-line text file naming the folder) is replaced by rename (atomic as well);
 * - older builds are removed only when no live process holds a lease on them (scripts/start.mjs writes one).
 *
 * Prints the build folder (relative to the checkout) on stdout.
 */
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { build, version as esbuildVersion } from 'esbuild';
import { buildConsole } from '../console/build.mjs';
import { BUILD_NAME, DIST, readPointer } from './dist-pointer.mjs';

const ROOT = join(DIST, '..');
const POINTER = join(DIST, 'current');
/** The inputs of a build; migrations travel with it (dist/<hash>/src/db/client.js reads ../../migrations), the console is bundled into it. */
const INPUTS = ['src', 'migrations', 'console'];
/** A pointer written this recently may have been read by a start that has not taken its lease yet. */
const POINTER_GRACE_MS = 60_000;
/** A temporary folder this old belongs to a build that died. */
const STALE_TMP_MS = 3_600_000;

function filesUnder(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(path));
    else if (entry.isFile()) out.push(path);
  }
  return out;
}

/** Digest of the inputs, this script and the esbuild version: equal digests give equal builds. */
function inputsHash() {
  const h = createHash('sha256');
  h.update(`esbuild ${esbuildVersion}\0`);
  for (const script of ['build.mjs', 'dist-pointer.mjs']) h.update(readFileSync(join(ROOT, 'scripts', script)));
  const files = INPUTS.flatMap((d) => filesUnder(join(ROOT, d))).sort();
  for (const file of files) {
    h.update(`\0${relative(ROOT, file)}\0`);
    h.update(readFileSync(file));
  }
  return h.digest('hex').slice(0, 16);
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: alive, owned by another user
    return e.code === 'EPERM';
  }
}

/** Leases are files dist/<hash>/.leases/<pid>, written by scripts/start.mjs and removed when it exits. */
function hasLiveLease(folder) {
  let pids;
  try {
    pids = readdirSync(join(folder, '.leases'));
  } catch {
    return false;
  }
  return pids.some((p) => /^\d+$/.test(p) && isAlive(Number(p)));
}

/** Removes builds that are neither current nor leased, and temporary folders of builds that died. */
function removeUnused(current) {
  let pointerAge = 0;
  try {
    pointerAge = Date.now() - statSync(POINTER).mtimeMs;
  } catch {
    // no pointer yet: no start can be reading one
  }
  for (const entry of readdirSync(DIST, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const path = join(DIST, entry.name);
    if (entry.name.startsWith('.tmp-')) {
      if (Date.now() - statSync(path).mtimeMs > STALE_TMP_MS) rmSync(path, { recursive: true, force: true });
      continue;
    }
    if (!BUILD_NAME.test(entry.name) || entry.name === current) continue;
    if (pointerAge < POINTER_GRACE_MS || hasLiveLease(path)) continue;
    // out of sight first (a rename is atomic), so no build reuses a half-deleted folder
    const doomed = join(DIST, `.tmp-old-${entry.name}-${randomBytes(4).toString('hex')}`);
    try {
      renameSync(path, doomed);
    } catch {
      continue;
    }
    rmSync(doomed, { recursive: true, force: true });
  }
}

/** Writes the pointer through a temporary file and a rename, so a reader sees the old name or the new one. */
function writePointer(name) {
  if (readPointer() === name) return;
  const tmp = join(DIST, `.current-${process.pid}-${randomBytes(4).toString('hex')}`);
  writeFileSync(tmp, `${name}\n`);
  renameSync(tmp, POINTER);
}

async function main() {
  mkdirSync(DIST, { recursive: true });
  const name = inputsHash();
  const target = join(DIST, name);
  if (!existsSync(target)) {
    const tmp = join(DIST, `.tmp-${name}-${process.pid}-${randomBytes(4).toString('hex')}`);
    await build({
      absWorkingDir: ROOT,
      entryPoints: ['src/**/*.ts', 'src/db/pglite-worker.mjs'],
      outbase: '.',
      outdir: tmp,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      sourcemap: true,
      loader: { '.mjs': 'copy' },
      logLevel: 'warning',
    });
    cpSync(join(ROOT, 'migrations'), join(tmp, 'migrations'), { recursive: true });
    // the operator's console, beside the server's code: src/http/console/console-files.js reads ../../../console/
    await buildConsole({ outdir: join(tmp, 'console') });
    try {
      renameSync(tmp, target);
    } catch (e) {
      // another build of the same sources got there first: theirs is the same, keep it
      rmSync(tmp, { recursive: true, force: true });
      if (!existsSync(target)) throw e;
    }
  }
  writePointer(name);
  removeUnused(name);
  process.stderr.write(`${relative(ROOT, target)}\n`);
}

await main();
