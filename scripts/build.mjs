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
 * Whether the sources changed is first asked of the current build's inputs list (dist/<hash>/inputs.json: each
 * input's path, size and modification time, written with the build): when every entry still matches, nothing is
 * read or hashed and esbuild is not loaded, which keeps an unchanged `npm start` cheap. Like make, an edit that keeps
 * a file's size and time is not seen; any other difference falls back to the digest of the contents.
 *
 * Prints the build folder (relative to the checkout) on stderr.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { BUILD_NAME, DIST, readPointer } from './dist-pointer.mjs';

const ROOT = join(DIST, '..');
const POINTER = join(DIST, 'current');
/** The inputs of a build; migrations travel with it (dist/<hash>/src/db/client.js reads ../../migrations), the console is bundled into it. */
const INPUTS = ['src', 'migrations', 'console'];
/** The scripts that make a build: a change to one of them is a new build too. */
const SCRIPTS = ['scripts/build.mjs', 'scripts/build-bundle.mjs', 'scripts/dist-pointer.mjs'];
/** Written into each build: what it was built from, for the cheap comparison. */
const INPUTS_LIST = 'inputs.json';
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

/** Read from its package.json: importing esbuild to ask would cost what the cheap check saves. */
function esbuildVersion() {
  const require = createRequire(import.meta.url);
  return JSON.parse(readFileSync(require.resolve('esbuild/package.json'), 'utf8')).version;
}

/** Every file a build reads (relative to the checkout, sorted), with its size and modification time. */
function currentInputs() {
  const files = [...SCRIPTS.map((s) => join(ROOT, s)), ...INPUTS.flatMap((d) => filesUnder(join(ROOT, d))).sort()];
  return {
    esbuild: esbuildVersion(),
    files: files.map((file) => {
      const st = statSync(file);
      return [relative(ROOT, file), st.size, st.mtimeMs];
    }),
  };
}

/** The inputs list a build was made from, or undefined (none written, or unreadable). */
function builtInputs(name) {
  try {
    return JSON.parse(readFileSync(join(DIST, name, INPUTS_LIST), 'utf8'));
  } catch {
    return undefined;
  }
}

const sameInputs = (a, b) => a !== undefined && JSON.stringify(a) === JSON.stringify(b);

/** Digest of the inputs' contents and the esbuild version: equal digests give equal builds. */
function inputsHash(inputs) {
  const h = createHash('sha256');
  h.update(`esbuild ${inputs.esbuild}\0`);
  for (const [file] of inputs.files) {
    h.update(`\0${file}\0`);
    h.update(readFileSync(join(ROOT, file)));
  }
  return h.digest('hex').slice(0, 16);
}

/** Writes a build's inputs list through a temporary file and a rename: a reader sees a whole list or the old one. */
function writeInputs(folder, inputs) {
  const tmp = join(folder, `.${INPUTS_LIST}-${process.pid}-${randomBytes(4).toString('hex')}`);
  writeFileSync(tmp, `${JSON.stringify(inputs)}\n`);
  renameSync(tmp, join(folder, INPUTS_LIST));
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

/** The build folder's name for the sources as they are, building it first when no build of them exists. */
async function ensureBuild() {
  mkdirSync(DIST, { recursive: true });
  const inputs = currentInputs();
  const current = readPointer();
  if (current && existsSync(join(DIST, current)) && sameInputs(builtInputs(current), inputs)) return current;
  const name = inputsHash(inputs);
  const target = join(DIST, name);
  if (existsSync(target)) {
    // same contents, other times (a checkout, a touch): the next start takes the cheap path again
    if (!sameInputs(builtInputs(name), inputs)) writeInputs(target, inputs);
    return name;
  }
  const tmp = join(DIST, `.tmp-${name}-${process.pid}-${randomBytes(4).toString('hex')}`);
  const { buildInto } = await import('./build-bundle.mjs');
  // BUILD_PGLITE_TEMPLATE=off leaves the first start's database out (a first start then creates it): for builds that
  // never start on an embedded database on disk, such as the build tests'
  const templates =
    process.env.BUILD_PGLITE_TEMPLATE === 'off'
      ? null
      : readdirSync(DIST)
          .filter((n) => BUILD_NAME.test(n))
          .map((n) => join(DIST, n, 'pglite-template'));
  await buildInto({ root: ROOT, outdir: tmp, templates });
  writeInputs(tmp, inputs);
  try {
    renameSync(tmp, target);
  } catch (e) {
    // another build of the same sources got there first: theirs is the same, keep it
    rmSync(tmp, { recursive: true, force: true });
    if (!existsSync(target)) throw e;
  }
  return name;
}

async function main() {
  const name = await ensureBuild();
  writePointer(name);
  removeUnused(name);
  process.stderr.write(`${relative(ROOT, join(DIST, name))}\n`);
}

await main();
