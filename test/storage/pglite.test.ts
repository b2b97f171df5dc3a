/* The storage suite on embedded PGlite: in memory, and on disk under a DATA_DIR that survives a restart. */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startGateway } from '../kit/start-gateway.js';
import { storageSuite } from './suite.js';

storageSuite({
  name: 'PGlite in memory (memory://)',
  shared: false,
  persistent: false,
  async fresh() {
    return { env: { DATABASE_URL: 'memory://' } };
  },
  async cleanup() {},
});

const dirs: string[] = [];
function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gw-data-'));
  dirs.push(dir);
  return dir;
}

storageSuite({
  name: 'PGlite on disk (DATA_DIR, generated GATEWAY_SECRET)',
  shared: false,
  persistent: true,
  async fresh() {
    // no DATABASE_URL and no GATEWAY_SECRET: embedded PGlite under DATA_DIR, secret generated into it
    return { env: { DATABASE_URL: undefined, DATA_DIR: freshDir(), GATEWAY_SECRET: undefined } };
  },
  async cleanup() {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  },
});

describe('embedded DATA_DIR', () => {
  afterAll(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('holds the database files and a generated secret (0600)', async () => {
    const dir = freshDir();
    const gw = await startGateway({ DATABASE_URL: undefined, DATA_DIR: dir, GATEWAY_SECRET: undefined });
    await gw.stop();
    const file = join(dir, 'gateway-secret');
    expect(existsSync(join(dir, 'pgdata'))).toBe(true);
    expect(existsSync(file)).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8').trim()).toMatch(/^[0-9a-f]{64}$/);
    // (the restart test of the suite above proves a later start reuses it: the stored credential still opens)
  }, 90_000); // a first start on disk runs initdb and the migrations
});

describe('embedded PGlite off the event loop', () => {
  it('HTTP keeps being answered while a long statement runs on the embedded database', async () => {
    const gw = await startGateway({ DATABASE_URL: 'memory://' });
    try {
      const { sql } = await import('drizzle-orm');
      let statementDone = false;
      // a statement that keeps PGlite busy for a while (about a second on this machine)
      const slow = gw.app.services.database.db
        .execute(sql`select count(*) as n from generate_series(1, 4000000) g where g % 7 = 3`)
        .then((r) => {
          statementDone = true;
          return r;
        });
      // PGlite runs SQL synchronously: on the event loop, no response could complete before the statement ends
      const answeredDuring: boolean[] = [];
      while (!statementDone && answeredDuring.length < 500) {
        const res = await fetch(`${gw.url}/healthz`);
        expect(res.status).toBe(200);
        answeredDuring.push(!statementDone);
      }
      const rows = (await slow) as unknown as { rows: { n: number | string }[] };
      expect(Number(rows.rows[0].n)).toBe(571429);
      expect(answeredDuring.filter(Boolean).length).toBeGreaterThan(3);
    } finally {
      await gw.stop();
    }
    // a gateway start and a CPU-bound statement in WASM: both slow down several times on a loaded 2-core machine
  }, 90_000);

  it('a failing statement is a database error with its SQLSTATE; a failed transaction leaves nothing behind', async () => {
    const gw = await startGateway({ DATABASE_URL: 'memory://' });
    try {
      const { sql } = await import('drizzle-orm');
      const db = gw.app.services.database.db;
      const err = await db.execute(sql`select 1/0`).then(() => undefined, (e: unknown) => e);
      const codes: unknown[] = [];
      for (let e = err as { code?: unknown; cause?: unknown } | undefined; e; e = e.cause as typeof e) codes.push(e.code);
      expect(codes).toContain('22012');
      await db.execute(sql`create table t_tx (v int)`);
      await expect(
        db.transaction(async (tx) => {
          await tx.execute(sql`insert into t_tx values (1)`);
          throw new Error('abandon');
        }),
      ).rejects.toThrow('abandon');
      await db.transaction(async (tx) => {
        await tx.execute(sql`insert into t_tx values (2)`);
      });
      const r = (await db.execute(sql`select v from t_tx order by v`)) as unknown as { rows: { v: number }[] };
      expect(r.rows).toEqual([{ v: 2 }]);
    } finally {
      await gw.stop();
    }
  });
});
