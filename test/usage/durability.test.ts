/*
 * No usage record lost: the writer keeps records while the database is away (bounded, oldest dropped with a
 * log line and a count), never runs two inserts at once, flushes on stop and SIGTERM; an outage in the middle
 * of a burst against real Postgres leaves exactly one record per call. Retention deletes in batches.
 */
import { PgDialect } from 'drizzle-orm/pg-core';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { sql, type SQL } from 'drizzle-orm';
import type { Db } from '../../src/db/client.js';
import { createDatabase, type Database } from '../../src/db/client.js';
import { createUsageWriter, USAGE_COPY_COLUMNS, type UsageEvent } from '../../src/gateway/usage-writer.js';
import { createUsageQueries } from '../../src/services/usage-queries.js';
import { ADMIN_KEY, startGateway } from '../kit/start-gateway.js';
import { chat, createPricedModel, freshDatabase, PG_URL, rowsOf, sleep, usageDays, waitFor, type FreshDatabase } from './usage-kit.js';

function event(n: number): UsageEvent {
  return {
    id: randomUUID(),
    createdAt: new Date(),
    apiKeyId: null,
    model: 'm',
    provider: 'p',
    upstreamModel: 'u',
    promptTokens: n,
    completionTokens: 1,
    cachedReadTokens: 0,
    cacheWriteTokens: 0,
    reasoningTokens: 0,
    costUsd: 0.000001,
    latencyMs: 1,
    ttftMs: null,
    status: 'OK',
    errorCode: null,
    streamed: false,
    attempts: 1,
    usageExact: true,
    metadata: { n },
    cacheHit: null,
    costSavedUsd: 0,
    cacheSimilarity: null,
    guardrails: null,
    teamId: null,
    endUser: null,
  };
}

/** A Db whose insert fails while `down`, takes `delayMs`, and tracks concurrent inserts. */
function fakeDb(opts: { down?: boolean; delayMs?: number } = {}) {
  const state = {
    down: opts.down ?? false,
    delayMs: opts.delayMs ?? 0,
    /** ids per successful insert statement, in order */
    batches: [] as string[][],
    calls: 0,
    active: 0,
    maxActive: 0,
    get inserted() {
      return this.batches.flat();
    },
  };
  const dialect = new PgDialect();
  const db = {
    // the writer sends one statement per batch with the records as one JSON parameter
    execute: async (query: SQL) => {
      const { sql: text, params } = dialect.sqlToQuery(query);
      // the writer makes a batch's day partitions first: this database has them all (and counts inserts only)
      if (text.includes('usage_records_add_partition')) return [{ made: false }];
      const rows = JSON.parse(String(params[0])) as Array<{ id: string }>;
      state.calls++;
      state.active++;
      state.maxActive = Math.max(state.maxActive, state.active);
      try {
        if (state.delayMs) await sleep(state.delayMs);
        if (state.down) throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
        state.batches.push(rows.map((r) => r.id));
      } finally {
        state.active--;
      }
    },
  } as unknown as Db;
  return { db, state };
}

function capturingLog() {
  const lines: Array<{ level: number; msg: string; [k: string]: unknown }> = [];
  const log = pino(
    { level: 'info' },
    new Writable({
      write(chunk, _e, cb) {
        lines.push(JSON.parse(String(chunk)));
        cb();
      },
    }),
  );
  return { log, lines };
}

