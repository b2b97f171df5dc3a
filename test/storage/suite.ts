/* One storage suite for every backend: migrations (idempotent, concurrent where it can happen), and the gateway's basic calls. */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { testConfig } from '../../src/config.js';
import { createDatabase, type Database } from '../../src/db/client.js';
import { createUsageQueries } from '../../src/services/usage-queries.js';
import { startGateway } from '../kit/start-gateway.js';
import { sseCollect } from '../kit/sse.js';

interface FreshDatabase {
  /** Environment for a gateway on this database (DATABASE_URL, DATA_DIR, GATEWAY_SECRET ...). */
  env: Record<string, string | undefined>;
}

export interface StorageBackend {
  name: string;
  /** A new, empty database (dropped by `cleanup`). */
  fresh(): Promise<FreshDatabase>;
  /** Several processes may open the same database at once (a server, not an embedded engine). */
  shared: boolean;
  /** The data outlives the process that wrote it (not memory://). */
  persistent: boolean;
  cleanup(): Promise<void>;
}

const journal = JSON.parse(readFileSync(new URL('../../migrations/meta/_journal.json', import.meta.url), 'utf8')) as { entries: Array<{ tag: string }> };

/** The rows of an `execute` result: an array from postgres.js, `{ rows }` from PGlite. */
function rowsOf<T>(res: unknown): T[] {
  return (Array.isArray(res) ? res : (res as { rows: unknown[] }).rows) as T[];
}
const TABLES = ['api_keys', 'model_targets', 'models', 'prompts', 'providers', 'usage_group_rollups', 'usage_records', 'usage_rollups'];

async function openDb(env: Record<string, string | undefined>): Promise<Database> {
  return createDatabase(testConfig(env).db);
}

async function appliedMigrations(db: Database): Promise<number> {
  const res = await db.db.execute(sql`select count(*)::int as n from drizzle.__drizzle_migrations`);
  const rows = rowsOf<{ n: number }>(res);
  return Number(rows[0].n);
}

async function tablesOf(db: Database): Promise<string[]> {
  const res = await db.db.execute(sql`select table_name from information_schema.tables where table_schema = 'public' order by table_name`);
  const rows = rowsOf<{ table_name: string }>(res);
  return rows.map((r) => r.table_name);
}

const CHAT = 'mutation($input: ChatInput!) { chat(input: $input) { message { content } usage { promptTokens completionTokens } } }';
const STREAM = 'subscription($input: ChatInput!) { chatStream(input: $input) { delta finishReason } }';
const USAGE = '{ usage(first: 50) { edges { node { model status streamed promptTokens completionTokens apiKey { name } } } } }';

/** Registers a test only where the backend has the capability (no "skipped" noise for what cannot apply). */
const onlyIf = (capable: boolean): typeof it => (capable ? it : ((() => undefined) as unknown as typeof it));

