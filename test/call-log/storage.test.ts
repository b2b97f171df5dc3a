/**
 * Issue 26, call log storage: bodies over CALL_LOG_MAX_BODY_BYTES are cut, the usage writer stores logs with their
 * records (a refused log never costs its record, an outage keeps both for the retry, COPY path included), the live
 * feed never carries a log, and retention deletes old logs only.
 */
import { randomUUID } from 'node:crypto';
import { sql, type SQL } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CallLogEntry } from '../../src/call-log/types.js';
import { deleteOldCallLogs, startCallLogRetention } from '../../src/call-log/retention.js';
import { fitBodies } from '../../src/call-log/truncate.js';
import type { Db } from '../../src/db/client.js';
import { createUsageWriter, type UsageEvent } from '../../src/gateway/usage-writer.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { startOpenAIMock, type OpenAIMock } from '../mocks/openai.js';
import { chatOk, withTimeout } from '../gateway/helpers.js';
import { callLogsOf, mockModel, query } from './kit.js';

const MAX_BODY = 4096;

let gw: TestGateway;
let mock: OpenAIMock;

beforeAll(async () => {
  [gw, mock] = await Promise.all([startGateway({ CALL_LOG_MAX_BODY_BYTES: String(MAX_BODY) }), startOpenAIMock()]);
});

afterAll(async () => {
  await gw?.stop();
  await mock?.close();
});

function usageEvent(log: Partial<CallLogEntry> | null): UsageEvent {
  const id = randomUUID();
  const createdAt = new Date();
  return {
    id, createdAt, apiKeyId: null, model: 'cl-storage', provider: 'p', upstreamModel: 'u', promptTokens: 1, completionTokens: 1,
    cachedReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: 0, costUsd: 0, latencyMs: 1, ttftMs: null, status: 'OK', errorCode: null,
    streamed: false, attempts: 1, usageExact: true, metadata: null, cacheHit: null, costSavedUsd: 0, cacheSimilarity: null, guardrails: null,
    teamId: null, endUser: null,
    ...(log && {
      callLog: {
        id, createdAt, requestId: 'req-1', apiKeyId: null, teamId: null, model: 'cl-storage', status: 'OK', level: 'FULL', parameters: {},
        request: { messages: [{ role: 'USER', content: 'hello' }] }, response: { content: 'hi' }, attempts: [], traceId: null,
        searchText: 'hello hi', bodyBytes: 10, truncated: false, ...log,
      },
    }),
  };
}

const countWhere = async (table: 'usage_records' | 'call_logs', ids: string[]) =>
  (await query<{ id: string }>(gw, sql`select id::text as id from ${sql.raw(table)} where id = any(${`{${ids.join(',')}}`}::uuid[])`)).map((r) => r.id).sort();

describe('truncation', () => {
  it('cuts bodies over CALL_LOG_MAX_BODY_BYTES, keeping the structure and the original size', async () => {
    const model = await mockModel(gw, mock, 'FULL');
    const long = `beginning ${'x'.repeat(20_000)} ending`;
    mock.replyOnce({ text: `answer ${'y'.repeat(5000)}` });
    await chatOk(gw, { model, messages: [{ role: 'SYSTEM', content: 'short system' }, { role: 'USER', content: long }], temperature: 0.2 });
    const [row] = await callLogsOf(gw, model, 1);
    expect(row.truncated).toBe(true);
    expect(row.body_bytes).toBeGreaterThan(25_000);
    expect(Buffer.byteLength(JSON.stringify(row.request)) + Buffer.byteLength(JSON.stringify(row.response))).toBeLessThanOrEqual(MAX_BODY);
    // short values survive whole, long ones keep their beginning
    expect(row.request.messages[0]).toMatchObject({ role: 'SYSTEM', content: 'short system' });
    expect(row.request.temperature).toBe(0.2);
    expect(row.request.messages[1].content.startsWith('beginning xxx')).toBe(true);
    expect(row.request.messages[1].content.length).toBeLessThan(4096);
    expect(row.response.content.startsWith('answer yyy')).toBe(true);
    expect(row.response.finishReason).toBe('STOP');
  });

  it('cuts text of any script within the limit, never inside a character', () => {
    const emoji = '😀'.repeat(3000);
    const greek = 'αβγδ'.repeat(2000);
    const out = fitBodies({ messages: [{ role: 'USER', content: emoji }, { role: 'USER', content: greek }] }, { content: 'ok' }, 2048);
    const json = JSON.stringify(out.request) + JSON.stringify(out.response);
    expect(out.truncated).toBe(true);
    expect(out.bodyBytes).toBeGreaterThan(20_000);
    expect(Buffer.byteLength(json)).toBeLessThanOrEqual(2048);
    expect(json.isWellFormed()).toBe(true);
    const [a, b] = (out.request as { messages: Array<{ content: string }> }).messages;
    expect(a.content.startsWith('😀😀')).toBe(true);
    expect(b.content.startsWith('αβγδ')).toBe(true);
    expect(out.response).toEqual({ content: 'ok' });
  });

  it('keeps a body under the limit whole', async () => {
    const model = await mockModel(gw, mock, 'FULL');
    await chatOk(gw, { model, messages: [{ role: 'USER', content: 'small one' }] });
    const [row] = await callLogsOf(gw, model, 1);
    expect(row).toMatchObject({ truncated: false });
    expect(row.request.messages[0].content).toBe('small one');
  });
});