describe('usage writer (unit, fake database)', () => {
  it('keeps at most bufferMax records while the database fails: drops the oldest, logs an error, counts them', async () => {
    const { db, state } = fakeDb({ down: true });
    const { log, lines } = capturingLog();
    let droppedMetric = 0;
    const w = createUsageWriter(db, { flushMs: 10_000, bufferMax: 5, log, onDropped: (n) => (droppedMetric += n) });
    const events = Array.from({ length: 12 }, (_, i) => event(i));
    for (const e of events) w.record(e);
    expect(w.pending()).toBe(5);
    expect(w.dropped()).toBe(7);
    expect(droppedMetric).toBe(7);
    const errors = lines.filter((l) => l.level === 50);
    // one line when the bound is reached, not one per record
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ msg: 'usage buffer full: oldest records dropped', bufferMax: 5 });

    await w.flush();
    expect(state.calls).toBe(1);
    expect(w.pending()).toBe(5);
    expect(lines.some((l) => l.level === 40 && /could not be written/.test(l.msg))).toBe(true);

    state.down = false;
    await w.flush();
    // the newest five, oldest first, written once
    expect(state.inserted).toEqual(events.slice(7).map((e) => e.id));
    expect(w.pending()).toBe(0);
    expect(w.dropped()).toBe(7);
    await w.stop();
  });

  it('retries on its own with backoff and writes everything once the database is back', async () => {
    const { db, state } = fakeDb({ down: true });
    const { log } = capturingLog();
    const written: string[] = [];
    const w = createUsageWriter(db, { flushMs: 2, bufferMax: 1000, batchSize: 7, log, onWritten: (b) => written.push(...b.map((e) => e.id)) });
    const events = Array.from({ length: 40 }, (_, i) => event(i));
    for (const e of events) w.record(e);
    await waitFor(() => state.calls >= 3, 2000, 'three failed attempts');
    expect(state.inserted).toEqual([]);
    expect(written).toEqual([]);
    state.down = false;
    await waitFor(() => w.pending() === 0, 2000, 'the buffer to drain');
    expect(state.inserted).toEqual(events.map((e) => e.id));
    // the live feed hears of each record once, after it is written
    expect(written).toEqual(events.map((e) => e.id));
    expect(Math.max(...state.batches.map((b) => b.length))).toBeLessThanOrEqual(7);
    await w.stop();
  });

  it('records arriving while an insert is in flight are neither lost nor written twice, also at the bound', async () => {
    const { db, state } = fakeDb({ delayMs: 30 });
    const { log } = capturingLog();
    const w = createUsageWriter(db, { flushMs: 1, bufferMax: 10, batchSize: 4, log });
    const events = Array.from({ length: 14 }, (_, i) => event(i));
    for (const e of events.slice(0, 4)) w.record(e);
    const first = w.flush(); // e0..e3 in flight for 30 ms
    await sleep(5);
    for (const e of events.slice(4)) w.record(e); // 14 > 10: the oldest *waiting* ones go (e4..e7)
    expect(w.dropped()).toBe(4);
    await first;
    await waitFor(() => w.pending() === 0, 2000, 'the buffer to drain');
    expect(state.inserted).toEqual([...events.slice(0, 4), ...events.slice(8)].map((e) => e.id));
    expect(state.maxActive).toBe(1);
    await w.stop();
  });

  it('stop() during a failing flush and a pending retry never runs two inserts at once and loses nothing', async () => {
    const { db, state } = fakeDb({ down: true, delayMs: 20 });
    const { log } = capturingLog();
    const w = createUsageWriter(db, { flushMs: 1, bufferMax: 1000, log });
    const events = Array.from({ length: 6 }, (_, i) => event(i));
    for (const e of events.slice(0, 3)) w.record(e);
    await sleep(5); // the first insert is running and will fail
    setTimeout(() => (state.down = false), 30);
    const stopping = w.stop(5000);
    await sleep(25);
    for (const e of events.slice(3)) w.record(e); // late records while stopping
    await stopping;
    expect(state.maxActive).toBe(1);
    expect(state.inserted).toEqual(events.map((e) => e.id));
    expect(w.pending()).toBe(0);
  });

  it('stop() does not wait past its deadline for an insert that never answers', async () => {
    const { db } = fakeDb({ delayMs: 60_000 });
    const { log, lines } = capturingLog();
    const w = createUsageWriter(db, { flushMs: 1, bufferMax: 100, log });
    for (let i = 0; i < 2; i++) w.record(event(i));
    await sleep(10); // the insert is hanging
    const t0 = Date.now();
    await w.stop(200);
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(lines.find((l) => l.msg === 'usage records could not be written before shutdown')).toMatchObject({ level: 50, lost: 2 });
  });

  it('stop() gives up after its deadline and says how many records were lost', async () => {
    const { db } = fakeDb({ down: true });
    const { log, lines } = capturingLog();
    const w = createUsageWriter(db, { flushMs: 1, bufferMax: 100, log });
    for (let i = 0; i < 3; i++) w.record(event(i));
    const t0 = Date.now();
    await w.stop(300);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(lines.find((l) => l.msg === 'usage records could not be written before shutdown')).toMatchObject({ level: 50, lost: 3 });
  });
});

