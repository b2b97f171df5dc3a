/*
 * An unexpected database error is masked for the caller and logged as a summary (class, code, message, frames):
 * never the statement's parameters, which hold key hashes, names and metadata. On PGlite and (with TEST_DATABASE_URL)
 * PostgreSQL, whose drivers attach the parameters in different places.
 */
import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashSecret } from '../../src/security/api-key.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { TEST_DATABASE_URL, freshDatabase } from '../limits/kit.js';

function suite(name: string, databaseUrl: () => Promise<{ url?: string; drop?: () => Promise<void> }>, skip: boolean) {
  describe.skipIf(skip)(`unexpected database errors (${name})`, () => {
    let gw: TestGateway;
    let drop: (() => Promise<void>) | undefined;

    beforeAll(async () => {
      const db = await databaseUrl();
      drop = db.drop;
      gw = await startGateway(db.url ? { DATABASE_URL: db.url } : {});
    });
    afterAll(async () => {
      await gw?.stop();
      await drop?.();
    });

    it('are masked for the caller, and their log lines hold no statement parameters (no key hash)', async () => {
      const secret = `gw_${randomBytes(24).toString('base64url')}`;
      const keyHash = hashSecret(secret);
      const before = gw.logs.length;
      // the key table away: looking up a key, or creating one, fails inside the database
      await gw.app.services.database.db.execute(sql`alter table api_keys rename to api_keys_away`);
      let graphql: Response;
      let rest: Response;
      let create: Awaited<ReturnType<TestGateway['gql']>>;
      try {
        graphql = await fetch(`${gw.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
          body: JSON.stringify({ query: '{ viewer { id } }' }),
        });
        rest = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${secret}` } });
        create = await gw.gql('mutation { createApiKey(input: { name: "doomed" }) { secret } }');
      } finally {
        await gw.app.services.database.db.execute(sql`alter table api_keys_away rename to api_keys`);
      }

      const graphqlBody = await graphql.text();
      expect(JSON.parse(graphqlBody).errors[0]).toMatchObject({ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } });
      expect(rest.status).toBe(500);
      const restBody = await rest.text();
      expect(JSON.parse(restBody).error).toMatchObject({ message: 'Unexpected error.', code: 'INTERNAL_SERVER_ERROR' });
      expect(create.errors?.[0]).toMatchObject({ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } });
      for (const body of [graphqlBody, restBody, JSON.stringify(create)]) expect(body).not.toMatch(/api_keys|select|insert/i);

      const lines = gw.logs.slice(before).map((l) => JSON.parse(l)).filter((l) => l.level >= 50);
      // the lookup (GraphQL and REST) and the insert, each logged once at least
      expect(lines.length).toBeGreaterThanOrEqual(3);
      const text = JSON.stringify(lines);
      expect(text).not.toContain(keyHash);
      expect(text).not.toContain(secret);
      expect(text).not.toMatch(/[0-9a-f]{64}/);
      // drizzle's "params: …" in the message, drizzle's `params` and postgres.js's `parameters` fields
      expect(text).not.toMatch(/params:|\\"(params|parameters)\\"|"(params|parameters)":/);
      expect(text).not.toContain('doomed');
      // what is left still says what failed: the statement (without values), the class and PostgreSQL's code
      const failure = lines.find((l) => /"api_keys"/.test(l.err?.message ?? ''));
      expect(failure, text).toBeDefined();
      expect(failure.err.type).toBe('DrizzleQueryError');
      expect(failure.err.cause).toMatchObject({ code: '42P01' });
      expect(failure.msg).toBe(failure.err.message);
      expect(failure.err.stack).toMatch(/^\s+at /);
    });
  });
}

suite('PGlite', async () => ({}), false);
suite('PostgreSQL', async () => freshDatabase(TEST_DATABASE_URL!), !TEST_DATABASE_URL);