describe('usage writer', () => {
  it('drops a call log the database refuses, never its usage record nor the other logs of the batch', async () => {
    // a time PostgreSQL cannot hold (a size it cannot, 2 ** 40, would be over the writer's call log budget instead)
    const bad = usageEvent({ createdAt: new Date(8.64e15) });
    const good = usageEvent({});
    const odd = usageEvent({ request: { messages: [{ role: 'USER', content: 'nul \u0000 and lone \ud800 here' }] }, searchText: 'nul \u0000 lone \udc00 here' });
    const durable: string[] = [];
    for (const e of [bad, good, odd]) {
      e.onDurable = () => durable.push(e.id);
      gw.app.usage.record(e);
    }
    await gw.flushUsage();
    const ids = [bad.id, good.id, odd.id];
    expect(await countWhere('usage_records', ids)).toEqual([...ids].sort());
    expect(await countWhere('call_logs', ids)).toEqual([good.id, odd.id].sort());
    expect(durable.sort()).toEqual([...ids].sort());
    const refusal = gw.logs.find((l) => l.includes('call log refused by the database') && l.includes(bad.id));
    expect(refusal).toMatch(/"sqlState":"22[0-9A-Z]{3}"/);
    // the failed query (with the log's bodies) stays out of the logs
    expect(gw.logs.join('\n')).not.toContain('nul \\u0000 and lone');
    expect(refusal).not.toContain('hello');
    const [stored] = await query<{ content: string; search: string }>(gw, sql`select request->'messages'->0->>'content' as content, search::text as search from call_logs where id = ${odd.id}::uuid`);
    expect(stored.content).toBe('nul \uFFFD and lone \uFFFD here');
    expect(stored.search).toContain("'lone'");
  });

  it('keeps the batch through an outage while its logs are written, and writes each record and log once (COPY path)', async () => {
    const database = gw.app.services.database;
    const dialect = new PgDialect();
    let failLogs = 1;
    const statements: string[] = [];
    const flaky = {
      execute: async (q: SQL) => {
        const text = dialect.sqlToQuery(q).sql;
        // the day's partition, made once before the first insert, is not a write of records or logs
        if (!text.includes('usage_records_add_partition')) statements.push(text.includes('call_logs') ? 'logs' : 'usage');
        if (text.includes('call_logs') && failLogs-- > 0) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
        return database.db.execute(q);
      },
    } as unknown as Db;
    let copies = 0;
    const w = createUsageWriter(flaky, {
      flushMs: 10,
      bufferMax: 100,
      log: gw.app.services.log,
      copyRows: async (table, columns, text) => {
        copies++;
        await database.copyRows!(table, columns, text);
      },
    });
    const events = [usageEvent({}), usageEvent({}), usageEvent(null)];
    let durable = 0;
    for (const e of events) {
      e.onDurable = () => durable++;
      w.record(e);
    }
    await w.flush();
    expect(durable).toBe(0);
    expect(w.pending()).toBe(3);
    await withTimeout(
      (async () => {
        while (w.pending() > 0) await new Promise((r) => setTimeout(r, 20));
      })(),
      5000,
      'the retry',
    );
    await w.stop();
    const ids = events.map((e) => e.id);
    expect(await countWhere('usage_records', ids)).toEqual([...ids].sort());
    expect(await countWhere('call_logs', ids)).toEqual([ids[0], ids[1]].sort());
    expect(durable).toBe(3);
    // the first COPY wrote the records; the retry's COPY met them and the insert that skips them took over
    expect(copies).toBe(2);
    expect(statements).toEqual(['logs', 'usage', 'logs']);
    // the outage is logged by its code, without the failed query's bodies
    const outage = gw.logs.find((l) => l.includes('call logs not written (ECONNREFUSED)'));
    expect(outage).toBeDefined();
    expect(outage).not.toContain('hello');
  });

  it('never hands a call log (or its hook) to the live feed', async () => {
    const model = await mockModel(gw, mock, 'FULL');
    const sub = gw.app.services.feed.subscribe();
    const it = sub[Symbol.asyncIterator]();
    const next = it.next();
    await chatOk(gw, { model, messages: [{ role: 'USER', content: 'feed me' }] });
    await gw.flushUsage();
    const { value } = await withTimeout(next, 3000, 'a feed event');
    await it.return?.();
    expect(value.model).toBe(model);
    expect(Object.keys(value)).not.toContain('callLog');
    expect(Object.keys(value)).not.toContain('onDurable');
    expect(Object.keys(value)).not.toContain('onDropped');
    expect(JSON.stringify(value)).not.toContain('feed me');
    expect(await callLogsOf(gw, model, 1)).toHaveLength(1);
  });
});

