/*
 * Limits of keys, teams and end users: admission before the call, settlement to the real usage after it.
 * The subjects a call is limited as are in limit-subjects.ts.
 */
import { and, eq, gte, inArray, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Db } from '../db/client.js';
import { usageRecords, type ApiKeyRow } from '../db/schema.js';
import type { Principal } from '../services/keys.js';
import type { SubjectKind, UsageScope } from './limit-subjects.js';

export interface Reservation {
  /** Replace the estimate with what the call really used (tokens, USD). */
  settle(actual: { tokens: number; costUsd: number }): void;
}

export interface AdmitRequest {
  principal: Principal;
  model: string;
  /** Prompt tokens counted plus maxTokens (or a default): what the call may use at most. */
  estimatedTokens: number;
  /** Worst-case cost of the estimate, for budgets. */
  estimatedCostUsd: number;
  /**
   * A call that uses no tokens and no budget (a response-cache hit): only requestsPerMinute is checked and counted;
   * the token rate, the daily tokens and the monthly budget neither refuse it nor move.
   */
  requestOnly?: boolean;
  /**
   * The end user the caller named for this call: the key's and the team's end-user limits apply to it (each end user
   * has its own counters under each). Null or omitted: no end-user limit applies.
   */
  endUser?: string | null;
}

/**
 * A monthly budget counter (a key's or a team's) as it stands after a call settled: where budget alerts look for
 * crossed thresholds. Told off the call path; a listener must not throw or block.
 */
export interface BudgetReading {
  subjectKind: 'TEAM' | 'API_KEY';
  subjectId: string;
  /** The team the subject is or belongs to; null for a key without team. */
  teamId: string | null;
  /** The UTC month, 2026-12. */
  period: string;
  spentUsd: number;
  budgetUsd: number;
  /** The subject's own thresholds (fractions of the budget); null: the default ones. */
  thresholds: readonly number[] | null;
}

export interface Limiter {
  /** Throws RATE_LIMITED or QUOTA_EXCEEDED; otherwise reserves the estimate atomically. */
  admit(req: AdmitRequest): Promise<Reservation>;
  /** Reads the counters the next admission of each key would check, reserving and seeding nothing. */
  peek(keys: readonly ApiKeyRow[]): Promise<CounterPeek>;
  close(): Promise<void>;
}

/** What the limiter holds for some keys, in the order asked, and the UTC day and month it read them for. */
export interface CounterPeek {
  day: Period;
  month: Period;
  counters: KeyCounters[];
}

/**
 * One key's counters as admission reads them: reserved estimates of calls in flight included, settled ones
 * at what they used.
 */
export interface KeyCounters {
  /** Requests admitted in the open window; 0 when none is open (always so for a key without a per-minute limit). */
  requestsThisMinute: number;
  /** Tokens of the open window; 0 when none is open. */
  tokensThisMinute: number;
  /** Tokens of the UTC day; undefined when the key has no daily quota or its counter is not seeded yet. */
  tokensToday?: number;
  /** USD of the UTC month; undefined when the key has no budget or its counter is not seeded yet. */
  costThisMonthUsd?: number;
}

export const NOOP_RESERVATION: Reservation = { settle() {} };

/*
 * Semantics shared by the memory and the Redis limiter (they must agree exactly):
 *
 * - Every subject of a call (its key, its team, its end user under each: limit-subjects.ts) has its own counters
 *   and limits, with the semantics below; a call is admitted only if every subject admits it.
 * - requestsPerMinute / tokensPerMinute: one fixed 60 s window per subject that starts with the first
 *   request admitted after the previous window ended (so a burst never straddles two windows).
 *   RATE_LIMITED carries retryAfterMs = time left in the window.
 * - tokensPerDay (UTC day) / monthlyBudgetUsd (UTC calendar month): one counter per subject and period,
 *   seeded lazily from usage_records (what was recorded since the period began) the first time an
 *   admission needs it, then kept up to date by reservations and settlements.
 * - A token or budget counter admits while it is below its limit and then reserves the whole estimate.
 *   A call is therefore never refused because its estimate alone is larger than what is left
 *   (maxTokens defaults to 1024, often more than a small tokensPerMinute), and once settled the total
 *   exceeds the limit by at most what was in flight when the counter crossed it.
 * - All counters of all subjects are checked first and only then all are incremented: a refusal by one
 *   limit consumes nothing from another, on any subject. Quotas (day, month) of every subject are checked
 *   before rates (key, team, end users in that order), since waiting a minute does not cure them.
 * - A counter whose limit was removed from its key or team is dropped, so setting the limit again re-seeds it
 *   from usage_records instead of trusting a counter that missed the usage in between.
 */

