/*
 * Per-process limits: counters in a Map, one entry per subject (key, team, end user; limit-subjects.ts). The
 * check-and-reserve step over all subjects of a call is synchronous, so on one event loop it is atomic without
 * locks: 200 concurrent admissions against 50 requests a minute admit 50, whichever subject sets the 50.
 *
 * Why not rate-limiter-flexible's RateLimiterMemory: it keeps one counter per limiter, so a key with
 * requests- and tokens-per-minute would need two consume() calls, and a refusal by the second would
 * already have consumed the first (reward() afterwards leaves a window where others see it taken).
 * Calendar-aligned day/month periods seeded from usage_records and settle() against the exact
 * counter a call reserved on are not in its model either; the plain structure below is short.
 */
import type { Logger } from 'pino';
import { quotaExceeded, rateLimited } from '../errors.js';
import {
  type AdmitRequest,
  type BudgetReading,
  type KeyCounters,
  type KeyLimitSet,
  type Limiter,
  type Period,
  type Reservation,
  type UsageSeeder,
  NOOP_RESERVATION,
  WINDOW_MS,
  createSeedFailureWarning,
  limitsOf,
  messages,
  toTokens,
  tellBudget,
  toUsd,
  utcDay,
  utcMonth,
} from './limits.js';
import { END_USER_ID, type LimitSubject, requestOnlySubjects, subjectsOf, unlimitedOf } from './limit-subjects.js';

interface Window {
  start: number;
  requests: number;
  tokens: number;
}

interface Counter {
  period: string;
  used: number;
}

interface KeyState {
  window?: Window;
  /** tokens since the start of the UTC day */
  day?: Counter;
  /** USD since the start of the UTC month */
  month?: Counter;
  seeding?: Promise<void>;
}

/** A subject's counters as another limiter last saw them (the shared Redis counters before an outage). */
export interface KnownCounters {
  /** the current rate window: epoch ms it started, requests and tokens admitted in it */
  window?: { start: number; requests: number; tokens: number };
  /** tokens of the UTC day `period` (2025-06-01) */
  day?: { period: string; used: number };
  /** USD of the UTC month `period` (2025-06) */
  month?: { period: string; used: number };
}

export interface MemoryLimiterOptions {
  seeder: UsageSeeder;
  log: Logger;
  /** Where a subject's counters start the first time this limiter sees it (otherwise empty, day/month seeded). */
  initial?: (subjectId: string) => KnownCounters | undefined;
  /** Clock, for tests. */
  now?: () => number;
  /** @see LimiterOptions.onBudgetSettled */
  onBudgetSettled?: (reading: BudgetReading) => void;
  /**
   * End users come and go by the million: from this many subjects on, once a minute, the end users without an open
   * window are dropped (their day and month counters are seeded again if they come back). @default 100_000
   */
  pruneAt?: number;
}

export type MemoryLimiter = Limiter & {
  /** Drops every counter of a subject (a key id, or a LimitSubject id; the next admission re-seeds from usage_records). */
  forget(subjectId: string): void;
};

/** One subject of an admission with its state. */
interface Entry {
  subject: LimitSubject;
  st: KeyState;
}