describe('usage writer: call logs are best effort', () => {
  const dialect = new PgDialect();
  const isLogs = (q: SQL) => dialect.sqlToQuery(q).sql.includes('call_logs');

  it('drops the logs of a batch after a few failures of their own, and writes the usage records', async () => {
    const database = gw.app.services.database;
    let logTries = 0;
    const logsFail = {
      execute: async (q: SQL) => {
        if (isLogs(q)) {
          logTries++;
          throw Object.assign(new Error('out of memory'), { code: '53200' });
        }
        return database.db.execute(q);
      },
    } as unknown as Db;
    const written: string[] = [];
    const dropped: string[] = [];
    const w = createUsageWriter(logsFail, { flushMs: 5, bufferMax: 100, log: gw.app.services.log, onWritten: (es) => written.push(...es.map((e) => e.id)) });
    const events = [usageEvent({}), usageEvent({}), usageEvent(null)];
    for (const e of events) {
      e.onDropped = () => dropped.push(e.id);
      w.record(e);
    }
    await withTimeout(
      (async () => {
        while (w.pending() > 0) await new Promise((r) => setTimeout(r, 20));
      })(),
      4000,
      'the writer giving up on the logs',
    );
    await w.stop();
    const ids = events.map((e) => e.id);
    expect(written.sort()).toEqual([...ids].sort());
    expect(dropped).toEqual([]);
    expect(logTries).toBe(3);
    expect(await countWhere('usage_records', ids)).toEqual([...ids].sort());
    const line = gw.logs.find((l) => l.includes('call logs not written after 3 tries') && l.includes(ids[0]));
    expect(line).toContain('"sqlState":"53200"');
    expect(line).toContain('"count":2');
  });

  it('cuts a batch of large logs into several statements', async () => {
    let logStatements = 0;
    const counting = {
      execute: async (q: SQL) => {
        if (isLogs(q)) logStatements++;
        else await gw.app.services.database.db.execute(q);
        return { rows: [] };
      },
    } as unknown as Db;
    const w = createUsageWriter(counting, { flushMs: 5, bufferMax: 100, log: gw.app.services.log });
    const mib = 'x'.repeat(1024 * 1024);
    for (let i = 0; i < 20; i++) w.record(usageEvent({ request: { messages: [{ role: 'USER', content: mib }] }, searchText: mib, bodyBytes: mib.length + 40 }));
    await w.stop();
    expect(w.pending()).toBe(0);
    expect(logStatements).toBeGreaterThan(1);
  });

  it('keeps the call logs it buffers within the byte budget, and every record', async () => {
    const down = { execute: () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })) } as unknown as Db;
    const budget = 16 * 1024 * 1024;
    const w = createUsageWriter(down, { flushMs: 60_000, bufferMax: 1000, log: gw.app.services.log, callLogBufferBytes: budget });
    const events = Array.from({ length: 200 }, () => usageEvent({ bodyBytes: 1024 * 1024 }));
    for (const e of events) w.record(e);
    await w.flush();
    expect(w.pending()).toBe(200);
    expect(w.callLogBuffer().bytes).toBeLessThanOrEqual(budget);
    const kept = events.filter((e) => e.callLog);
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThanOrEqual(16);
    // the oldest lost theirs first
    expect(events.at(-1)!.callLog).toBeDefined();
    expect(events[0].callLog).toBeUndefined();
    expect(w.callLogBuffer().stripped).toBe(200 - kept.length);
    await w.stop(0);
  });

  it('tells a refused or dropped record\'s hook, which ends its trace span', async () => {
    const refused = usageEvent(null);
    refused.latencyMs = 2 ** 40;
    const reasons: string[] = [];
    refused.onDropped = (r) => reasons.push(`refused:${r}`);
    const w = createUsageWriter(gw.app.services.database.db, { flushMs: 5, bufferMax: 1, log: gw.app.services.log });
    w.record(refused);
    await w.flush();
    expect(reasons).toEqual(['refused:refused']);
    const down = { execute: () => Promise.reject(Object.assign(new Error('down'), { code: 'ECONNREFUSED' })) } as unknown as Db;
    const w2 = createUsageWriter(down, { flushMs: 60_000, bufferMax: 1, log: gw.app.services.log });
    const [a, b] = [usageEvent(null), usageEvent(null)];
    a.onDropped = (r) => reasons.push(`a:${r}`);
    b.onDropped = (r) => reasons.push(`b:${r}`);
    w2.record(a);
    w2.record(b);
    expect(reasons).toContain('a:dropped');
    await w2.stop(0);
    expect(reasons).toEqual(['refused:refused', 'a:dropped', 'b:dropped']);
  });
});