export const WINDOW_MS = 60_000;
/** Day/month counters outlive their period by this much, so calls that started before midnight settle. */
export const PERIOD_GRACE_MS = 3_600_000;

/** The limits a subject (key, team, end user) sets (null where unset); limitsOf() is null when it sets none: the fast path. */
export interface KeyLimitSet {
  rpm: number | null;
  tpm: number | null;
  tpd: number | null;
  budget: number | null;
}

/** The limits a key or a team sets for itself. */
export function limitsOf(key: Pick<ApiKeyRow, 'requestsPerMinute' | 'tokensPerMinute' | 'tokensPerDay' | 'monthlyBudgetUsd'>): KeyLimitSet | null {
  const { requestsPerMinute: rpm, tokensPerMinute: tpm, tokensPerDay: tpd, monthlyBudgetUsd: budget } = key;
  if (rpm == null && tpm == null && tpd == null && budget == null) return null;
  return { rpm, tpm, tpd, budget };
}

export interface Period {
  /** 2025-06-01 or 2025-06 */
  id: string;
  start: Date;
  /** epoch ms of the next period's start */
  end: number;
}

// every admitted request asks for its day and month: the same two objects until the period ends
let lastDay: Period | undefined;
let lastMonth: Period | undefined;

export function utcDay(now: number): Period {
  if (lastDay && now >= lastDay.start.getTime() && now < lastDay.end) return lastDay;
  return (lastDay = computeDay(now));
}

export function utcMonth(now: number): Period {
  if (lastMonth && now >= lastMonth.start.getTime() && now < lastMonth.end) return lastMonth;
  return (lastMonth = computeMonth(now));
}

function computeDay(now: number): Period {
  const d = new Date(now);
  const start = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
  return { id: new Date(start).toISOString().slice(0, 10), start: new Date(start), end: start + 86_400_000 };
}

function computeMonth(now: number): Period {
  const d = new Date(now);
  const start = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  return { id: new Date(start).toISOString().slice(0, 7), start: new Date(start), end: Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) };
}

/**
 * What a subject (a key, a team, an end user under either; see UsageScope) has recorded since the start of the UTC
 * day (tokens) and of the UTC month (USD).
 */
export type UsageSeeder = (scope: UsageScope, day: Date, month: Date) => Promise<{ tokensToday: number; costMonth: number }>;

/** What each key has recorded since the start of the UTC day and month: the seeds of many keys in one statement. */
export type RecordedUsage = (keyIds: readonly string[], day: Date, month: Date) => Promise<Map<string, { tokensToday: number; costMonth: number }>>;

// the seeder and RecordedUsage sum the same way, so a counter not seeded yet reads as what seeding it would give;
// a cache hit's record carries the tokens of the answer it replayed, but the limiter settled it at 0 tokens
// (hits count against the request rate only), so seeding from its tokens would charge them after a restart
const tokensSince = (day: Date) =>
  sql<string>`coalesce(sum(${usageRecords.promptTokens} + ${usageRecords.completionTokens}) filter (where ${usageRecords.createdAt} >= ${day.toISOString()}::timestamptz and ${usageRecords.cacheHit} is null), 0)`;
const costSum = () => sql<string>`coalesce(sum(${usageRecords.costUsd}), 0)`;

/**
 * Sums usage_records in one indexed statement (usage_key_created_idx, usage_team_created_idx,
 * usage_end_user_created_idx: the planner takes the one the scope names).
 */
export function createDbUsageSeeder(db: Db): UsageSeeder {
  return async (scope, day, month) => {
    const where = [gte(usageRecords.createdAt, month)];
    if (scope.apiKeyId !== undefined) where.push(eq(usageRecords.apiKeyId, scope.apiKeyId));
    if (scope.teamId !== undefined) where.push(eq(usageRecords.teamId, scope.teamId));
    if (scope.endUser !== undefined) where.push(eq(usageRecords.endUser, scope.endUser));
    const [row] = await db
      .select({ tokens: tokensSince(day), cost: costSum() })
      .from(usageRecords)
      .where(and(...where));
    return { tokensToday: Number(row?.tokens ?? 0), costMonth: Number(row?.cost ?? 0) };
  };
}