async function countRows(fresh: FreshDatabase, ids: string[]): Promise<number> {
  const [row] = await fresh.sql`select count(*)::int as n from usage_records where id = any(${ids}::uuid[])`;
  return row!.n as number;
}

describe.skipIf(!PG_URL)('durability against real Postgres', () => {
  let fresh: FreshDatabase;

  beforeAll(async () => {
    fresh = await freshDatabase(PG_URL!);
  });
  afterAll(async () => {
    await fresh?.drop();
  });

  it('the database goes away in the middle of a burst: afterwards exactly one record per call', async () => {
    const gw = await startGateway({ DATABASE_URL: fresh.url, KEY_CACHE_TTL_MS: '5000' });
    try {
      await createPricedModel(gw);
      const key = await gw.createKey({ name: 'burst', scopes: ['INVOKE', 'READ_USAGE'] });
      await chat(gw, key.secret, 0); // warm the key and model caches

      type Outcome = { n: number; id?: string; error?: string };
      const outcomes: Outcome[] = [];
      let stop = false;
      let next = 0;
      const outage = { from: 0, to: 0 };
      const workers = Array.from({ length: 8 }, async () => {
        while (!stop) {
          const n = next++;
          try {
            const out = await chat(gw, key.secret, n, undefined, { n });
            outcomes.push({ n, id: out.id });
          } catch (e) {
            outcomes.push({ n, error: JSON.stringify((e as { errors?: unknown }).errors ?? String(e)) });
          }
          await sleep(2);
        }
      });
      const admin = fresh.admin;
      await sleep(300);
      // the database refuses new connections and loses the ones it has, for 1.5 s
      outage.from = Date.now();
      await admin.unsafe(`alter database ${fresh.name} allow_connections false`);
      while (Date.now() - outage.from < 1500) {
        await admin`select pg_terminate_backend(pid) from pg_stat_activity where datname = ${fresh.name} and pid <> pg_backend_pid()`;
        await sleep(25);
      }
      await admin.unsafe(`alter database ${fresh.name} allow_connections true`);
      outage.to = Date.now();
      await sleep(500);
      stop = true;
      await Promise.all(workers);
      await gw.flushUsage();
      await waitFor(
        async () => {
          await gw.app.usage.flush();
          return gw.app.usage.pending() === 0;
        },
        15_000,
        'the usage buffer to drain',
      );

      const rows = await fresh.sql<Array<{ id: string; n: string | null; status: string }>>`
        select id::text as id, metadata->>'n' as n, status from usage_records where api_key_id = ${key.uuid}::uuid and metadata ? 'n'`;
      const ok = outcomes.filter((o) => o.id);
      const failed = outcomes.filter((o) => o.error);
      const byN = new Map<number, (typeof rows)[number]>();
      for (const r of rows) {
        const n = Number(r.n);
        expect(byN.has(n), `two records for call ${n}`).toBe(false);
        byN.set(n, r);
      }
      // every call that answered has exactly its record, under the id it returned
      for (const o of ok) {
        const r = byN.get(o.n);
        expect(r, `no record for call ${o.n}`).toBeDefined();
        expect(r!.id).toBe(o.id);
        expect(r!.status).toBe('OK');
      }
      // a failed call has at most its own error record (none if the key could not even be looked up)
      const failedWithRecord = failed.filter((o) => byN.has(o.n));
      for (const o of failedWithRecord) expect(byN.get(o.n)!.status).toBe('ERROR');
      expect(rows.length).toBe(ok.length + failedWithRecord.length);
      for (const r of rows) expect(Number(r.n)).toBeLessThan(next);

      const writeFailures = gw.logs.filter((l) => l.includes('usage records could not be written'));
      console.log(
        `[durability] ${outcomes.length} calls (${ok.length} answered, ${failed.length} failed, ${failedWithRecord.length} of them with an ERROR record), ` +
          `outage ${outage.to - outage.from} ms, ${writeFailures.length} writer warning(s), ${rows.length} records`,
      );
      // the outage really hit the writer, with calls made during it
      expect(writeFailures.length).toBeGreaterThan(0);
      expect(ok.length).toBeGreaterThan(50);
      expect(gw.app.usage.dropped()).toBe(0);
    } finally {
      await gw.stop();
    }
  }, 60_000);

  it('stop() flushes what is still buffered', async () => {
    const gw = await startGateway({ DATABASE_URL: fresh.url, USAGE_FLUSH_MS: '600000' });
    let stopped = false;
    try {
      const key = await gw.createKey({ name: 'stop', scopes: ['INVOKE'] });
      const ids: string[] = [];
      for (let i = 0; i < 40; i++) ids.push((await chat(gw, key.secret, i, 'echo')).id);
      expect(gw.app.usage.pending()).toBe(40);
      expect(await countRows(fresh, ids)).toBe(0);
      await gw.app.stop();
      stopped = true;
      expect(await countRows(fresh, ids)).toBe(40);
    } finally {
      if (!stopped) await gw.stop();
    }
  });

  it('SIGTERM flushes what is still buffered before the process exits', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: new URL('../..', import.meta.url).pathname,
      env: {
        ...process.env,
        DATABASE_URL: fresh.url,
        GATEWAY_SECRET: 'test-secret-test-secret',
        GATEWAY_ADMIN_KEY: ADMIN_KEY,
        PORT: '0',
        HOST: '127.0.0.1',
        USAGE_FLUSH_MS: '600000',
        // a spool of its own (the default ./.data/spool would be shared with, and replayed by, other runs)
        USAGE_SPOOL_DIR: mkdtempSync(join(tmpdir(), 'gw-durability-')),
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      await waitFor(() => /on (http:\/\/[^\s]+)\/graphql/.test(out) || child.exitCode !== null, 30_000, 'the gateway to listen');
      const url = /on (http:\/\/[^\s]+)\/graphql/.exec(out)?.[1];
      expect(url, out).toBeDefined();
      const ids: string[] = [];
      for (let i = 0; i < 30; i++) {
        const res = await fetch(`${url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` },
          body: JSON.stringify({ query: `mutation { chat(input: { model: "echo", messages: [{ role: USER, content: "sigterm ${i}" }] }) { id } }` }),
        });
        const body = (await res.json()) as { data?: { chat: { id: string } } };
        ids.push(body.data!.chat.id);
      }
      expect(await countRows(fresh, ids)).toBe(0);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(await countRows(fresh, ids)).toBe(30);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 60_000);
});