describe('retention', () => {
  async function insertAged(daysAgo: number): Promise<string> {
    const id = randomUUID();
    await query(gw, sql`insert into call_logs (id, created_at, model, status, level, attempts)
      values (${id}::uuid, now() - ${daysAgo} * interval '1 day', 'cl-retention', 'OK', 'METADATA', '[]'::jsonb)`);
    return id;
  }
  const left = async () => (await query<{ id: string }>(gw, sql`select id::text as id from call_logs where model = 'cl-retention'`)).map((r) => r.id).sort();

  it('deletes the logs older than the retention, in batches, and keeps the others', async () => {
    const old = [await insertAged(45), await insertAged(31), await insertAged(400)];
    const kept = [await insertAged(29), await insertAged(0)];
    expect(await deleteOldCallLogs(gw.app.services.database.db, 30, { batch: 2 })).toEqual({ deleted: 3, done: true });
    expect(await left()).toEqual([...kept].sort());
    expect(old).toHaveLength(3);
  });

  it('stops between batches: stop() does not wait for the rest of a long sweep', async () => {
    const ids = [await insertAged(90), await insertAged(91), await insertAged(92)];
    const database = gw.app.services.database;
    let deletes = 0;
    const slow = {
      execute: async (q: SQL) => {
        deletes++;
        await new Promise((r) => setTimeout(r, 50));
        return database.db.execute(q);
      },
    } as unknown as Db;
    const sweep = startCallLogRetention(slow, 30, gw.app.services.log, { batch: 1 });
    while (deletes < 1) await new Promise((r) => setTimeout(r, 5));
    const t0 = Date.now();
    await sweep.stop();
    expect(Date.now() - t0).toBeLessThan(120);
    expect(deletes).toBeLessThan(3);
    const rest = (await left()).filter((id) => ids.includes(id));
    expect(rest.length).toBeGreaterThan(0);
    // the others' rows: the next test's sweep must not meet them
    await deleteOldCallLogs(database.db, 30);
  });

  it('sweeps at start (then hourly) and stops', async () => {
    const old = await insertAged(10);
    const kept = await insertAged(1);
    const sweep = startCallLogRetention(gw.app.services.database.db, 5, gw.app.services.log);
    await sweep.stop();
    const ids = await left();
    expect(ids).toContain(kept);
    expect(ids).not.toContain(old);
  });
});