export function storageSuite(backend: StorageBackend): void {
  describe(`storage: ${backend.name}`, () => {
    afterAll(async () => {
      await backend.cleanup();
    });

    it('migrations apply on an empty database and a second run is a no-op', async () => {
      const { env } = await backend.fresh();
      const db = await openDb(env);
      try {
        await db.migrate();
        expect(await appliedMigrations(db)).toBe(journal.entries.length);
        const tables = await tablesOf(db);
        for (const t of TABLES) expect(tables).toContain(t);
        await db.migrate();
        expect(await appliedMigrations(db)).toBe(journal.entries.length);
        expect(await tablesOf(db)).toEqual(tables);
        expect(await db.ping()).toBe(true);
      } finally {
        await db.close();
      }
    });

    it('a database made by the first migration upgrades to the latest with its usage records intact', async () => {
      const { env } = await backend.fresh();
      const db = await openDb(env);
      // the migrations folder as the first release shipped it: 0000 and a journal of one entry
      const first = mkdtempSync(join(tmpdir(), 'gw-migrations-'));
      try {
        const migrations = new URL('../../migrations/', import.meta.url).pathname;
        cpSync(join(migrations, `${journal.entries[0].tag}.sql`), join(first, `${journal.entries[0].tag}.sql`));
        cpSync(join(migrations, 'meta'), join(first, 'meta'), { recursive: true });
        writeFileSync(join(first, 'meta/_journal.json'), JSON.stringify({ ...journal, entries: journal.entries.slice(0, 1) }));
        const { migrate } = db.kind === 'pglite' ? await import('drizzle-orm/pglite/migrator') : await import('drizzle-orm/postgres-js/migrator');
        await migrate(db.db as never, { migrationsFolder: first });
        expect(await appliedMigrations(db)).toBe(1);

        const key = '00000000-0000-4000-8000-000000000001';
        for (let i = 0; i < 30; i++) {
          await db.db.execute(sql`insert into usage_records (id, created_at, api_key_id, model, provider, status, prompt_tokens)
            values (${`10000000-0000-4000-8000-${String(i).padStart(12, '0')}`}::uuid, ${new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString()}::timestamptz,
                    ${key}::uuid, ${`m${i % 3}`}, 'p', 'OK', ${i})`);
        }
        await db.migrate();
        expect(await appliedMigrations(db)).toBe(journal.entries.length);

        const res = await db.db.execute(sql`select count(*)::int as n, sum(prompt_tokens)::int as tokens from usage_records`);
        const [row] = rowsOf<{ n: number; tokens: number }>(res);
        expect(row).toEqual({ n: 30, tokens: 435 });
        // the pages still come newest first, by key and by model too
        const queries = createUsageQueries(db.db);
        const all = await queries.page({ first: 5, readScope: { kind: 'all' } });
        expect(all.edges.map((e) => e.node.promptTokens)).toEqual([29, 28, 27, 26, 25]);
        const byKey = await queries.page({ first: 3, after: all.pageInfo.endCursor, readScope: { kind: 'key', keyId: key } });
        expect(byKey.edges.map((e) => e.node.promptTokens)).toEqual([24, 23, 22]);
        const byModel = await queries.page({ first: 3, filter: { model: 'm1' }, readScope: { kind: 'all' } });
        expect(byModel.edges.map((e) => e.node.promptTokens)).toEqual([28, 25, 22]);
        // the upgrade filled the rollups summaries read from the records it found (the backfill of 0004)
        const summary = await queries.summary({ groupBy: 'MODEL', readScope: { kind: 'all' } });
        expect(summary.map((b) => [b.key, b.requests, b.promptTokens])).toEqual([['m0', 10, 135], ['m1', 10, 145], ['m2', 10, 155]]);
      } finally {
        rmSync(first, { recursive: true, force: true });
        await db.close();
      }
    });

    onlyIf(backend.shared)('two instances migrating an empty database at once both succeed, once', async () => {
      const { env } = await backend.fresh();
      const dbs = await Promise.all([openDb(env), openDb(env), openDb(env)]);
      try {
        await Promise.all(dbs.map((d) => d.migrate()));
        for (const d of dbs) expect(await appliedMigrations(d)).toBe(journal.entries.length);
        expect(await tablesOf(dbs[0])).toEqual(expect.arrayContaining(TABLES));
      } finally {
        await Promise.all(dbs.map((d) => d.close()));
      }
    });

    it('the gateway runs on it: create a key, chat and stream on echo, usage records written', async () => {
      const { env } = await backend.fresh();
      const gw = await startGateway(env);
      try {
        const { secret } = await gw.createKey({ name: 'storage key', scopes: ['INVOKE', 'READ_USAGE'] });
        const chat = await gw.gql(CHAT, { input: { model: 'echo', messages: [{ role: 'USER', content: 'stored answer' }] } }, secret);
        expect(chat.errors).toBeUndefined();
        expect(chat.data.chat.message.content).toBe('echo: stored answer');
        const stream = await sseCollect(gw.url, STREAM, { input: { model: 'echo', messages: [{ role: 'USER', content: 'streamed' }] } }, secret);
        expect(stream.at(-1)?.data?.chatStream.finishReason).toBe('STOP');

        await gw.flushUsage();
        const usage = await gw.gql(USAGE, {}, secret);
        expect(usage.errors).toBeUndefined();
        const nodes = usage.data.usage.edges.map((e: { node: unknown }) => e.node);
        expect(nodes).toHaveLength(2);
        expect(nodes).toEqual(
          expect.arrayContaining([
            { model: 'echo', status: 'OK', streamed: false, promptTokens: 2, completionTokens: 3, apiKey: { name: 'storage key' } },
            expect.objectContaining({ model: 'echo', status: 'OK', streamed: true, apiKey: { name: 'storage key' } }),
          ]),
        );
        const mtd = await gw.gql('{ viewer { monthToDate { requests promptTokens } } }', {}, secret);
        expect(mtd.data.viewer.monthToDate.requests).toBe(2);
        expect(await gw.app.services.database.ping()).toBe(true);
        // start-up applied the migrations by itself
        expect(await appliedMigrations(gw.app.services.database)).toBe(journal.entries.length);
      } finally {
        await gw.stop();
      }
    });

    onlyIf(backend.shared)('two gateways started at once on one database share keys, catalogue and usage', async () => {
      const { env } = await backend.fresh();
      const [a, b] = await Promise.all([startGateway(env), startGateway(env)]);
      try {
        const { secret } = await a.createKey({ name: 'shared', scopes: ['INVOKE', 'READ_USAGE'] });
        const created = await b.gql('mutation { createModel(input: { name: "echo-shared", targets: [{ provider: "echo", upstreamModel: "echo" }] }) { id } }');
        expect(created.errors).toBeUndefined();
        const viaB = await b.gql(CHAT, { input: { model: 'echo', messages: [{ role: 'USER', content: 'from b' }] } }, secret);
        expect(viaB.data?.chat.message.content).toBe('echo: from b');
        a.app.services.catalogue.clearCache();
        const viaA = await a.gql(CHAT, { input: { model: 'echo-shared', messages: [{ role: 'USER', content: 'from a' }] } }, secret);
        expect(viaA.data?.chat.message.content).toBe('echo: from a');
        await Promise.all([a.flushUsage(), b.flushUsage()]);
        const usage = await a.gql(USAGE, {}, secret);
        expect(usage.data.usage.edges).toHaveLength(2);
        // one echo provider and one echo model, whoever seeded first
        const cat = await a.gql('{ providers { name } models { name } }');
        expect(cat.data.providers.filter((p: { name: string }) => p.name === 'echo')).toHaveLength(1);
        expect(cat.data.models.filter((m: { name: string }) => m.name === 'echo')).toHaveLength(1);
      } finally {
        await Promise.all([a.stop(), b.stop()]);
      }
    });

    onlyIf(backend.persistent)('a restart keeps keys, catalogue (with a decryptable credential) and usage; no second bootstrap key', async () => {
      const { env: base } = await backend.fresh();
      // no GATEWAY_ADMIN_KEY: the first start creates the bootstrap admin key and hands it out once
      const env = { ...base, GATEWAY_ADMIN_KEY: undefined };
      const first = await startGateway(env);
      let admin: string;
      let invoker: string;
      let keyCount: number;
      try {
        expect(first.app.bootstrapAdminSecret).toMatch(/^gw_/);
        admin = first.app.bootstrapAdminSecret!;
        const created = await first.gql('mutation { createApiKey(input: { name: "survivor", scopes: [INVOKE, READ_USAGE] }) { secret } }', {}, admin);
        invoker = created.data.createApiKey.secret;
        const provider = await first.gql(
          'mutation { createProvider(input: { name: "kept", kind: OPENAI_COMPATIBLE, baseUrl: "http://127.0.0.1:9", apiKey: "sk-kept-credential" }) { hasCredential } }',
          {},
          admin,
        );
        expect(provider.data?.createProvider.hasCredential).toBe(true);
        const model = await first.gql('mutation { createModel(input: { name: "kept-model", targets: [{ provider: "kept", upstreamModel: "m" }] }) { id } }', {}, admin);
        expect(model.errors).toBeUndefined();
        const chat = await first.gql(CHAT, { input: { model: 'echo', messages: [{ role: 'USER', content: 'before restart' }] } }, invoker);
        expect(chat.data?.chat.message.content).toBe('echo: before restart');
        keyCount = (await first.gql('{ apiKeys { id } }', {}, admin)).data.apiKeys.length;
        expect(keyCount).toBe(2);
      } finally {
        await first.stop(); // flushes usage
      }

      const second = await startGateway(env);
      try {
        expect(second.app.bootstrapAdminSecret).toBeUndefined();
        const keys = await second.gql('{ apiKeys { name } }', {}, admin);
        expect(keys.errors).toBeUndefined();
        expect(keys.data.apiKeys).toHaveLength(keyCount);

        const chat = await second.gql(CHAT, { input: { model: 'echo', messages: [{ role: 'USER', content: 'after restart' }] } }, invoker);
        expect(chat.data?.chat.message.content).toBe('echo: after restart');
        await second.flushUsage();
        const usage = await second.gql(USAGE, {}, invoker);
        expect(usage.data.usage.edges).toHaveLength(2);

        // the provider credential still opens: the same GATEWAY_SECRET (or the one generated into DATA_DIR) was used
        const resolved = await second.app.services.catalogue.resolve('kept-model');
        expect(resolved?.targets[0].provider.apiKey).toBe('sk-kept-credential');
      } finally {
        await second.stop();
      }
    });
  });
}