const retentionBackends = [
  { name: 'PGlite', postgres: false },
  { name: 'Postgres', postgres: true },
];

for (const backend of retentionBackends) {
  describe.skipIf(backend.postgres && !PG_URL)(`retention: deleteOlderThan on ${backend.name}`, () => {
    let database: Database;
    let fresh: FreshDatabase | undefined;

    beforeAll(async () => {
      if (backend.postgres) fresh = await freshDatabase(PG_URL!);
      database = await createDatabase({ url: fresh?.url ?? 'memory://', dataDir: '' });
      await database.migrate();
    });
    afterAll(async () => {
      await database?.close();
      await fresh?.drop();
    });

    async function insertAged(n: number, daysAgo: number): Promise<void> {
      const newest = Date.now() - daysAgo * 86_400_000;
      await usageDays(database.db, new Date(newest - (n + 60) * 1000), new Date(newest + 60_000));
      await database.db.execute(sql`insert into usage_records (id, created_at, model, status)
        select gen_random_uuid(), now() - ${daysAgo} * interval '1 day' - g * interval '1 second', 'm', 'OK' from generate_series(1, ${n}) g`);
    }

    async function ages(): Promise<number[]> {
      const res = await database.db.execute(sql`select floor(extract(epoch from now() - created_at) / 86400)::int as d from usage_records order by d`);
      return rowsOf<{ d: number }>(res).map((r) => Number(r.d));
    }

    it('deletes exactly the records older than the retention, a batch per statement', async () => {
      await insertAged(23, 40);
      await insertAged(7, 10);
      await insertAged(5, 0);
      const queries = createUsageQueries(database.db);

      let before = database.queryCount();
      expect(await queries.deleteOlderThan(30, 5)).toBe(23);
      // 5 + 5 + 5 + 5 + 3: five statements, none holding the table for more than a batch
      expect(database.queryCount() - before).toBe(5);
      let left = await ages();
      expect(left).toHaveLength(12);
      expect(Math.max(...left)).toBeLessThan(30);

      before = database.queryCount();
      expect(await queries.deleteOlderThan(7, 5)).toBe(7);
      expect(database.queryCount() - before).toBe(2);
      left = await ages();
      expect(left).toEqual([0, 0, 0, 0, 0]);

      expect(await queries.deleteOlderThan(7)).toBe(0);
    });
  });
}

