/*
 * A ready-made embedded database for first starts. Creating a cluster (initdb) and running every migration takes
 * seconds of WebAssembly; copying the files they produce takes milliseconds. The build makes the template once
 * (`makeTemplate`) through the same path a first start would take, and a first start on an empty DATA_DIR copies
 * it (`copyTemplate`) when it was made by the installed PGlite; otherwise the start creates the cluster itself.
 * The migrations still run after the copy, so a template older than the migrations is brought up to date.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { chmod, cp, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';

/** Where the build puts the template: dist/<hash>/pglite-template/, beside the migrations the build copies. */
export const DEFAULT_TEMPLATE_DIR = new URL('../../pglite-template', import.meta.url).pathname;

const STAMP = 'stamp.json';
const MIGRATIONS = 'migrations.sha256';
/** The migrations client.ts runs (dist/<hash>/migrations in a build). */
const MIGRATIONS_DIR = new URL('../../migrations', import.meta.url).pathname;
const PGDATA = 'pgdata';

/**
 * What the template's files depend on besides the migrations: a data directory is only readable by the Postgres
 * build that wrote it, and the pgvector extension is part of the cluster.
 */
function templateStamp(): string {
  const require = createRequire(import.meta.url);
  const versionOf = (pkg: string) => {
    // the packages export no package.json: it lies one folder above their entry point (dist/)
    const file = join(dirname(require.resolve(pkg)), '..', 'package.json');
    return `${pkg}@${(JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version}`;
  };
  return JSON.stringify([versionOf('@electric-sql/pglite'), versionOf('@electric-sql/pglite-pgvector')]);
}

/** The migrations a template ran, by content: a template of other migrations is made anew, not reused. */
function migrationsDigest(): string {
  const h = createHash('sha256');
  const walk = (dir: string, rel: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (entry.isDirectory()) walk(join(dir, entry.name), `${rel}${entry.name}/`);
      else h.update(`\0${rel}${entry.name}\0`).update(readFileSync(join(dir, entry.name)));
    }
  };
  walk(MIGRATIONS_DIR, '');
  return h.digest('hex');
}

/**
 * Writes the template into `outDir` (which must not exist yet): a new data directory, migrated, closed. That takes
 * as long as a first start without a template; so a template in one of `reuse` (earlier builds' templates) made by
 * the same PGlite from the same migrations is copied instead.
 */
export async function makeTemplate(outDir: string, reuse: readonly string[] = []): Promise<void> {
  // imported here: client.ts imports this module for copyTemplate
  const { createDatabase } = await import('./client.js');
  mkdirSync(dirname(outDir), { recursive: true });
  const work = mkdtempSync(join(dirname(outDir), `.${basename(outDir)}-`));
  const stamp = templateStamp();
  const migrations = migrationsDigest();
  try {
    const same = reuse.find((dir) => {
      try {
        return readFileSync(join(dir, STAMP), 'utf8') === stamp && readFileSync(join(dir, MIGRATIONS), 'utf8') === migrations;
      } catch {
        return false;
      }
    });
    if (!same || !(await copyTemplate(same, join(work, PGDATA)))) {
      rmSync(join(work, PGDATA), { recursive: true, force: true });
      const database = await createDatabase({ url: undefined, dataDir: work }, { template: false });
      try {
        await database.migrate();
      } finally {
        await database.close();
      }
    }
    writeFileSync(join(work, MIGRATIONS), migrations);
    writeFileSync(join(work, STAMP), stamp);
    // readable by every user: the build may run as another user than the gateway (a container builds as root and
    // runs as `node`), and Postgres writes its files owner-only; copyTemplate makes the copy owner-only again
    readableByAll(work);
    renameSync(work, outDir);
  } catch (e) {
    rmSync(work, { recursive: true, force: true });
    throw e;
  }
}

function readableByAll(path: string): void {
  const st = statSync(path);
  chmodSync(path, st.isDirectory() ? 0o755 : 0o644);
  if (st.isDirectory()) for (const name of readdirSync(path)) readableByAll(join(path, name));
}

/**
 * Copies the template's data directory to `dataDir` (which must not hold a database); false when there is no
 * template or the installed PGlite did not make it. The copy lands beside `dataDir` and is renamed into place, so
 * a start that dies half-way leaves no half-copied database behind. Asynchronous: a thousand files to write, while
 * the start has modules to load.
 */
export async function copyTemplate(templateDir: string, dataDir: string): Promise<boolean> {
  let stamp: string;
  try {
    stamp = await readFile(join(templateDir, STAMP), 'utf8');
  } catch {
    return false;
  }
  if (stamp !== templateStamp() || !existsSync(join(templateDir, PGDATA, 'PG_VERSION'))) return false;
  // anything already in `dataDir` is not ours to replace (the rename below would refuse it too, after the copy)
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0) return false;
  const work = await mkdtemp(join(dirname(dataDir), `.${basename(dataDir)}-`));
  try {
    const copy = join(work, PGDATA);
    await cp(join(templateDir, PGDATA), copy, { recursive: true });
    // a data directory is its owner's alone (Postgres refuses one that others may enter); the template's is readable
    await chmod(copy, 0o700);
    // replaces `dataDir` only when it is missing or empty
    await rename(copy, dataDir);
    return true;
  } catch {
    return false;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
