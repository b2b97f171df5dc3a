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
  });
});