describe('usage writer on embedded PGlite (COPY bulk path)', () => {
  let database: Database;
  beforeAll(async () => {
    database = await createDatabase({ url: 'memory://', dataDir: '' });
    await database.migrate();
  });
  afterAll(async () => {
    await database?.close();
  });

  it('writes every record through COPY, with the characters COPY escapes (tab, newline, CR, backslash, \\N) intact', async () => {
    expect(database.copyRows).toBeTypeOf('function');
    let copies = 0;
    const copyRows = async (table: string, columns: readonly string[], text: string) => {
      expect([table, columns]).toEqual(['usage_records', USAGE_COPY_COLUMNS]);
      await database.copyRows!(table, columns, text);
      copies++;
    };
    const { log } = capturingLog();
    const w = createUsageWriter(database.db, { flushMs: 1, bufferMax: 1000, batchSize: 50, log, copyRows });
    const odd = 'tab\there\nnew line\r\\back\\slash \\N "quoted" ünïcødé 🚀 nul\u0000 lone\ud800';
    const events = Array.from({ length: 120 }, (_, i) => ({
      ...event(i),
      model: i === 0 ? `m\t${i}\\` : 'm',
      errorCode: i % 2 ? null : 'UPSTREAM_ERROR',
      ttftMs: i % 3 ? null : i,
      streamed: i % 2 === 0,
      costUsd: i * 0.000123,
      metadata: i === 1 ? { odd, nested: { list: [odd, 1, null, true] }, [odd]: 'as a key' } : i === 2 ? null : { n: i },
    }));
    for (const e of events) w.record(e);
    await w.stop();
    expect(copies).toBe(3); // 120 records in batches of 50, none through the fallback insert

    const rows = rowsOf<{ id: string; model: string; error_code: string | null; ttft_ms: number | null; streamed: boolean; cost_usd: string; prompt_tokens: number; metadata: unknown }>(
      await database.db.execute(sql`select id, model, error_code, ttft_ms, streamed, cost_usd, prompt_tokens, metadata from usage_records`),
    );
    expect(rows).toHaveLength(120);
    const byId = new Map(rows.map((r) => [r.id, r]));
    const clean = odd.replace('\u0000', '\uFFFD').replace('\ud800', '\uFFFD');
    for (const e of events) {
      const r = byId.get(e.id)!;
      expect(r.model).toBe(e.model);
      expect(r.error_code).toBe(e.errorCode);
      expect(r.ttft_ms).toBe(e.ttftMs);
      expect(r.streamed).toBe(e.streamed);
      expect(r.prompt_tokens).toBe(e.promptTokens);
      expect(Number(r.cost_usd)).toBeCloseTo(e.costUsd, 10);
      const metadata = typeof r.metadata === 'string' ? JSON.parse(r.metadata) : r.metadata;
      if (e === events[1]) expect(metadata).toEqual({ odd: clean, nested: { list: [clean, 1, null, true] }, [clean]: 'as a key' });
      else expect(metadata).toEqual(e.metadata);
    }
  });

  it.each([
    ['COPY', true],
    ['the jsonb insert', false],
  ] as const)('%s stores the cached read, cache write and reasoning token counts', async (_, withCopy) => {
    const { log } = capturingLog();
    let copies = 0;
    const copyRows = async (table: string, columns: readonly string[], text: string) => {
      await database.copyRows!(table, columns, text);
      copies++;
    };
    const w = createUsageWriter(database.db, { flushMs: 1, bufferMax: 100, log, ...(withCopy ? { copyRows } : {}) });
    const e = { ...event(900), cachedReadTokens: 512, cacheWriteTokens: 64, reasoningTokens: 77 };
    w.record(e);
    await w.stop();
    expect(copies).toBe(withCopy ? 1 : 0);
    const [row] = rowsOf<{ cached_read_tokens: number; cache_write_tokens: number; reasoning_tokens: number }>(
      await database.db.execute(sql`select cached_read_tokens, cache_write_tokens, reasoning_tokens from usage_records where id = ${e.id}`),
    );
    expect(row).toEqual({ cached_read_tokens: 512, cache_write_tokens: 64, reasoning_tokens: 77 });
  });

  it('the one-statement jsonb insert (Postgres, and the fallback) stores NUL and lone surrogates replaced', async () => {
    const { log } = capturingLog();
    const w = createUsageWriter(database.db, { flushMs: 1, bufferMax: 100, log });
    const e = { ...event(7), model: 'm\u0000x', metadata: JSON.parse('{"__proto__": {"kept": true}}') };
    Object.assign(e.metadata, { tag: 'a\u0000b', broken: 'x\ud800y', fine: 'ok 🚀', text: 'a literal \\u0000 stays', 'k\u0000': { 'l\ud800': 1 } });
    w.record(e);
    await w.stop();
    const [row] = rowsOf<{ model: string; metadata: unknown }>(await database.db.execute(sql`select model, metadata from usage_records where id = ${e.id}`));
    const metadata = typeof row.metadata === 'string' ? JSON.parse(row.metadata) : row.metadata;
    expect(row.model).toBe('m\uFFFDx');
    // a "__proto__" key (JSON.parse makes it an own key) is stored as a key, not lost to the cleaned copy
    const { ['__proto__']: proto, ...rest } = metadata;
    expect(Object.keys(metadata)).toContain('__proto__');
    expect(proto).toEqual({ kept: true });
    expect(rest).toEqual({ tag: 'a\uFFFDb', broken: 'x\uFFFDy', fine: 'ok 🚀', text: 'a literal \\u0000 stays', 'k\uFFFD': { 'l\uFFFD': 1 } });
  });

  it('a batch COPY refuses (a duplicate id) falls back to the insert that skips duplicates: nothing lost, nothing twice', async () => {
    const { log } = capturingLog();
    let failedCopies = 0;
    const copyRows = (table: string, columns: readonly string[], text: string) =>
      database.copyRows!(table, columns, text).catch((err: unknown) => {
        failedCopies++;
        throw err;
      });
    const first = createUsageWriter(database.db, { flushMs: 1, bufferMax: 100, log, copyRows });
    const a = event(1);
    first.record(a);
    await first.stop();
    const b = event(2);
    // `a` again, as after a lost acknowledgement: COPY has no ON CONFLICT and refuses the batch
    const second = createUsageWriter(database.db, { flushMs: 1, bufferMax: 100, log, copyRows });
    second.record(a);
    second.record(b);
    await second.stop();
    expect(failedCopies).toBe(1);
    const rows = rowsOf<{ id: string }>(await database.db.execute(sql`select id from usage_records where id in (${a.id}, ${b.id})`));
    expect(rows.map((r) => r.id).sort()).toEqual([a.id, b.id].sort());
  });
});
