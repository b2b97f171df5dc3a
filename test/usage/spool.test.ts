/*
 * The usage spool on a real temp folder and a real database (embedded PGlite): a record is on disk when record()
 * returns, reaches the database after its group commit, and its segment goes once written; segments left by an
 * earlier run are replayed (torn last line skipped) and replaying twice writes nothing twice; past the memory bound
 * (records or call log bytes) spooled records are let go from memory and written from their segment later; the lock
 * file keeps a second live process out.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../../src/config.js';
import { createDatabase, type Database, type Db } from '../../src/db/client.js';
import { rowsOf } from '../../src/db/rows-of.js';
import { ensureUsagePartitions } from '../../src/db/usage-partitions.js';
import { createUsageSpool } from '../../src/gateway/usage-spool.js';
import { SpoolLockedError } from '../../src/gateway/usage-spool-lock.js';
import { spoolLine } from '../../src/gateway/usage-spool-lines.js';
import { createUsageWriter, type UsageEvent } from '../../src/gateway/usage-writer.js';
import type { CallLogEntry } from '../../src/call-log/types.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(cond: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

function capturingLog() {
  const lines: Array<{ level: number; msg: string; [k: string]: unknown }> = [];
  const log = pino({ level: 'info' }, new Writable({ write: (c, _e, cb) => (lines.push(JSON.parse(String(c))), cb()) }));
  return { log, lines };
}

function callLog(id: string, createdAt: Date, text: string): CallLogEntry {
  return {
    id,
    createdAt,
    requestId: `req-${id.slice(0, 8)}`,
    apiKeyId: null,
    teamId: null,
    model: 'm',
    status: 'OK',
    level: 'FULL',
    parameters: { temperature: 0.5 },
    request: { messages: [{ role: 'user', content: text }] },
    response: { content: text },
    attempts: [],
    traceId: null,
    searchText: text,
    bodyBytes: text.length * 2,
    truncated: false,
  };
}

function event(n: number, withLog = false): UsageEvent {
  const id = randomUUID();
  const createdAt = new Date(Date.now() - 1000 + n);
  return {
    id,
    createdAt,
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
    metadata: { n, text: 'nul \u0000 and lone \ud800 survive the line' },
    cacheHit: null,
    costSavedUsd: 0,
    cacheSimilarity: null,
    guardrails: null,
    teamId: null,
    endUser: null,
    ...(withLog ? { callLog: callLog(id, createdAt, `call number ${n} `.repeat(50)) } : {}),
  };
}

/** The database, with a switch that makes every statement fail as an unreachable server does (after `failAfterMs`). */
function cuttable(db: Db, failAfterMs = 0) {
  const state = { down: false };
  const wrapped = new Proxy(db, {
    get(target, prop, receiver) {
      if (prop === 'execute') {
        return (q: Parameters<Db['execute']>[0]) => {
          const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
          if (state.down) return failAfterMs ? sleep(failAfterMs).then(() => Promise.reject(refused())) : Promise.reject(refused());
          return target.execute(q);
        };
      }
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
  return { db: wrapped, state };
}

const segments = (dir: string) => readdirSync(dir).filter((n) => n.endsWith('.jsonl'));

describe('usage spool', () => {
  let database: Database;
  const dirs: string[] = [];
  const tempDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'gw-spool-'));
    dirs.push(d);
    return d;
  };
  const countOf = async (table: 'usage_records' | 'call_logs', ids: string[]) =>
    rowsOf<{ n: number }>(await database.db.execute(sql`select count(*)::int as n from ${sql.identifier(table)} where id = any(${`{${ids.join(',')}}`}::uuid[])`))[0].n;
  const perId = async (ids: string[]) =>
    rowsOf<{ id: string; n: number }>(
      await database.db.execute(sql`select id::text, count(*)::int as n from usage_records where id = any(${`{${ids.join(',')}}`}::uuid[]) group by id`),
    );

  beforeAll(async () => {
    database = await createDatabase(testConfig().db);
    await database.migrate();
    // today's partitions, as the gateway makes them at start-up (the replays below count the statements they send)
    await ensureUsagePartitions(database.db);
  }, 60_000);
  afterAll(async () => {
    await database.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  afterEach(() => {});

  it('a record is in its segment when record() returns; written after the group commit; the segment goes once all are written', async () => {
    const dir = tempDir();
    const { log } = capturingLog();
    const spool = createUsageSpool({ dir, log, commitMs: 5, sealAfterMs: 200 });
    const durable: string[] = [];
    const w = createUsageWriter(database.db, { flushMs: 10, bufferMax: 1000, log, spool });
    const events = Array.from({ length: 20 }, (_, i) => ({ ...event(i, i % 3 === 0), onDurable: () => durable.push(`${i}`) }));
    w.record(events[0]);
    // synchronously after record(): the line is in the file, hooks left out
    const [seg] = segments(dir);
    const onDisk = readFileSync(join(dir, seg), 'utf8');
    expect(onDisk).toBe(spoolLine(events[0]));
    expect(onDisk).not.toContain('onDurable');
    expect(JSON.parse(onDisk).callLog.id).toBe(events[0].id);
    for (const e of events.slice(1)) w.record(e);
    expect(w.pending()).toBe(20);
    await waitFor(() => durable.length === 20, 'every record durable');
    expect(await countOf('usage_records', events.map((e) => e.id))).toBe(20);
    expect(await countOf('call_logs', events.filter((e) => e.callLog).map((e) => e.id))).toBe(7);
    // sealed and deleted once idle and fully written
    await waitFor(() => segments(dir).length === 0, 'the written segment to be deleted');
    await w.stop(2000);
    expect(existsSync(join(dir, '.lock'))).toBe(false);
  });

  it('replays a segment left by an earlier run (torn last line skipped); replaying it again writes nothing twice', async () => {
    const dir = tempDir();
    const events = Array.from({ length: 57 }, (_, i) => event(i, i % 5 === 0));
    const torn = spoolLine(event(999)).slice(0, 80);
    const text = events.map(spoolLine).join('') + torn;
    writeFileSync(join(dir, '000000000007.jsonl'), text);
    const copy = join(tempDir(), 'copy.jsonl');
    copyFileSync(join(dir, '000000000007.jsonl'), copy);

    for (const round of [1, 2]) {
      if (round === 2) copyFileSync(copy, join(dir, '000000000007.jsonl'));
      const { log, lines } = capturingLog();
      const spool = createUsageSpool({ dir, log });
      const w = createUsageWriter(database.db, { flushMs: 10, bufferMax: 1000, batchSize: 10, log, spool });
      await waitFor(() => segments(dir).length === 0, `replay ${round}`);
      const done = lines.find((l) => l.msg === 'usage spool: segment replayed');
      expect(done, JSON.stringify(lines)).toMatchObject({ records: 57, inserted: round === 1 ? 57 : 0 });
      expect(lines.some((l) => /torn/.test(l.msg))).toBe(true);
      // new segments are numbered after the replayed one
      w.record(event(1000 + round));
      expect(segments(dir)).toEqual(['000000000008.jsonl']);
      await w.stop(2000);
    }
    const rows = await perId(events.map((e) => e.id));
    expect(rows).toHaveLength(57);
    expect(rows.every((r) => r.n === 1)).toBe(true);
    expect(await countOf('call_logs', events.filter((e) => e.callLog).map((e) => e.id))).toBe(12);
    // the stored values are the ones spooled (dates revived, awkward characters made storable)
    const [one] = rowsOf<{ created_at: string; prompt_tokens: number }>(
      await database.db.execute(sql`select created_at::text, prompt_tokens from usage_records where id = ${events[3].id}`),
    );
    expect(one.prompt_tokens).toBe(3);
    expect(new Date(one.created_at.replace(' ', 'T').replace(/\+00$/, 'Z')).getTime()).toBe(events[3].createdAt.getTime());
  });

  it('a replay cut by an outage goes on where it stopped, and one cut by a stop is redone by the next start without duplicates', async () => {
    const dir = tempDir();
    const events = Array.from({ length: 40 }, (_, i) => event(i));
    writeFileSync(join(dir, '000000000001.jsonl'), events.map(spoolLine).join(''));
    const { db, state } = cuttable(database.db);
    const { log } = capturingLog();
    let calls = 0;
    const counting = new Proxy(db, {
      get(target, prop, receiver) {
        if (prop !== 'execute') return Reflect.get(target, prop, receiver) as unknown;
        return (q: Parameters<Db['execute']>[0]) => {
          // the database goes away after two batches of the replay
          if (++calls === 3) state.down = true;
          return target.execute(q);
        };
      },
    });
    const w1 = createUsageWriter(counting, { flushMs: 10, bufferMax: 1000, batchSize: 10, log, spool: createUsageSpool({ dir, log }) });
    await waitFor(() => calls >= 4, 'the replay to hit the outage');
    expect(await countOf('usage_records', events.map((e) => e.id))).toBe(20);
    await w1.stop(300);
    expect(segments(dir)).toEqual(['000000000001.jsonl']);

    state.down = false;
    const w2 = createUsageWriter(database.db, { flushMs: 10, bufferMax: 1000, batchSize: 10, log, spool: createUsageSpool({ dir, log }) });
    await waitFor(() => segments(dir).length === 0, 'the second replay');
    const rows = await perId(events.map((e) => e.id));
    expect(rows).toHaveLength(40);
    expect(rows.every((r) => r.n === 1)).toBe(true);
    await w2.stop(2000);
  });

  it('corrupt lines are counted once in the replay\'s report, however often an outage makes a step retry', async () => {
    const dir = tempDir();
    const events = Array.from({ length: 12 }, (_, i) => event(i));
    const lines = events.map(spoolLine);
    // three corrupt lines in the first batch, one in the second
    lines.splice(2, 0, 'not json\n', '{"id":1}\n');
    lines.splice(6, 0, '{"broken\n');
    lines.splice(12, 0, '[]\n');
    writeFileSync(join(dir, '000000000001.jsonl'), lines.join(''));
    const { db, state } = cuttable(database.db);
    state.down = true;
    let attempts = 0;
    const counting = new Proxy(db, {
      get(target, prop, receiver) {
        if (prop !== 'execute') return Reflect.get(target, prop, receiver) as unknown;
        return (q: Parameters<Db['execute']>[0]) => {
          attempts++;
          return target.execute(q);
        };
      },
    });
    const { log, lines: logged } = capturingLog();
    const w = createUsageWriter(counting, { flushMs: 5, bufferMax: 1000, batchSize: 10, log, spool: createUsageSpool({ dir, log }) });
    // the first batch is parsed again on every failed attempt
    await waitFor(() => attempts >= 4, 'the replay to fail a few times');
    state.down = false;
    await waitFor(() => segments(dir).length === 0, 'the replay');
    const report = logged.find((l) => /lines that were not records skipped/.test(l.msg));
    expect(report, JSON.stringify(logged)).toMatchObject({ skipped: 4 });
    expect(logged.find((l) => l.msg === 'usage spool: segment replayed')).toMatchObject({ records: 12, inserted: 12 });
    expect(await countOf('usage_records', events.map((e) => e.id))).toBe(12);
    await w.stop(2000);
  });

  it('a process that dies mid-replay (no stop, lock left behind with its pid) is replayed again by the next one, without duplicates', async () => {
    const dir = tempDir();
    const events = Array.from({ length: 30 }, (_, i) => event(i, i % 4 === 0));
    writeFileSync(join(dir, '000000000003.jsonl'), events.map(spoolLine).join(''));
    const { log } = capturingLog();
    // the dying process: its database stops answering after the first batch and never comes back for it
    const dying = cuttable(database.db);
    let calls = 0;
    const flaky = new Proxy(dying.db, {
      get(target, prop, receiver) {
        if (prop !== 'execute') return Reflect.get(target, prop, receiver) as unknown;
        return (q: Parameters<Db['execute']>[0]) => {
          if (++calls === 2) dying.state.down = true;
          return target.execute(q);
        };
      },
    });
    createUsageWriter(flaky, { flushMs: 10, bufferMax: 1000, batchSize: 10, log, spool: createUsageSpool({ dir, log }) });
    await waitFor(() => calls >= 3, 'the first replay to stall');
    expect(await countOf('usage_records', events.map((e) => e.id))).toBe(10);
    // never stopped: the lock still names this pid, which a restarted container gets again
    expect(readFileSync(join(dir, '.lock'), 'utf8').trim()).toBe(String(process.pid));

    const w2 = createUsageWriter(database.db, { flushMs: 10, bufferMax: 1000, batchSize: 10, log, spool: createUsageSpool({ dir, log }) });
    await waitFor(() => segments(dir).length === 0, 'the second replay');
    const rows = await perId(events.map((e) => e.id));
    expect(rows).toHaveLength(30);
    expect(rows.every((r) => r.n === 1)).toBe(true);
    expect(await countOf('call_logs', events.filter((e) => e.callLog).map((e) => e.id))).toBe(8);
    await w2.stop(2000);
  });

  it('past the record bound during an outage nothing is lost: records leave memory only, and are written from the spool afterwards', async () => {
    const dir = tempDir();
    const { log, lines } = capturingLog();
    // a failing insert takes a while (as a connection attempt does): newer records are let go while a batch is in
    // flight, and short-lived segments make records of several segments leave out of order
    const { db, state } = cuttable(database.db, 40);
    state.down = true;
    const spool = createUsageSpool({ dir, log, sealAfterMs: 10 });
    let dropped = 0;
    const w = createUsageWriter(db, { flushMs: 5, bufferMax: 10, batchSize: 4, log, spool, onDropped: (n) => (dropped += n) });
    const events = Array.from({ length: 200 }, (_, i) => event(i, i % 2 === 0));
    for (const e of events) {
      w.record(e);
      await sleep(2);
    }
    await w.flush();
    expect(w.pending()).toBeLessThanOrEqual(10);
    expect(w.evicted()).toBeGreaterThanOrEqual(190);
    expect(w.dropped()).toBe(0);
    expect(dropped).toBe(0);
    expect(lines.some((l) => /wait in the spool/.test(l.msg))).toBe(true);
    expect(await countOf('usage_records', events.map((e) => e.id))).toBe(0);

    state.down = false;
    await waitFor(async () => (await countOf('usage_records', events.map((e) => e.id))) === 200 && segments(dir).length === 0, 'everything written', 10_000);
    const rows = await perId(events.map((e) => e.id));
    expect(rows.every((r) => r.n === 1)).toBe(true);
    expect(await countOf('call_logs', events.filter((e) => e.callLog).map((e) => e.id))).toBe(100);
    await w.stop(2000);
  });

  it('records whose spool write failed are counted dropped at the bound, not let go as spooled (a replay could not bring them back)', async () => {
    const dir = tempDir();
    const { log, lines } = capturingLog();
    const { db, state } = cuttable(database.db);
    state.down = true;
    const spool = createUsageSpool({ dir, log, sealAfterMs: 60_000 });
    // the spool's first segment cannot be created (a folder has its name): every append fails, as on a full disk
    mkdirSync(join(dir, '000000000001.jsonl'));
    let dropped = 0;
    const w = createUsageWriter(db, { flushMs: 5, bufferMax: 10, batchSize: 4, log, spool, onDropped: (n) => (dropped += n) });
    const reasons = new Map<string, string>();
    const events = Array.from({ length: 50 }, (_, i) => event(i));
    for (const e of events) w.record({ ...e, onDropped: (r) => reasons.set(e.id, r) });
    await w.flush();
    expect(lines.some((l) => /usage spool: segment not created/.test(l.msg))).toBe(true);
    expect(w.pending()).toBeLessThanOrEqual(10);

    state.down = false;
    await waitFor(() => w.pending() === 0, 'the records held to be written', 10_000);
    const written = (await perId(events.map((e) => e.id))).map((r) => r.id);
    // every record is either written or counted dropped, and told so: none vanished as "waiting in the spool"
    expect(written.length).toBeGreaterThanOrEqual(1);
    expect(w.dropped()).toBe(events.length - written.length);
    expect(dropped).toBe(events.length - written.length);
    expect(w.evicted()).toBe(0);
    expect(events.filter((e) => !written.includes(e.id)).every((e) => reasons.get(e.id) === 'dropped')).toBe(true);
    expect(lines.some((l) => /oldest records dropped \(the spool could not write them to disk\)/.test(l.msg))).toBe(true);
    await w.stop(2000);
  });

  it('past the call log byte budget spooled records keep their logs: they leave memory and come back from the segment', async () => {
    const dir = tempDir();
    const { log } = capturingLog();
    const { db, state } = cuttable(database.db);
    state.down = true;
    const w = createUsageWriter(db, { flushMs: 5, bufferMax: 1000, log, spool: createUsageSpool({ dir, log, sealAfterMs: 100 }), callLogBufferBytes: 20_000 });
    const events = Array.from({ length: 30 }, (_, i) => event(i, true));
    for (const e of events) w.record(e);
    await w.flush();
    expect(w.evicted()).toBeGreaterThan(0);
    expect(w.callLogBuffer().stripped).toBe(0);
    state.down = false;
    await waitFor(async () => (await countOf('call_logs', events.map((e) => e.id))) === 30 && segments(dir).length === 0, 'every call log written', 10_000);
    expect(await countOf('usage_records', events.map((e) => e.id))).toBe(30);
    await w.stop(2000);
  });

  it('stop with the database away leaves the records in the spool (not counted lost); the next start writes them', async () => {
    const dir = tempDir();
    const { log, lines } = capturingLog();
    const { db, state } = cuttable(database.db);
    state.down = true;
    const w1 = createUsageWriter(db, { flushMs: 5, bufferMax: 1000, log, spool: createUsageSpool({ dir, log }) });
    const events = Array.from({ length: 15 }, (_, i) => event(i));
    const dropped: string[] = [];
    for (const e of events) w1.record({ ...e, onDropped: (r) => dropped.push(r) });
    await w1.stop(200);
    expect(lines.find((l) => /left in the spool for the next start/.test(l.msg))).toMatchObject({ left: 15 });
    expect(lines.some((l) => /could not be written before shutdown/.test(l.msg))).toBe(false);
    expect(dropped).toEqual([]);
    expect(segments(dir)).toHaveLength(1);

    const w2 = createUsageWriter(database.db, { flushMs: 5, bufferMax: 1000, log, spool: createUsageSpool({ dir, log }) });
    await waitFor(() => segments(dir).length === 0, 'the replay');
    expect(await countOf('usage_records', events.map((e) => e.id))).toBe(15);
    await w2.stop(2000);
  });

  it('a record that comes after the stop is kept in a segment of its own and written by the next start; counted lost when the folder is taken', async () => {
    const dir = tempDir();
    const { log, lines } = capturingLog();
    const w1 = createUsageWriter(database.db, { flushMs: 5, bufferMax: 1000, log, spool: createUsageSpool({ dir, log }) });
    const before = event(1);
    w1.record(before);
    await w1.stop(2000);
    expect(segments(dir)).toEqual([]);
    expect(existsSync(join(dir, '.lock'))).toBe(false);
    // a stream cut at the deadline records its usage a moment after the stop
    const late = event(2);
    const told: string[] = [];
    w1.record({ ...late, onDropped: (r) => told.push(r) });
    expect(segments(dir)).toHaveLength(1);
    expect(readFileSync(join(dir, segments(dir)[0]), 'utf8')).toBe(spoolLine(late));
    // the folder is ours again until the process exits
    expect(readFileSync(join(dir, '.lock'), 'utf8').trim()).toBe(String(process.pid));
    expect(w1.dropped()).toBe(0);
    expect(told).toEqual([]);

    const w2 = createUsageWriter(database.db, { flushMs: 5, bufferMax: 1000, log, spool: createUsageSpool({ dir, log }) });
    await waitFor(() => segments(dir).length === 0, 'the late record to be replayed');
    expect(await perId([before.id, late.id])).toHaveLength(2);
    await w2.stop(2000);

    // another live gateway holds the folder now: the late record cannot be kept, and is counted lost
    const other = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      let dropped = 0;
      const w3 = createUsageWriter(database.db, { flushMs: 5, bufferMax: 1000, log, spool: createUsageSpool({ dir, log }), onDropped: (n) => (dropped += n) });
      await w3.stop(2000);
      writeFileSync(join(dir, '.lock'), `${other.pid}\n`);
      const lost = event(3);
      w3.record({ ...lost, onDropped: (r) => told.push(r) });
      expect(w3.dropped()).toBe(1);
      expect(dropped).toBe(1);
      expect(told).toEqual(['dropped']);
      expect(lines.some((l) => /came after the stop and could not be kept: lost/.test(l.msg) && l.usageId === lost.id)).toBe(true);
      expect(segments(dir)).toEqual([]);
    } finally {
      other.kill('SIGKILL');
    }
  });

  it('lock file: a live other pid refuses the start naming USAGE_SPOOL_DIR; a dead pid or our own is taken over', async () => {
    const dir = tempDir();
    const { log } = capturingLog();
    const other = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      writeFileSync(join(dir, '.lock'), `${other.pid}\n`);
      expect(() => createUsageSpool({ dir, log })).toThrow(SpoolLockedError);
      expect(() => createUsageSpool({ dir, log })).toThrow(/USAGE_SPOOL_DIR .* in use by another running gateway \(pid \d+\)/);
      expect(readFileSync(join(dir, '.lock'), 'utf8').trim()).toBe(String(other.pid));
    } finally {
      other.kill('SIGKILL');
    }
    await new Promise((r) => other.once('exit', r));
    // the pid is dead now: stale
    const a = createUsageSpool({ dir, log });
    expect(readFileSync(join(dir, '.lock'), 'utf8').trim()).toBe(String(process.pid));
    await a.close();
    expect(existsSync(join(dir, '.lock'))).toBe(false);
    // our own pid (a container's gateway restarts as pid 1 again) and garbage are stale too
    for (const content of [`${process.pid}\n`, 'not a pid']) {
      writeFileSync(join(dir, '.lock'), content);
      const s = createUsageSpool({ dir, log });
      expect(readFileSync(join(dir, '.lock'), 'utf8').trim()).toBe(String(process.pid));
      await s.close();
    }
    expect(readdirSync(dir).filter((n) => n.startsWith('.lock'))).toEqual([]);
  });
});
