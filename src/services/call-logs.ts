/* Call log reads: one invocation by its id or request id, newest-first pages with filters and full-text search. */
import { and, eq, getTableColumns, gte, inArray, lt, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { callLogs, type CallLogRow } from '../db/schema.js';
import { badInput } from '../errors.js';
import { isUuid } from '../util/input-rules.js';
import type { UsageReadScope } from './access.js';
import { decodeCursor, encodeCursor } from './usage-queries.js';

/** A call log row as the API reads it: everything but the search vector. */
export type CallLogRecord = Omit<CallLogRow, 'search'>;

export interface InvocationFilter {
  /** A key's id (the GraphQL filter's ApiKey global id, decoded). */
  apiKeyId?: string | null;
  model?: string | null;
  status?: string | null;
  /** Inclusive. */
  from?: Date | null;
  /** Exclusive. */
  to?: Date | null;
  /** Words (websearch syntax: "a phrase", or, -not) the request or answer text holds; FULL rows only. */
  search?: string | null;
  requestId?: string | null;
}

export interface InvocationPage {
  edges: Array<{ cursor: string; node: CallLogRecord }>;
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

export const MAX_SEARCH_CHARS = 500;
export const MAX_INVOCATION_PAGE = 200;
const DEFAULT_INVOCATION_PAGE = 50;

const { search: _search, ...recordColumns } = getTableColumns(callLogs);

/** Whose logs the caller reads: the same scope as usage records (access.ts usageReadScope). */
function scopeConditions(scope: UsageReadScope): SQL[] {
  if (scope.kind === 'key') return [eq(callLogs.apiKeyId, scope.keyId)];
  if (scope.kind === 'team') return [eq(callLogs.teamId, scope.teamId)];
  return [];
}

function filterConditions(filter: InvocationFilter | null | undefined): SQL[] {
  if (!filter) return [];
  const c: SQL[] = [];
  if (filter.apiKeyId) {
    if (!isUuid(filter.apiKeyId)) throw badInput('filter.apiKeyId', 'is not a valid key id');
    c.push(eq(callLogs.apiKeyId, filter.apiKeyId));
  }
  if (filter.model) c.push(eq(callLogs.model, filter.model));
  if (filter.status) c.push(eq(callLogs.status, filter.status));
  if (filter.requestId) c.push(eq(callLogs.requestId, filter.requestId));
  if (filter.from && filter.to && filter.from > filter.to) throw badInput('filter.from', 'must not be after filter.to');
  if (filter.from) c.push(gte(callLogs.createdAt, filter.from));
  if (filter.to) c.push(lt(callLogs.createdAt, filter.to));
  if (filter.search != null) {
    const q = filter.search.trim();
    if (!q) throw badInput('filter.search', 'must not be empty');
    if (q.length > MAX_SEARCH_CHARS) throw badInput('filter.search', `must be at most ${MAX_SEARCH_CHARS} characters`);
    // 'simple': a word finds exactly that word, as the writer's to_tsvector('simple', …) stored it (no stemming)
    c.push(sql`${callLogs.search} @@ websearch_to_tsquery('simple', ${q})`);
  }
  return c;
}

function pageSize(value: number | null | undefined, arg: 'first' | 'last'): number {
  const size = value ?? DEFAULT_INVOCATION_PAGE;
  if (!Number.isInteger(size) || size < 0 || size > MAX_INVOCATION_PAGE) throw badInput(arg, `must be between 0 and ${MAX_INVOCATION_PAGE}`);
  return size;
}

/** The invocation id an id names: itself, or the invocation of a ChatChunk id (`<invocation id>:<index>`). */
function invocationIdIn(id: string): string | null {
  if (isUuid(id)) return id;
  const chunk = /^([^:]+):\d+$/.exec(id);
  return chunk && isUuid(chunk[1]) ? chunk[1] : null;
}

export type CallLogQueries = ReturnType<typeof createCallLogQueries>;

export function createCallLogQueries(db: Db) {
  return {
    /**
     * The invocation with this id, or else the newest invocation of the request with this request id; null when
     * there is none inside `scope` (out of scope answers as missing, so ids do not reveal that a call exists).
     */
    async byId(id: string, scope: UsageReadScope): Promise<CallLogRecord | null> {
      if (!id) return null;
      const invocationId = invocationIdIn(id);
      const match = invocationId ? sql`(${callLogs.id} = ${invocationId}::uuid or ${callLogs.requestId} = ${id})` : eq(callLogs.requestId, id);
      const [row] = await db
        .select(recordColumns)
        .from(callLogs)
        .where(and(...scopeConditions(scope), match))
        // an invocation id names that invocation even if some request reused the same text as its request id
        .orderBy(...(invocationId ? [sql`(${callLogs.id} = ${invocationId}::uuid) desc`] : []), sql`${callLogs.createdAt} desc`, sql`${callLogs.id} desc`)
        .limit(1);
      return row ?? null;
    },

    /** Logs by invocation id (UsageRecord.invocation's loader), restricted to `scope`; null where there is none. */
    async byIds(ids: readonly string[], scope: UsageReadScope): Promise<Array<CallLogRecord | null>> {
      const valid = ids.filter(isUuid);
      if (!valid.length) return ids.map(() => null);
      const rows = await db
        .select(recordColumns)
        .from(callLogs)
        .where(and(...scopeConditions(scope), inArray(callLogs.id, valid)));
      const byId = new Map(rows.map((r) => [r.id.toLowerCase(), r]));
      return ids.map((id) => byId.get(id.toLowerCase()) ?? null);
    },

    /**
     * One page of the newest-first list (created_at desc, id desc): `first` rows from the start or after `after`, or
     * with `last` the `last` rows from the oldest end or before `before` (Relay's two-way cursor connections).
     */
    async page(args: {
      filter?: InvocationFilter | null;
      first?: number | null;
      after?: string | null;
      last?: number | null;
      before?: string | null;
      scope: UsageReadScope;
    }): Promise<InvocationPage> {
      const backward = args.last != null;
      const size = backward ? pageSize(args.last, 'last') : pageSize(args.first, 'first');
      const after = args.after != null ? decodeCursor(args.after, 'after') : null;
      const before = args.before != null ? decodeCursor(args.before, 'before') : null;
      const c = [...scopeConditions(args.scope), ...filterConditions(args.filter)];
      // a row comparison is one range condition on (created_at desc, id desc): the index seeks straight to the cursor
      if (after) c.push(sql`(${callLogs.createdAt}, ${callLogs.id}) < (${after.createdAt}::timestamptz, ${after.id}::uuid)`);
      if (before) c.push(sql`(${callLogs.createdAt}, ${callLogs.id}) > (${before.createdAt}::timestamptz, ${before.id}::uuid)`);
      const rows = await db
        .select({
          ...recordColumns,
          // the cursor keeps the microseconds a JS Date drops, so rows sharing a millisecond are not skipped
          cursorAt: sql<string>`to_char(${callLogs.createdAt} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`,
        })
        .from(callLogs)
        .where(c.length ? and(...c) : undefined)
        // a backward page reads the window from its oldest end: the same index, read the other way
        .orderBy(...(backward ? [sql`${callLogs.createdAt} asc`, sql`${callLogs.id} asc`] : [sql`${callLogs.createdAt} desc`, sql`${callLogs.id} desc`]))
        .limit(size + 1);
      const kept = rows.slice(0, size);
      if (backward) kept.reverse();
      const edges = kept.map(({ cursorAt, ...node }) => ({ cursor: encodeCursor({ createdAt: cursorAt, id: node.id }), node }));
      const more = rows.length > size;
      return {
        edges,
        pageInfo: {
          // beyond the cursor a page starts from lies at least the cursor's own row (or its place)
          hasNextPage: backward ? before != null : more,
          hasPreviousPage: backward ? more : after != null,
          startCursor: edges[0]?.cursor ?? null,
          endCursor: edges.at(-1)?.cursor ?? null,
        },
      };
    },
  };
}
