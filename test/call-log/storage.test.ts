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
    const bad = usageEvent({ bodyBytes: 2 ** 40 });
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
    expect(gw.logs.some((l) => l.includes('call log refused by the database') && l.includes(bad.id))).toBe(true);
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
        statements.push(text.includes('call_logs') ? 'logs' : 'usage');
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
    expect(JSON.stringify(value)).not.toContain('feed me');
    expect(await callLogsOf(gw, model, 1)).toHaveLength(1);
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
    expect(await deleteOldCallLogs(gw.app.services.database.db, 30, 2)).toBe(3);
    expect(await left()).toEqual([...kept].sort());
    expect(old).toHaveLength(3);
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
