/* The storage suite on a real PostgreSQL server (postgres.js), when TEST_DATABASE_URL is set: one throw-away database per test. */
import { randomBytes } from 'node:crypto';
import { describe } from 'vitest';
import { storageSuite } from './suite.js';

const adminUrl = process.env.TEST_DATABASE_URL;

/** postgres://…/<name> on the same server as TEST_DATABASE_URL. */
function urlFor(name: string): string {
  const u = new URL(adminUrl!);
  u.pathname = `/${name}`;
  return u.toString();
}

describe.skipIf(!adminUrl)('PostgreSQL (TEST_DATABASE_URL)', async () => {
  const { default: postgres } = await import('postgres');
  const created: string[] = [];
  let admin: ReturnType<typeof postgres> | undefined;
  const adminSql = () => (admin ??= postgres(adminUrl!, { max: 1, onnotice: () => {} }));

  storageSuite({
    name: 'PostgreSQL via postgres.js',
    shared: true,
    persistent: true,
    async fresh() {
      const name = `gw_test_${randomBytes(6).toString('hex')}`;
      await adminSql().unsafe(`create database "${name}"`);
      created.push(name);
      // Postgres needs GATEWAY_SECRET (testConfig sets one)
      return { env: { DATABASE_URL: urlFor(name) } };
    },
    async cleanup() {
      if (!admin) return;
      for (const name of created.splice(0)) {
        await admin.unsafe(`drop database if exists "${name}" with (force)`).catch(() => {});
      }
      await admin.end({ timeout: 5 });
      admin = undefined;
    },
  });
});