export function createMemoryLimiter(opts: MemoryLimiterOptions): MemoryLimiter {
  const states = new Map<string, KeyState>();
  const clock = opts.now ?? Date.now;
  const warnSeedFailure = createSeedFailureWarning(opts.log, clock);
  const live = (id: string) => states.get(id);
  const pruneAt = opts.pruneAt ?? 100_000;
  let nextPrune = 0;
  function pruneEndUsers(now: number): void {
    if (now < nextPrune) return;
    nextPrune = now + WINDOW_MS;
    for (const [id, st] of states) {
      if (id.includes(END_USER_ID) && !st.seeding && (!st.window || now - st.window.start >= WINDOW_MS)) states.delete(id);
    }
  }
  const settled = (s: LimitSubject, month: Counter | undefined) => {
    const current = states.get(s.id)?.month;
    if (!s.budgetOf || s.limits.budget == null || !month || current?.period !== month.period) return;
    tellBudget(opts.onBudgetSettled, { ...s.budgetOf, period: month.period, spentUsd: current.used, budgetUsd: s.limits.budget }, opts.log);
  };

  /** The subject's counters, started from what another limiter knew; counters whose limit was removed go. */
  function stateOf(s: LimitSubject): KeyState {
    let st = states.get(s.id);
    if (!st) states.set(s.id, (st = startState(opts.initial?.(s.id))));
    if (s.limits.tpd == null) st.day = undefined;
    if (s.limits.budget == null) st.month = undefined;
    return st;
  }

  return {
    async admit(req) {
      // a key or team that just lost all its limits loses its counters too
      if (states.size !== 0) for (const u of unlimitedOf(req.principal)) states.delete(u.id);
      if (states.size >= pruneAt) pruneEndUsers(clock());
      const all = subjectsOf(req.principal, req.endUser);
      if (all.length === 0) return NOOP_RESERVATION;
      const entries: Entry[] = all.map((subject) => ({ subject, st: stateOf(subject) }));
      if (req.requestOnly) {
        const rated = requestOnlySubjects(all);
        if (rated.length === 0) return NOOP_RESERVATION;
        const now = clock();
        return reserve(rated.map((subject) => ({ subject, st: states.get(subject.id)! })), req, now, utcDay(now), utcMonth(now), live, settled);
      }
      let now = clock();
      let day = utcDay(now);
      let month = utcMonth(now);
      const unseeded = entries.filter(({ subject: { limits: l }, st }) => (l.tpd != null && st.day?.period !== day.id) || (l.budget != null && st.month?.period !== month.id));
      if (unseeded.length !== 0) {
        await Promise.all(
          unseeded.map(({ subject, st }) =>
            ensureSeeded(opts.seeder, subject, st, day, month).catch((err: unknown) => warnSeedFailure(err, subject.id)),
          ),
        );
        now = clock();
        if (utcDay(now).id !== day.id) {
          // the day turned while we waited: the next admission seeds the new one
          day = utcDay(now);
          month = utcMonth(now);
        }
      }
      return reserve(entries, req, now, day, month, live, settled);
    },
    async peek(keys) {
      const now = clock();
      const day = utcDay(now);
      const month = utcMonth(now);
      // a key this limiter has not seen yet starts from what another limiter knew (the fallback's initial counters)
      const counters = keys.map((k) => countersOf(states.get(k.id) ?? opts.initial?.(k.id), limitsOf(k), now, day, month));
      return { day, month, counters };
    },
    forget(subjectId) {
      states.delete(subjectId);
    },
    async close() {
      states.clear();
    },
  };
}

/** Loads the day/month counters this admission needs; one query per subject however many requests wait. */
async function ensureSeeded(seeder: UsageSeeder, s: LimitSubject, st: KeyState, day: Period, month: Period): Promise<void> {
  const l = s.limits;
  for (let i = 0; i < 3; i++) {
    const needDay = l.tpd != null && st.day?.period !== day.id;
    const needMonth = l.budget != null && st.month?.period !== month.id;
    if (!needDay && !needMonth) return;
    st.seeding ??= (async () => {
      try {
        const r = await seeder(s.seedScope, day.start, month.start);
        // like SET NX: fill in what is still missing, never overwrite a live counter
        if (needDay && st.day?.period !== day.id) st.day = { period: day.id, used: r.tokensToday };
        if (needMonth && st.month?.period !== month.id) st.month = { period: month.id, used: r.costMonth };
      } finally {
        st.seeding = undefined;
      }
    })();
    await st.seeding;
  }
}

/** The counters reserve() would check for this key now (a window that has ended counts as none open). */
function countersOf(st: KnownCounters | undefined, l: KeyLimitSet | null, now: number, day: Period, month: Period): KeyCounters {
  const w = l && (l.rpm != null || l.tpm != null) && st?.window && now - st.window.start < WINDOW_MS ? st.window : undefined;
  return {
    requestsThisMinute: w?.requests ?? 0,
    tokensThisMinute: w?.tokens ?? 0,
    tokensToday: l?.tpd != null && st?.day?.period === day.id ? st.day.used : undefined,
    costThisMonthUsd: l?.budget != null && st?.month?.period === month.id ? st.month.used : undefined,
  };
}

function startState(known: KnownCounters | undefined): KeyState {
  if (!known) return {};
  // copies: the counters diverge from here on
  return {
    window: known.window && { ...known.window },
    day: known.day && { ...known.day },
    month: known.month && { ...known.month },
  };
}

