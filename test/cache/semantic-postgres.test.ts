/* The semantic cache on a real PostgreSQL server (TEST_DATABASE_URL): pgvector when the server has it, else usearch. */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { describe } from 'vitest';
import { semanticSuite, useSemanticWorld } from './semantic-kit.js';

const adminUrl = process.env.TEST_DATABASE_URL;

describe.skipIf(!adminUrl)('PostgreSQL (TEST_DATABASE_URL)', () => {
  const name = `gw_sem_${randomBytes(6).toString('hex')}`;
  const admin = () => postgres(adminUrl!, { max: 1, onnotice: () => {} });
  const world = useSemanticWorld(async () => {
    const sql = admin();
    await sql.unsafe(`create database "${name}"`);
    await sql.end();
    const u = new URL(adminUrl!);
    u.pathname = `/${name}`;
    return {
      env: { DATABASE_URL: u.toString() },
      async cleanup() {
        const s = admin();
        await s.unsafe(`drop database if exists "${name}" with (force)`);
        await s.end();
      },
    };
  });
  semanticSuite({
    name: 'semantic cache on PostgreSQL',
    world,
    async expectedIndex() {
      const sql = admin();
      const [row] = await sql`select count(*)::int as n from pg_available_extensions where name = 'vector'`;
      await sql.end();
      return row.n > 0 ? 'pgvector' : 'usearch';
    },
  });
});
