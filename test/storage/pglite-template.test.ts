/*
 * Embedded PGlite's first start from the build's template (src/db/pglite-template.ts) against one that creates the
 * cluster and runs the migrations, and a restart on an existing data directory.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, PGLITE_SHARED_BUFFERS, type Database } from '../../src/db/client.js';
import { copyTemplate, makeTemplate } from '../../src/db/pglite-template.js';
import { rowsOf } from '../../src/db/rows-of.js';

/** What a database's schema is made of, each part as sorted text; and the migration journal. */
const FINGERPRINT = {
  columns: sql`select table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '') as x
    from information_schema.columns where table_schema in ('public', 'drizzle') order by 1`,
  constraints: sql`select conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid) as x
    from pg_constraint where connamespace in ('public'::regnamespace, 'drizzle'::regnamespace) order by 1`,
  indexes: sql`select indexdef as x from pg_indexes where schemaname in ('public', 'drizzle') order by 1`,
  functions: sql`select pg_get_functiondef(p.oid) as x from pg_proc p where pronamespace = 'public'::regnamespace order by 1`,
  triggers: sql`select pg_get_triggerdef(oid) as x from pg_trigger where not tgisinternal order by 1`,
  partitions: sql`select inhrelid::regclass::text || ' of ' || inhparent::regclass::text as x from pg_inherits order by 1`,
  extensions: sql`select extname || ' ' || extversion as x from pg_extension order by 1`,
  journal: sql`select id || ' ' || hash || ' ' || created_at as x from drizzle.__drizzle_migrations order by id`,
};

async function fingerprint(database: Database): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const [part, query] of Object.entries(FINGERPRINT)) out[part] = rowsOf<{ x: string }>(await database.db.execute(query)).map((r) => r.x);
  return out;
}

const one = async <T>(database: Database, query: ReturnType<typeof sql>) => rowsOf<T>(await database.db.execute(query))[0]!;

describe('embedded PGlite: first start from a template, restart', () => {
  const root = mkdtempSync(join(tmpdir(), 'gw-template-'));
  const template = join(root, 'template');

  beforeAll(async () => {
    await makeTemplate(template);
    // a first start on a loaded 2-core machine: creating the cluster and 12 migrations in WebAssembly
  }, 180_000);

  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('a first start from the template has the schema and migration journal of one that ran initdb and the migrations', async () => {
    const copied = await createDatabase({ url: undefined, dataDir: join(root, 'copied') }, { template });
    let fromTemplate;
    try {
      await copied.migrate();
      fromTemplate = await fingerprint(copied);
    } finally {
      await copied.close();
    }
    // the other path: initdb and every migration, here in memory
    const made = await createDatabase({ url: 'memory://', dataDir: '' });
    let fromInitdb;
    try {
      await made.migrate();
      fromInitdb = await fingerprint(made);
    } finally {
      await made.close();
    }
    expect(fromTemplate.journal.length).toBeGreaterThan(10);
    expect(fromTemplate.functions.length).toBeGreaterThan(0);
    expect(fromTemplate).toEqual(fromInitdb);
  }, 180_000);

  it('a first start copies the template, and a restart opens the files it finds', async () => {
    // a marked copy of the template: the mark shows which files a start opened
    const marked = join(root, 'marked');
    cpSync(template, marked, { recursive: true });
    const marking = await createDatabase({ url: undefined, dataDir: marked }, { template: false });
    await marking.db.execute(sql`create table template_mark (v text)`);
    await marking.db.execute(sql`insert into template_mark values ('template')`);
    await marking.close();

    const dataDir = join(root, 'restarted');
    const first = await createDatabase({ url: undefined, dataDir }, { template: marked });
    try {
      await first.migrate();
      expect(await one(first, sql`select v from template_mark`)).toEqual({ v: 'template' });
      await first.db.execute(sql`update template_mark set v = 'written after the first start'`);
      expect(await one(first, sql`select current_setting('shared_buffers') as v`)).toEqual({ v: PGLITE_SHARED_BUFFERS });
    } finally {
      await first.close();
    }
    // nothing half-copied is left beside the data directory
    expect(readdirSync(dataDir)).toEqual(['pgdata']);

    // a build whose PGlite and migrations are those of an earlier build's template copies it instead of making one
    const reused = join(root, 'reused');
    await makeTemplate(reused, [join(root, 'missing'), marked]);
    const fromReused = await createDatabase({ url: undefined, dataDir: join(root, 'from-reused') }, { template: reused });
    try {
      expect(await one(fromReused, sql`select v from template_mark`)).toEqual({ v: 'template' });
    } finally {
      await fromReused.close();
    }

    const again = await createDatabase({ url: undefined, dataDir, pgliteSharedBuffers: '8MB' }, { template: marked });
    try {
      const applied = await one<{ n: number }>(again, sql`select count(*)::int as n from drizzle.__drizzle_migrations`);
      await again.migrate();
      expect(await one(again, sql`select count(*)::int as n from drizzle.__drizzle_migrations`)).toEqual(applied);
      // the restart found its own files, not a fresh copy of the template
      expect(await one(again, sql`select v from template_mark`)).toEqual({ v: 'written after the first start' });
      expect(await one(again, sql`select current_setting('shared_buffers') as v`)).toEqual({ v: '8MB' });
    } finally {
      await again.close();
    }
  }, 120_000);

  it('a template another PGlite made, or none, is not copied', async () => {
    const other = join(root, 'other');
    cpSync(template, other, { recursive: true });
    writeFileSync(join(other, 'stamp.json'), JSON.stringify(['@electric-sql/pglite@0.0.1']));
    const target = join(root, 'not-copied');
    mkdirSync(target);
    expect(await copyTemplate(other, join(target, 'pgdata'))).toBe(false);
    expect(await copyTemplate(join(root, 'missing'), join(target, 'pgdata'))).toBe(false);
    expect(existsSync(join(target, 'pgdata'))).toBe(false);
    expect(readdirSync(target)).toEqual([]);
    // a data directory that already holds files is never replaced
    mkdirSync(join(target, 'pgdata'));
    writeFileSync(join(target, 'pgdata', 'somebody-elses'), '');
    expect(await copyTemplate(template, join(target, 'pgdata'))).toBe(false);
    expect(readdirSync(join(target, 'pgdata'))).toEqual(['somebody-elses']);
    expect(readdirSync(target)).toEqual(['pgdata']);
  });
});

describe('the build makes the template', () => {
  it('`node scripts/build.mjs` leaves a template in the current build that a first start copies', async () => {
    const env = { ...process.env };
    delete env.BUILD_PGLITE_TEMPLATE;
    execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: process.cwd(), env, stdio: 'pipe' });
    const current = readFileSync(join(process.cwd(), 'dist', 'current'), 'utf8').trim();
    const dir = mkdtempSync(join(tmpdir(), 'gw-template-build-'));
    try {
      const template = join(process.cwd(), 'dist', current, 'pglite-template');
      // readable by every user (an image builds as root and runs as another user), Postgres' owner-only files included
      for (const file of ['stamp.json', 'pgdata/global/pg_control']) expect(statSync(join(template, file)).mode & 0o004).toBe(0o004);
      expect(statSync(join(template, 'pgdata')).mode & 0o005).toBe(0o005);
      expect(await copyTemplate(template, join(dir, 'data'))).toBe(true);
      expect(existsSync(join(dir, 'data', 'PG_VERSION'))).toBe(true);
      // the copy is its owner's alone again
      expect(statSync(join(dir, 'data')).mode & 0o777).toBe(0o700);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);
});
