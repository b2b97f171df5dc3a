/* Usage reads: newest-first cursor pages, per-key month-to-date totals, grouped summaries and series (usage-rollups.ts), retention. */
import { and, eq, getTableColumns, gte, inArray, isNotNull, isNull, lt, or, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { deleteBatchBefore } from '../db/delete-before.js';
import { dropUsagePartitionsBefore } from '../db/usage-partitions.js';
import { usageRecords, type UsageRow } from '../db/schema.js';
import { badInput } from '../errors.js';
import { isUuid } from '../util/input-rules.js';
import type { UsageReadScope } from './access.js';
import { toUsageScope, type UsageFilter } from './usage-filter.js';
import { createUsageRollupQueries } from './usage-rollups.js';

export interface UsageTotals {
  requests: number;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
}

export interface UsagePage {
  edges: Array<{ cursor: string; node: UsageRow }>;
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

/** UTC, up to microseconds (what timestamptz holds; a JS Date keeps only milliseconds). */
const KEY_TS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;

/** A record's primary key, (created_at, id), as cursors and UsageRecord's global ids carry it. */
export interface RecordKey {
  createdAt: string;
  id: string;
}

export function recordKey(row: { createdAt: Date | string; id: string }): string {
  const at = typeof row.createdAt === 'string' ? row.createdAt : row.createdAt.toISOString();
  return `${at}|${row.id}`;
}

/** Null when the text is not a record key (the caller answers BAD_USER_INPUT naming its argument). */
export function parseRecordKey(text: string): RecordKey | null {
  const parts = text.split('|');
  const [at, id] = parts;
  if (parts.length !== 2 || !at || !id || !KEY_TS.test(at) || Number.isNaN(Date.parse(at)) || !isUuid(id)) return null;
  return { createdAt: at, id };
}

/**
 * A cursor is the row's exact sort key (created_at to the microsecond, id): a millisecond Date would
 * skip rows that share the millisecond but not the microsecond.
 */
export function encodeCursor(row: { createdAt: Date | string; id: string }): string {
  return Buffer.from(recordKey(row)).toString('base64url');
}

export function decodeCursor(cursor: string, arg: 'after' | 'before'): RecordKey {
  const key = parseRecordKey(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!key) throw badInput(arg, 'is not a valid cursor');
  return key;
}

/** The largest page, and the one given when neither `first` nor `last` is. */
const MAX_PAGE = 500;
const DEFAULT_PAGE = 50;

/** How many rows a page asks for, and from which end of the newest-first list. */
function pageSize(first: number | null | undefined, last: number | null | undefined): { size: number; backward: boolean } {
  if (first != null && last != null) throw badInput('last', 'cannot be combined with first: page forward with first/after, backward with last/before');
  const [size, arg] = last != null ? [last, 'last'] : [first ?? DEFAULT_PAGE, 'first'];
  if (!Number.isInteger(size) || size < 0 || size > MAX_PAGE) throw badInput(arg, `must be between 0 and ${MAX_PAGE}`);
  return { size, backward: last != null };
}

const sortKey = sql`(${usageRecords.createdAt}, ${usageRecords.id})`;
const keyRow = (k: RecordKey) => sql`(${k.createdAt}::timestamptz, ${k.id}::uuid)`;

const DAY_MS = 86_400_000;

/**
 * The lower bounds a newest-first page tries in turn, from the UTC day of `upper` (the cursor's, or now's) back: a
 * week, a month, a year, then none. Each is written into the statement as a literal: Postgres prunes the day
 * partitions at plan time only on constants, and planning (and opening) every day's partition is what a page of a
 * year of history would otherwise cost. A bound that holds more rows than the page asks for gives the same rows as
 * none (the page is the newest rows of it), so the answers do not change; only sparse filters reach further.
 */
function recentBounds(upper: Date): Array<Date | null> {
  const day = dayOf(upper).getTime();
  return [0, 7, 31, 366].map((d): Date | null => new Date(day - d * DAY_MS)).concat(null);
}

/** The start of the UTC day of a record key, and of the next day. */
const dayOf = (k: RecordKey | Date): Date => new Date(Math.floor(new Date(k instanceof Date ? k : k.createdAt).getTime() / DAY_MS) * DAY_MS);
const dayAfter = (k: RecordKey): Date => new Date(dayOf(k).getTime() + DAY_MS);

/** A timestamp as a constant of the statement (for plan-time partition pruning); ours (a Date), never the caller's text. */
const atLiteral = (t: Date) => sql.raw(`'${t.toISOString()}'::timestamptz`);

/** `readScope` restricts to the records the caller reads (access.ts). */
function conditions(filter: UsageFilter | null | undefined, readScope: UsageReadScope): SQL[] {
  const scope = toUsageScope(filter, readScope);
  const c = scope.apiKeyIds.map((id) => eq(usageRecords.apiKeyId, id));
  for (const id of scope.teamIds) c.push(eq(usageRecords.teamId, id));
  if (scope.endUser) c.push(eq(usageRecords.endUser, scope.endUser));
  if (scope.model) c.push(eq(usageRecords.model, scope.model));
  if (scope.provider) c.push(eq(usageRecords.provider, scope.provider));
  if (scope.status) c.push(eq(usageRecords.status, scope.status));
  if (scope.cacheHit !== null) c.push(scope.cacheHit ? isNotNull(usageRecords.cacheHit) : isNull(usageRecords.cacheHit));
  if (scope.from) c.push(gte(usageRecords.createdAt, scope.from));
  if (scope.to) c.push(lt(usageRecords.createdAt, scope.to));
  return c;
}

function monthStart(now = new Date()): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
}

export type UsageQueries = ReturnType<typeof createUsageQueries>;

export function createUsageQueries(db: Db, opts: { recentFirst?: boolean } = {}) {
  const recentFirst = opts.recentFirst ?? true;
  async function monthToDateBy(column: typeof usageRecords.apiKeyId | typeof usageRecords.teamId, ids: readonly string[]): Promise<UsageTotals[]> {
    const rows = await db
      .select({
        id: column,
        requests: sql<number>`count(*)::int`,
        promptTokens: sql<number>`coalesce(sum(${usageRecords.promptTokens}), 0)::bigint`,
        completionTokens: sql<number>`coalesce(sum(${usageRecords.completionTokens}), 0)::bigint`,
        costUsd: sql<string>`coalesce(sum(${usageRecords.costUsd}), 0)`,
      })
      .from(usageRecords)
      .where(and(inArray(column, [...ids]), gte(usageRecords.createdAt, monthStart())))
      .groupBy(column);
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.map((id) => {
      const r = byId.get(id);
      return {
        requests: Number(r?.requests ?? 0),
        promptTokens: Number(r?.promptTokens ?? 0),
        completionTokens: Number(r?.completionTokens ?? 0),
        costUsd: Number(r?.costUsd ?? 0),
      };
    });
  }

  // summaries and series read the rollups, which the database keeps equal to the records
  const rollups = createUsageRollupQueries(db);
  return {
    /**
     * One page of the newest-first list, either way (Relay's cursor connections): `first` items from the start or
     * after `after`, or `last` items from the end or before `before`. hasNextPage/hasPreviousPage are true exactly
     * when items lie beyond the page on that side: one more row read on the page's side, an EXISTS at the cursor's.
     */
    async page(args: {
      filter?: UsageFilter | null;
      first?: number | null;
      after?: string | null;
      last?: number | null;
      before?: string | null;
      readScope: UsageReadScope;
    }): Promise<UsagePage> {
      const { size, backward } = pageSize(args.first, args.last);
      const after = args.after ? decodeCursor(args.after, 'after') : null;
      const before = args.before ? decodeCursor(args.before, 'before') : null;
      const c = conditions(args.filter, args.readScope);
      const since = toUsageScope(args.filter, args.readScope).from;
      const window = [...c];
      // a row comparison is one range condition on (created_at desc, id desc): the index seeks straight to the cursor
      if (after) window.push(sql`${sortKey} < ${keyRow(after)}`);
      if (before) window.push(sql`${sortKey} > ${keyRow(before)}`);
      // the cursor the page starts from: is anything at it or beyond (the list before `after`, after `before`)?
      const from = backward ? before : after;
      const beyond = from
        ? db
            .select({ one: sql<number>`1` })
            .from(usageRecords)
            // with the cursor's day as a constant too, which prunes the days on the other side at plan time
            .where(
              and(
                ...c,
                backward
                  ? sql`${sortKey} <= ${keyRow(from)} and ${usageRecords.createdAt} < ${atLiteral(dayAfter(from))}`
                  : sql`${sortKey} >= ${keyRow(from)} and ${usageRecords.createdAt} >= ${atLiteral(dayOf(from))}`,
              ),
            )
            .limit(1)
        : null;
      const readPage = (extra: SQL[]) =>
        db
          .select({
            ...getTableColumns(usageRecords),
            cursorAt: sql<string>`to_char(${usageRecords.createdAt} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`,
          })
          .from(usageRecords)
          .where(window.length || extra.length ? and(...window, ...extra) : undefined)
          // plain DESC (nulls first: both columns are NOT NULL) is what the default-ordered indexes give read
          // backwards; Postgres does not match `DESC NULLS LAST` to them and would sort the whole table for every page.
          // A backward page reads the window from its oldest end: the same indexes read forwards
          .orderBy(...(backward ? [sql`${usageRecords.createdAt} asc`, sql`${usageRecords.id} asc`] : [sql`${usageRecords.createdAt} desc`, sql`${usageRecords.id} desc`]))
          .limit(size + 1);
      // a forward page reads the newest days first (recentBounds), a backward one starts from the oldest end
      const bounds = backward || !recentFirst ? [null] : recentBounds(after ? dayOf(after) : new Date());
      // past the cursor's day nothing can be on the page: a constant the planner prunes the newer days with
      const below = after ? [sql`${usageRecords.createdAt} < ${atLiteral(dayAfter(after))}`] : [];
      // the cursor's check goes out first (drizzle sends a statement when it is awaited)
      const beyondSent = beyond ? beyond.then((r) => r) : Promise.resolve([]);
      const readNewest = async () => {
        for (const bound of bounds) {
          const last = !bound || (since != null && bound.getTime() <= since.getTime());
          // the page's statement goes out last: test/usage/plans.test.ts explains the last statement sent
          const rows = await readPage(bound && !last ? [...below, sql`${usageRecords.createdAt} >= ${atLiteral(bound)}`] : below);
          if (last || rows.length > size) return rows;
        }
        throw new Error('unreachable: the last bound is none');
      };
      const [beyondRows, rows] = await Promise.all([beyondSent, readNewest()]);
      const more = rows.length > size;
      const kept = rows.slice(0, size);
      if (backward) kept.reverse();
      const edges = kept.map(({ cursorAt, ...node }) => ({ cursor: encodeCursor({ createdAt: cursorAt, id: node.id }), node }));
      const hasBeyond = beyondRows.length > 0;
      return {
        edges,
        pageInfo: {
          hasNextPage: backward ? hasBeyond : more,
          hasPreviousPage: backward ? more : hasBeyond,
          startCursor: edges[0]?.cursor ?? null,
          endCursor: edges.at(-1)?.cursor ?? null,
        },
      };
    },

    /** Records by key, restricted to what the caller reads like pages are (`readScope`); null where there is none. */
    async byKeys(keys: readonly RecordKey[], readScope: UsageReadScope): Promise<Array<UsageRow | null>> {
      if (!keys.length) return [];
      // a global id holds created_at to the millisecond (a JS Date's), the column may hold microseconds: the key's
      // millisecond is a range on the primary key, not a scan for the id
      const match = keys.map(
        (k) =>
          sql`(${usageRecords.createdAt} >= ${k.createdAt}::timestamptz and ${usageRecords.createdAt} < ${k.createdAt}::timestamptz + interval '1 millisecond' and ${usageRecords.id} = ${k.id}::uuid)`,
      );
      const rows = await db
        .select()
        .from(usageRecords)
        .where(and(...conditions(null, readScope), or(...match)));
      return keys.map((k) => rows.find((r) => r.id === k.id) ?? null);
    },

    /** Totals since the start of the calendar month (UTC), for many keys in one statement. */
    monthToDate: (keyIds: readonly string[]): Promise<UsageTotals[]> => monthToDateBy(usageRecords.apiKeyId, keyIds),

    /** The same for many teams: the records of their keys' calls (each record keeps the team its key had). */
    teamMonthToDate: (teamIds: readonly string[]): Promise<UsageTotals[]> => monthToDateBy(usageRecords.teamId, teamIds),

    summary: rollups.summary,
    series: rollups.series,
    sealQuantiles: rollups.sealQuantiles,

    /**
     * Deletes records older than `days`, in small batches so the table is never locked for long. Each batch's
     * statement also takes its records out of the rollups (the delete trigger of migrations/0004…): the hours before
     * the cutoff lose their rollup rows, the hour it cuts keeps the records it still has.
     */
    async deleteOlderThan(days: number, batch = 5000): Promise<number> {
      const cutoff = new Date(Date.now() - days * 86_400_000);
      let total = 0;
      for (;;) {
        const n = await deleteBatchBefore(db, usageRecords, usageRecords.createdAt, cutoff, batch);
        total += n;
        if (n < batch) return total;
      }
    },

    /**
     * Usage retention: the day partitions wholly older than `days` are dropped (with their rollup hours), then the
     * records before the cutoff that are left (in the day it cuts, and in the default partition) are deleted in
     * batches as deleteOlderThan does. A dropped day's records are not counted: counting them would read them.
     */
    async retain(days: number, batch = 5000): Promise<{ partitions: string[]; deleted: number }> {
      const partitions = await dropUsagePartitionsBefore(db, new Date(Date.now() - days * 86_400_000));
      return { partitions, deleted: await this.deleteOlderThan(days, batch) };
    },
  };
}
