/*
 * Usage records are buffered and written in batches off the request path; kept while the database is away. With the
 * crash spool (usage-spool.ts) each record is on disk before the backlog takes it, and spooled segments are replayed.
 */
import { getTableName, sql, type SQL } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Db } from '../db/client.js';
import { usageRecords } from '../db/schema.js';
import { UsageBacklog } from './usage-backlog.js';
import type { CallLogEntry } from '../call-log/types.js';
import { insertCallLogs } from '../call-log/insert.js';
import { chunkBySize } from '../call-log/size.js';
import { rowsOf } from '../db/rows-of.js';
import { withUsagePartitions } from '../db/usage-partitions.js';
import type { ReplayJob, UsageSpool } from './usage-spool.js';

export type UsageStatus = 'OK' | 'ERROR' | 'RATE_LIMITED' | 'QUOTA_EXCEEDED' | 'CANCELLED';

/** One invocation's record, as the gateway produced it. */
export interface UsageEvent {
  id: string;
  createdAt: Date;
  apiKeyId: string | null;
  model: string;
  provider: string | null;
  upstreamModel: string | null;
  promptTokens: number;
  completionTokens: number;
  /** Parts of promptTokens / completionTokens, each priced at its own rate (0 when the provider reported none). */
  cachedReadTokens: number;
  cacheWriteTokens: number;
  reasoningTokens: number;
  costUsd: number;
  latencyMs: number;
  ttftMs: number | null;
  status: UsageStatus;
  errorCode: string | null;
  streamed: boolean;
  attempts: number;
  usageExact: boolean;
  metadata: Record<string, unknown> | null;
  /** Set when the response cache answered: the call cost nothing upstream. */
  cacheHit: CacheHitKind | null;
  /** What a cache hit would have cost upstream; 0 otherwise. */
  costSavedUsd: number;
  /** A semantic hit's similarity to the stored prompt (1 for an exact hit); null on a miss. */
  cacheSimilarity: number | null;
  /** The guardrail rules that acted on the call, in order; null when none did. */
  guardrails: GuardrailEvent[] | null;
  /** The caller's key's team when the call was made; null for a key without team. */
  teamId: string | null;
  /** The end user the caller named for this call; null when none. */
  endUser: string | null;
  /** The call log written with the record (same batch); absent when the call's level is NONE. Never published. */
  callLog?: CallLogEntry;
  /** Told once the record is durably written (the trace's usage-write span ends then). */
  onDurable?: () => void;
  /**
   * Told instead when the record will never be written by this process: the database refused it, it was dropped (the
   * buffer's bound, or still unwritten at shutdown), or it was let go from memory and waits in the spool.
   */
  onDropped?: (reason: 'refused' | 'dropped' | 'spooled') => void;
}

export type CacheHitKind = 'EXACT' | 'SEMANTIC';

/** One guardrail rule that acted on an invocation: which policy, on which side, what it did. */
export interface GuardrailEvent {
  policy: string;
  stage: 'INPUT' | 'OUTPUT';
  rule: 'PII' | 'DENY_LIST' | 'INPUT_TOKENS' | 'JSON_SCHEMA';
  action: 'REDACTED' | 'BLOCKED' | 'RESTORED' | 'RETRIED';
  /** What matched, without the matched text itself: e.g. "EMAIL x2" or the deny-list entry's index. */
  detail: string | null;
}

export interface UsageWriterOptions {
  flushMs: number;
  /** Records kept in memory at most while the database is unreachable. */
  bufferMax: number;
  batchSize?: number;
  log: Logger;
  /** Called with each batch once it is durably written (live feed, metrics). */
  onWritten?: (events: UsageEvent[]) => void;
  /** Called with the records dropped because the bound was reached. */
  onDropped?: (count: number) => void;
  /** Bulk path (embedded PGlite's COPY, `Database.copyRows`); any failure falls back to the one-statement insert. */
  copyRows?: (table: string, columns: readonly string[], text: string) => Promise<void>;
  /** Call log bytes kept at most while records wait (default CALL_LOG_BUFFER_BYTES); past it the oldest lose theirs. */
  callLogBufferBytes?: number;
  /**
   * The crash spool: records are appended there first and taken once on disk; the bounds then let records go from
   * memory only (their segments are replayed) instead of dropping them.
   */
  spool?: UsageSpool;
}

export type UsageWriter = ReturnType<typeof createUsageWriter>;