/** The seeder's sums for many keys, grouped in one statement; keys without records are left out. */
export function createDbRecordedUsage(db: Db): RecordedUsage {
  return async (keyIds, day, month) => {
    const rows = await db
      .select({ keyId: usageRecords.apiKeyId, tokens: tokensSince(day), cost: costSum() })
      .from(usageRecords)
      .where(and(inArray(usageRecords.apiKeyId, [...keyIds]), gte(usageRecords.createdAt, month)))
      .groupBy(usageRecords.apiKeyId);
    return new Map(rows.map((r) => [r.keyId ?? '', { tokensToday: Number(r.tokens), costMonth: Number(r.cost) }]));
  };
}

export interface LimiterOptions {
  seeder: UsageSeeder;
  log: Logger;
  /** Shared counters across instances; without it counters are per process. */
  redisUrl?: string;
  /** Prefix of every Redis key (no braces: the key or team id is the cluster hash tag). @default 'gw:' */
  redisPrefix?: string;
  /** A Redis command unanswered this long (time the event loop was blocked not counted) is an outage. @default 500 */
  redisTimeoutMs?: number;
  /** Told each key's and team's monthly budget counter after a call settled on it (budget alerts). */
  onBudgetSettled?: (reading: BudgetReading) => void;
}

/** Redis when a URL is given, memory otherwise (each implementation is loaded only when used). */
export async function createLimiter(opts: LimiterOptions): Promise<Limiter> {
  if (opts.redisUrl) {
    const { createRedisLimiter } = await import('./limits-redis.js');
    return createRedisLimiter({ ...opts, url: opts.redisUrl });
  }
  const { createMemoryLimiter } = await import('./limits-memory.js');
  return createMemoryLimiter(opts);
}

const subjectNames: Record<SubjectKind, string> = { key: 'key', team: 'team', endUser: 'end user' };

/** Refusal messages, the same from every implementation; they name the subject whose limit refused. */
export const messages = {
  requestsPerMinute: (limit: number, subject: SubjectKind = 'key') => `Rate limit exceeded: ${limit} requests per minute for this ${subjectNames[subject]}`,
  tokensPerMinute: (limit: number, subject: SubjectKind = 'key') => `Rate limit exceeded: ${limit} tokens per minute for this ${subjectNames[subject]}`,
  tokensPerDay: (limit: number, subject: SubjectKind = 'key') => `Daily token quota exhausted: ${limit} tokens per UTC day for this ${subjectNames[subject]}`,
  monthlyBudgetUsd: (limit: number, subject: SubjectKind = 'key') =>
    `Monthly budget exhausted: ${limit} USD per calendar month (UTC) for this ${subjectNames[subject]}`,
};

/** Tells the listener a budget reading; a listener that throws is logged, never felt by the call. */
export function tellBudget(listener: ((r: BudgetReading) => void) | undefined, reading: BudgetReading, log: Logger): void {
  if (!listener) return;
  try {
    listener(reading);
  } catch (err) {
    log.warn({ err }, 'limits: the budget listener failed');
  }
}

/**
 * Logs that recorded usage could not be loaded (the daily and monthly quotas go unchecked meanwhile), at most once
 * every 10 s: while the database is down every admission of a key with quotas fails the same way.
 */
export function createSeedFailureWarning(log: Logger, clock: () => number = Date.now): (err: unknown, subject: string) => void {
  let last = 0;
  return (err, subject) => {
    if (clock() - last <= 10_000) return;
    last = clock();
    log.warn({ err, subject }, 'limits: could not load recorded usage; daily/monthly quotas not enforced until it loads');
  };
}

/** Integers for token counters (Redis HINCRBY and exact sums). */
export const toTokens = (n: number): number => (Number.isFinite(n) && n > 0 ? Math.ceil(n) : 0);
export const toUsd = (n: number): number => (Number.isFinite(n) && n > 0 ? n : 0);