/** The counters a call reserved on, per subject. */
interface Reserved {
  subject: LimitSubject;
  window?: Window;
  day?: Counter;
  month?: Counter;
}

/**
 * Checks every limit of every subject, then reserves the estimate on all of them (synchronously: atomic on one
 * event loop). Quotas of all subjects before rates, in subject order: the same order as the Redis script.
 * @param live a subject's state when the call settles (it may have been forgotten and re-seeded meanwhile)
 */
function reserve(
  entries: readonly Entry[],
  req: AdmitRequest,
  now: number,
  day: Period,
  month: Period,
  live: (id: string) => KeyState | undefined,
  onSettled: (s: LimitSubject, month: Counter | undefined) => void,
): Reservation {
  const est = toTokens(req.estimatedTokens);
  const estCost = toUsd(req.estimatedCostUsd);
  // counters that could not be seeded (database down) are skipped for this call: fail open
  const counters = entries.map(({ subject: s, st }) => ({
    dayC: s.limits.tpd != null && st.day?.period === day.id ? st.day : undefined,
    monthC: s.limits.budget != null && st.month?.period === month.id ? st.month : undefined,
  }));

  // 1. check everything
  entries.forEach(({ subject: { limits: l, kind } }, i) => {
    const { dayC, monthC } = counters[i]!;
    if (dayC && dayC.used >= l.tpd!) throw quotaExceeded(messages.tokensPerDay(l.tpd!, kind));
    if (monthC && monthC.used >= l.budget! - 1e-9) throw quotaExceeded(messages.monthlyBudgetUsd(l.budget!, kind));
  });
  for (const { subject: { limits: l, kind }, st } of entries) {
    if (st.window && now - st.window.start >= WINDOW_MS) st.window = undefined;
    if (l.rpm == null && l.tpm == null) continue;
    const w = st.window;
    const retryAfterMs = w ? w.start + WINDOW_MS - now : WINDOW_MS;
    if (l.rpm != null && (w?.requests ?? 0) >= l.rpm) throw rateLimited(messages.requestsPerMinute(l.rpm, kind), retryAfterMs);
    if (l.tpm != null && (w?.tokens ?? 0) >= l.tpm) throw rateLimited(messages.tokensPerMinute(l.tpm, kind), retryAfterMs);
  }

  // 2. reserve everything
  const reserved = entries.map(({ subject, st }, i): Reserved => {
    const { dayC, monthC } = counters[i]!;
    let w: Window | undefined;
    if (subject.limits.rpm != null || subject.limits.tpm != null) {
      w = st.window ??= { start: now, requests: 0, tokens: 0 };
      w.requests += 1;
      w.tokens += est;
    }
    if (dayC) dayC.used += est;
    if (monthC) monthC.used += estCost;
    return { subject, window: w, day: dayC, month: monthC };
  });
  return memoryReservation(reserved, est, estCost, live, onSettled);
}

/** Settles once: the estimate on the counters the call reserved on is replaced by what it used, on every subject. */
function memoryReservation(
  reserved: readonly Reserved[],
  est: number,
  estCost: number,
  live: (id: string) => KeyState | undefined,
  onSettled: (s: LimitSubject, month: Counter | undefined) => void,
): Reservation {
  let settled = false;
  return {
    settle(actual) {
      if (settled) return;
      settled = true;
      const tokens = toTokens(actual.tokens);
      const cost = toUsd(actual.costUsd);
      for (const { subject, window: w, day: dayC, month: monthC } of reserved) {
        // the window the call was admitted in; a later window is not charged
        if (w) w.tokens = Math.max(0, w.tokens + tokens - est);
        const current = live(subject.id);
        if (dayC) {
          if (current?.day === dayC) dayC.used = Math.max(0, dayC.used + tokens - est);
          // re-seeded while this call ran: the seed could not include it (its record is written after settle)
          else if (current?.day?.period === dayC.period) current.day.used += tokens;
        }
        if (monthC) {
          if (current?.month === monthC) monthC.used = Math.max(0, monthC.used + cost - estCost);
          else if (current?.month?.period === monthC.period) current.month.used += cost;
        }
      }
      for (const r of reserved) onSettled(r.subject, r.month);
    },
  };
}