/**
 * The longest wait between two write attempts while the database is away: records buffered during an outage land
 * at most this long after the database is back (plus the pool's reconnect, src/db/client.ts).
 */
export const RETRY_MAX_MS = 1000;

/**
 * The call logs the backlog holds at most while the database is away: a few hundred FULL logs of long prompts. The
 * record bound (USAGE_BUFFER_MAX) was sized for ~1 KB records; without this, buffered bodies would exhaust the heap first.
 */
const CALL_LOG_BUFFER_BYTES = 64 * 1024 * 1024;

/** One call log insert statement carries at most this much (estimated): far from V8's string limit and a huge jsonb. */
const CALL_LOG_STATEMENT_BYTES = 8 * 1024 * 1024;

/**
 * Tries of a batch's call logs that fail while its usage rows went in (so the database is there): past them the logs
 * are dropped (best effort), never the usage records waiting behind them.
 */
const CALL_LOG_TRIES = 3;

/** jsonb (and text) refuse NUL and lone surrogates: one such string from a caller must not block every record. */
function storable(value: string): string {
  // eslint-disable-next-line no-control-regex -- NUL is the character being replaced
  return value.replace(/\u0000/g, '\uFFFD').toWellFormed();
}

/** A copy of JSON-able `value` with every string, object keys included, made storable. */
function storableValue(value: unknown): unknown {
  if (typeof value === 'string') return storable(value);
  if (value === null || typeof value !== 'object') return value;
  const withJson = value as { toJSON?: () => unknown };
  if (typeof withJson.toJSON === 'function') return storableValue(withJson.toJSON());
  if (Array.isArray(value)) return value.map(storableValue);
  // no prototype: a "__proto__" key from the caller's JSON stays a key instead of setting one
  const out = Object.create(null) as Record<string, unknown>;
  for (const [k, v] of Object.entries(value)) out[storable(k)] = storableValue(v);
  return out;
}

/** JSON.stringify writes NUL and lone surrogates as these escapes, and only those: valid pairs stay raw. */
const REFUSED_ESCAPE = /\\u0000|\\ud[89a-f]/i;

/** JSON that jsonb accepts; the copy that cleans values and keys is only made for the rare value that needs it. */
function storableJson(value: unknown): string {
  const json = JSON.stringify(value);
  return REFUSED_ESCAPE.test(json) ? JSON.stringify(storableValue(value)) : json;
}

/** The columns toCopyText writes, in its order. */
export const USAGE_COPY_COLUMNS = [
  'id', 'created_at', 'api_key_id', 'model', 'provider', 'upstream_model', 'prompt_tokens', 'completion_tokens', 'cost_usd',
  'latency_ms', 'ttft_ms', 'status', 'error_code', 'streamed', 'attempts', 'usage_exact', 'metadata',
  'cache_hit', 'cost_saved_usd', 'cache_similarity', 'guardrails', 'team_id', 'end_user',
  'cached_read_tokens', 'cache_write_tokens', 'reasoning_tokens',
] as const;

/** Characters that need work before they reach COPY: NUL, surrogates (maybe lone), backslash, tab, newline, CR. */
// eslint-disable-next-line no-control-regex -- NUL is one of the characters looked for
const NEEDS_WORK = /[\u0000\ud800-\udfff\\\t\n\r]/;

/** A COPY text-format field: \N for null; backslash, tab, newline and carriage return escaped. */
function copyField(v: string | number | boolean | null): string {
  if (v === null) return '\\N';
  if (typeof v === 'boolean') return v ? 't' : 'f';
  if (typeof v === 'number') return String(v);
  // almost every value (names, codes, small JSON) is plain: one scan instead of three replacements
  if (!NEEDS_WORK.test(v)) return v;
  return storable(v).replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

/** The batch as COPY text-format rows (USAGE_COPY_COLUMNS), for embedded PGlite's cheaper bulk path. */
function toCopyText(events: UsageEvent[]): string {
  let out = '';
  for (const e of events) {
    // id, timestamp, key id and status are ours (uuid, ISO date, enum): nothing to escape
    out +=
      `${e.id}\t${e.createdAt.toISOString()}\t${e.apiKeyId ?? '\\N'}\t${copyField(e.model)}\t${copyField(e.provider)}\t${copyField(e.upstreamModel)}\t` +
      `${e.promptTokens}\t${e.completionTokens}\t${e.costUsd.toFixed(10)}\t${e.latencyMs}\t${copyField(e.ttftMs)}\t${e.status}\t` +
      `${copyField(e.errorCode)}\t${e.streamed ? 't' : 'f'}\t${e.attempts}\t${e.usageExact ? 't' : 'f'}\t` +
      `${e.metadata === null ? '\\N' : copyField(storableJson(e.metadata))}\t` +
      `${e.cacheHit ?? '\\N'}\t${e.costSavedUsd.toFixed(10)}\t${copyField(e.cacheSimilarity)}\t` +
      `${e.guardrails === null ? '\\N' : copyField(storableJson(e.guardrails))}\t${e.teamId ?? '\\N'}\t${copyField(e.endUser)}\t` +
      `${e.cachedReadTokens}\t${e.cacheWriteTokens}\t${e.reasoningTokens}\n`;
  }
  return out;
}

/**
 * One statement and one JSON parameter per batch, whatever its size: binding 17 parameters per record
 * costs more CPU (query building, and on embedded PGlite the event loop itself) than Postgres parsing JSON.
 */
function insertBatch(events: UsageEvent[], returning = false): SQL {
  const rows = storableJson(
    events.map((e) => ({
      id: e.id,
      created_at: e.createdAt.toISOString(),
      api_key_id: e.apiKeyId,
      model: e.model,
      provider: e.provider,
      upstream_model: e.upstreamModel,
      prompt_tokens: e.promptTokens,
      completion_tokens: e.completionTokens,
      cost_usd: e.costUsd.toFixed(10),
      latency_ms: e.latencyMs,
      ttft_ms: e.ttftMs,
      status: e.status,
      error_code: e.errorCode,
      streamed: e.streamed,
      attempts: e.attempts,
      usage_exact: e.usageExact,
      metadata: e.metadata,
      cache_hit: e.cacheHit,
      cost_saved_usd: e.costSavedUsd.toFixed(10),
      cache_similarity: e.cacheSimilarity,
      guardrails: e.guardrails,
      team_id: e.teamId,
      end_user: e.endUser,
      cached_read_tokens: e.cachedReadTokens,
      cache_write_tokens: e.cacheWriteTokens,
      reasoning_tokens: e.reasoningTokens,
    })),
  );
  return sql`insert into ${usageRecords} (id, created_at, api_key_id, model, provider, upstream_model, prompt_tokens,
      completion_tokens, cost_usd, latency_ms, ttft_ms, status, error_code, streamed, attempts, usage_exact, metadata,
      cache_hit, cost_saved_usd, cache_similarity, guardrails, team_id, end_user, cached_read_tokens, cache_write_tokens,
      reasoning_tokens)
    select id, created_at, api_key_id, model, provider, upstream_model, prompt_tokens, completion_tokens, cost_usd,
      latency_ms, ttft_ms, status, error_code, streamed, attempts, usage_exact, metadata,
      cache_hit, cost_saved_usd, cache_similarity, guardrails, team_id, end_user, cached_read_tokens, cache_write_tokens,
      reasoning_tokens
    from jsonb_to_recordset(${rows}::jsonb) as r(id uuid, created_at timestamptz, api_key_id uuid, model text,
      provider text, upstream_model text, prompt_tokens int, completion_tokens int, cost_usd numeric, latency_ms int,
      ttft_ms int, status text, error_code text, streamed boolean, attempts int, usage_exact boolean, metadata jsonb,
      cache_hit text, cost_saved_usd numeric, cache_similarity double precision, guardrails jsonb, team_id uuid,
      end_user text, cached_read_tokens int, cache_write_tokens int, reasoning_tokens int)
    on conflict (created_at, id) do nothing${returning ? sql` returning id` : sql``}`;
}

export function createUsageWriter(db: Db, opts: UsageWriterOptions) {
  const { batchSize = 500, callLogBufferBytes = CALL_LOG_BUFFER_BYTES, spool } = opts;
  const backlog = new UsageBacklog(opts.bufferMax, opts.log, opts.onDropped, callLogBufferBytes, spool?.backlog);
  let timer: NodeJS.Timeout | undefined;
  /** The one write attempt running; every write goes through it, so two inserts never take the same records. */
  let running: Promise<void> | undefined;
  let failures = 0;
  let stopped = false;
  let finished = false; // stop() returned: nothing writes the backlog, so a record the spool cannot keep is lost (counted)
  const writeLogs = callLogWriter(db, opts.log);
  const replayStep = spool ? spoolReplayer(db, spool, batchSize, writeLogs, opts) : undefined;

  function take(e: UsageEvent): void {
    backlog.add(e);
    if (backlog.waitingCount >= batchSize && !failures && !running) void flush();
    else schedule(opts.flushMs);
  }

  // records reach the backlog once on disk, in the order they were appended
  spool?.attach({ committed: (events) => events.forEach(take), replayQueued: () => schedule(opts.flushMs) });

  function schedule(delay: number): void {
    if (timer || stopped) return;
    timer = setTimeout(() => {
      timer = undefined;
      void flush();
    }, delay);
    timer.unref();
  }

  async function writeAll(): Promise<void> {
    for (;;) {
      if (!backlog.waitingCount) {
        // spooled segments (an earlier run's, or records let go at a bound) once the live records are written
        if (!replayStep || stopped || !(await replayStep())) return;
        failures = 0;
        continue;
      }
      await writeBacklogBatch(db, backlog, batchSize, writeLogs, opts);
      failures = 0;
    }
  }

  /** Writes everything waiting; on failure keeps it and retries with backoff. Never rejects. */
  function flush(): Promise<void> {
    if (running) return running;
    if (timer) {
      clearTimeout(timer);
      timer = undefined;
    }
    running = (async () => {
      try {
        await writeAll();
      } catch (err) {
        failures++;
        if (failures === 1 || failures % 20 === 0) {
          opts.log.warn({ err, pending: backlog.waitingCount, failures }, 'usage records could not be written; keeping them and retrying');
        }
        // back off while the database is away, but not so far that its return goes unnoticed for long
        schedule(Math.min(RETRY_MAX_MS, opts.flushMs * 2 ** Math.min(failures, 5)));
      } finally {
        running = undefined;
      }
    })();
    return running;
  }

  return {
    record(e: UsageEvent): void {
      if (spool ? !spool.append(e) : finished) backlog.lostAfterStop(e);
      else if (!spool) take(e);
    },
    /** Writes what is waiting (spooled records once on disk), and spooled segments after them. */
    async flush(): Promise<void> {
      await spool?.commit();
      return flush();
    },
    /** Records not yet written (waiting for their spool commit, waiting, or in flight). */
    pending: () => backlog.size + (spool?.uncommitted() ?? 0),
    dropped: () => backlog.dropped,
    /** Spooled records let go from memory at a bound (written later from their segments). */
    evicted: () => backlog.evicted,
    /** The call log bytes held now (estimated), and the logs taken off waiting records to stay within the budget. */
    callLogBuffer: () => ({ bytes: backlog.callLogBytes, stripped: backlog.strippedCallLogs }),
    /** Flushes everything, retrying for up to `deadlineMs`; a record after this goes to the spool for the next start, or is counted lost. */
    async stop(deadlineMs = 10_000): Promise<void> {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      const commitAndFlush = spool ? () => spool.commit().then(flush) : flush;
      await flushUntil(Date.now() + deadlineMs, commitAndFlush, () => backlog.size === 0 && !spool?.uncommitted(), () => failures > 0);
      await (spool ? closeSpool(spool, opts.log) : backlog.lost());
      finished = true;
    },
  };
}

/** Unwritten records are not lost at a stop: their segments stay, and the next start on this folder replays them. */
async function closeSpool(spool: UsageSpool, log: Logger): Promise<void> {
  const left = await spool.close();
  if (left) log.warn({ left, dir: spool.dir }, `${left} usage records left in the spool for the next start`);
}

/** The backlog's oldest batch, with its call logs; on an outage the records go back (and the error is thrown). */
async function writeBacklogBatch(db: Db, backlog: UsageBacklog, batchSize: number, writeLogs: (events: UsageEvent[]) => Promise<void>, opts: UsageWriterOptions): Promise<void> {
  const batch = backlog.take(batchSize);
  let written = batch;
  try {
    await insertEvents(db, opts.copyRows, batch);
  } catch (err) {
    if (!isDataError(err)) {
      backlog.putBack(batch);
      backlog.enforceBound();
      throw err;
    }
    // the database refused a value, not the connection: write one by one, drop only what it refuses
    written = await writeEachDroppingRefused(db, backlog, batch, opts);
  }
  // the database going away here puts the records back with their logs (usage rows already in are skipped)
  await writeLogs(written).catch((err: unknown) => {
    backlog.putBack(written);
    backlog.enforceBound();
    throw err;
  });
  backlog.done();
  announceWritten(written, opts);
}

/**
 * One batch of spooled segments at a time, through the idempotent insert: records written before (by the process
 * that spooled them, or an earlier replay) are skipped by the database, so a replay never duplicates one. A step
 * resolves false when no segment waits; it throws on an outage, and the next step goes on where this one stopped.
 */
function spoolReplayer(db: Db, spool: UsageSpool, batchSize: number, writeLogs: (events: UsageEvent[]) => Promise<void>, opts: UsageWriterOptions) {
  let job: ReplayJob | undefined;
  return async (): Promise<boolean> => {
    if (!(job ??= await spool.nextReplay())) return false;
    const events = spool.parseNext(job, batchSize);
    const inserted = events.length ? await insertReplayed(db, events, opts.log) : new Set<string>();
    await writeLogs(events);
    job.next += batchSize;
    job.inserted = (job.inserted ?? 0) + inserted.size;
    // only the records this replay wrote are news to the live feed
    if (inserted.size) announceWritten(events.filter((e) => inserted.has(e.id)), opts);
    if (job.next >= job.lines.length) {
      spool.replayed(job, job.inserted);
      job = undefined;
    }
    return true;
  };
}

/** The records' creation times, whose days need a partition before they are inserted. */
const createdAts = (events: UsageEvent[]): Date[] => events.map((e) => e.createdAt);

function insertEvents(db: Db, copyRows: UsageWriterOptions['copyRows'], events: UsageEvent[]): Promise<void> {
  return withUsagePartitions(db, createdAts(events), () => insertEventsNow(db, copyRows, events));
}

async function insertEventsNow(db: Db, copyRows: UsageWriterOptions['copyRows'], events: UsageEvent[]): Promise<void> {
  if (copyRows) {
    try {
      return await copyRows(getTableName(usageRecords), USAGE_COPY_COLUMNS, toCopyText(events));
    } catch {
      // COPY has no ON CONFLICT and refuses the whole batch for one bad value: the insert below skips rows
      // already written and reports a refused value (or the outage) as usual
    }
  }
  // ids and times are ours, so a batch re-sent after a lost acknowledgement cannot duplicate rows
  await db.execute(insertBatch(events));
}

/**
 * Spooled records through the insert that skips those already written; the ids it did insert. A value the database
 * refuses is logged and skipped (it can never be written), one record at a time.
 */
async function insertReplayed(db: Db, events: UsageEvent[], log: Logger): Promise<Set<string>> {
  try {
    const rows = await withUsagePartitions(db, createdAts(events), () => db.execute(insertBatch(events, true)));
    return new Set(rowsOf<{ id: string }>(rows).map((r) => r.id));
  } catch (err) {
    if (!isDataError(err)) throw err;
  }
  const inserted = new Set<string>();
  for (const e of events) {
    try {
      for (const r of rowsOf<{ id: string }>(await db.execute(insertBatch([e], true)))) inserted.add(r.id);
    } catch (err) {
      if (!isDataError(err)) throw err;
      log.error({ err, usageId: e.id, model: e.model }, 'usage record refused by the database: dropped');
    }
  }
  return inserted;
}

/** Writes a batch the database refused one record at a time; what it refuses again is dropped (and logged). */
async function writeEachDroppingRefused(db: Db, backlog: UsageBacklog, events: UsageEvent[], opts: UsageWriterOptions): Promise<UsageEvent[]> {
  const written: UsageEvent[] = [];
  for (let i = 0; i < events.length; i++) {
    try {
      await db.execute(insertBatch([events[i]]));
      written.push(events[i]);
    } catch (err) {
      if (!isDataError(err)) {
        // the ones written go back too: their call logs and hooks come with the retry (their rows are skipped then)
        backlog.putBack(written.concat(events.slice(i)));
        throw err;
      }
      backlog.refused(events[i]);
      opts.log.error({ err, usageId: events[i].id, model: events[i].model }, 'usage record refused by the database: dropped');
    }
  }
  return written;
}

/** Tells the hooks (the feed, each record's own) that these records are durably written; a failing hook is logged. */
function announceWritten(written: UsageEvent[], opts: UsageWriterOptions): void {
  try {
    opts.onWritten?.(written);
  } catch (err) {
    opts.log.warn({ err }, 'usage onWritten hook failed');
  }
  for (const e of written) {
    try {
      e.onDurable?.();
    } catch (err) {
      opts.log.warn({ err }, 'usage onDurable hook failed');
    }
  }
}

/**
 * writeCallLogs, giving way after CALL_LOG_TRIES failures in a row: each came right after the batch's usage rows went
 * in, so the database is there and the failure is the logs' own (out of memory, a statement timeout, a grant). Then
 * the logs are dropped (their ids logged) and the usage records behind them go on.
 */
function callLogWriter(db: Db, log: Logger): (written: UsageEvent[]) => Promise<void> {
  let failures = 0;
  return async (written) => {
    try {
      await writeCallLogs(db, written, log);
      failures = 0;
    } catch (err) {
      if (++failures < CALL_LOG_TRIES) throw err;
      failures = 0;
      const ids = written.filter((e) => e.callLog).map((e) => e.id);
      log.error({ sqlState: sqlStateOf(err), err: withoutQuery(err), count: ids.length, invocationIds: ids }, `call logs not written after ${CALL_LOG_TRIES} tries: dropped (their usage records are kept)`);
    }
  };
}

/**
 * The call logs of records just written, one statement per run of at most CALL_LOG_STATEMENT_BYTES. A log the
 * database refuses is dropped (and logged), never its usage record; an outage (or any other failure) throws, and the
 * batch is tried again (runs already in are skipped then).
 */
async function writeCallLogs(db: Db, events: UsageEvent[], log: Logger): Promise<void> {
  let entries: CallLogEntry[] | undefined;
  for (const e of events) if (e.callLog) (entries ??= []).push(e.callLog);
  if (!entries) return;
  for (const chunk of chunkBySize(entries, CALL_LOG_STATEMENT_BYTES)) await writeCallLogChunk(db, chunk, log);
}

async function writeCallLogChunk(db: Db, entries: CallLogEntry[], log: Logger): Promise<void> {
  try {
    await db.execute(insertCallLogs(entries, storableJson));
    return;
  } catch (err) {
    if (!isRefusedValue(err)) throw withoutQuery(err);
  }
  // one of them was refused: each alone, so only the refused ones are lost
  for (const entry of entries) {
    try {
      await db.execute(insertCallLogs([entry], storableJson));
    } catch (err) {
      if (!isRefusedValue(err)) throw withoutQuery(err);
      // the SQLSTATE only: the failed query's text carries the log's bodies, which stay out of the logs
      log.error({ sqlState: sqlStateOf(err), invocationId: entry.id, model: entry.model }, 'call log refused by the database: dropped (its usage record is kept)');
    }
  }
}

/**
 * SQLSTATE classes 22 (data exception), 23 (integrity constraint) and 54 (program limit exceeded, e.g. a tsvector
 * too long): this value can never be stored, so retrying it would only hold back every record after it.
 */
function isRefusedValue(err: unknown): boolean {
  return /^(22|23|54)[0-9A-Z]{3}$/.test(sqlStateOf(err) ?? '');
}

/**
 * The failure of a call log insert as the retry loop logs it: its code, not the failed query, whose parameter holds
 * the logs' bodies.
 */
function withoutQuery(err: unknown): Error {
  const code = sqlStateOf(err) ?? (err as { code?: unknown } | null | undefined)?.code;
  return Object.assign(new Error(`call logs not written (${typeof code === 'string' ? code : 'no error code'})`), { code });
}

/** The SQLSTATE of a database error (or of the error it wraps, as drizzle's DrizzleQueryError does). */
function sqlStateOf(err: unknown): string | undefined {
  for (let e: unknown = err; e && typeof e === 'object'; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

/** Flushes until nothing is left or the deadline passes, pausing between failed attempts. */
async function flushUntil(until: number, flush: () => Promise<void>, empty: () => boolean, failing: () => boolean): Promise<void> {
  for (;;) {
    // an insert stuck on a dead connection must not hold the shutdown past its deadline
    let deadline: NodeJS.Timeout | undefined;
    await Promise.race([flush(), new Promise((r) => (deadline = setTimeout(r, Math.max(0, until - Date.now()))))]);
    clearTimeout(deadline);
    if (empty()) break;
    const left = until - Date.now();
    if (left <= 0) break;
    if (failing()) await new Promise((r) => setTimeout(r, Math.min(250, left)));
  }
}

/** SQLSTATE class 22 (data exception): the statement is wrong for this data, retrying it cannot help. */
const isDataError = (err: unknown): boolean => sqlStateOf(err)?.startsWith('22') ?? false;
