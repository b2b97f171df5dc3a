/*
 * Per-process limits: counters in a Map. The check-and-reserve step is synchronous, so on one event
 * loop it is atomic without locks: 200 concurrent admissions against 50 requests a minute admit 50.
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
  toUsd,
  utcDay,
  utcMonth,
} from './limits.js';

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

/** A key's counters as another limiter last saw them (the shared Redis counters before an outage). */
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
  /** Where a key's counters start the first time this limiter sees the key (otherwise empty, day/month seeded). */
  initial?: (keyId: string) => KnownCounters | undefined;
  /** Clock, for tests. */
  now?: () => number;
}

export type MemoryLimiter = Limiter & {
  /** Drops every counter of a key (the next admission re-seeds from usage_records). */
  forget(keyId: string): void;
};

export function createMemoryLimiter(opts: MemoryLimiterOptions): MemoryLimiter {
  const states = new Map<string, KeyState>();
  const clock = opts.now ?? Date.now;
  const warnSeedFailure = createSeedFailureWarning(opts.log, clock);

  /** The key's counters, started from what another limiter knew; counters whose limit was removed go. */
  function stateOf(keyId: string, l: KeyLimitSet): KeyState {
    let st = states.get(keyId);
    if (!st) states.set(keyId, (st = startState(opts.initial?.(keyId))));
    if (l.tpd == null) st.day = undefined;
    if (l.budget == null) st.month = undefined;
    return st;
  }

  return {
    async admit(req) {
      const key = req.principal.key;
      const l = limitsOf(key);
      if (!l) {
        // fast path; a key that just lost all its limits loses its counters too
        if (states.size !== 0) states.delete(key.id);
        return NOOP_RESERVATION;
      }
      const st = stateOf(key.id, l);
      if (req.requestOnly) {
        if (l.rpm == null) return NOOP_RESERVATION;
        const now = clock();
        return reserve(st, { rpm: l.rpm, tpm: null, tpd: null, budget: null }, req, now, utcDay(now), utcMonth(now), () => states.get(key.id));
      }
      let now = clock();
      let day = utcDay(now);
      let month = utcMonth(now);
      if ((l.tpd != null && st.day?.period !== day.id) || (l.budget != null && st.month?.period !== month.id)) {
        try {
          await ensureSeeded(opts.seeder, key.id, st, l, day, month);
        } catch (err) {
          warnSeedFailure(err, key.id);
        }
        now = clock();
        if (utcDay(now).id !== day.id) {
          // the day turned while we waited: the next admission seeds the new one
          day = utcDay(now);
          month = utcMonth(now);
        }
      }
      return reserve(st, l, req, now, day, month, () => states.get(key.id));
    },
    async peek(keys) {
      const now = clock();
      const day = utcDay(now);
      const month = utcMonth(now);
      // a key this limiter has not seen yet starts from what another limiter knew (the fallback's initial counters)
      const counters = keys.map((k) => countersOf(states.get(k.id) ?? opts.initial?.(k.id), limitsOf(k), now, day, month));
      return { day, month, counters };
    },
    forget(keyId) {
      states.delete(keyId);
    },
    async close() {
      states.clear();
    },
  };
}

/** Loads the day/month counters this admission needs; one query per key however many requests wait. */
async function ensureSeeded(seeder: UsageSeeder, keyId: string, st: KeyState, l: KeyLimitSet, day: Period, month: Period): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const needDay = l.tpd != null && st.day?.period !== day.id;
    const needMonth = l.budget != null && st.month?.period !== month.id;
    if (!needDay && !needMonth) return;
    st.seeding ??= (async () => {
      try {
        const r = await seeder(keyId, day.start, month.start);
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

/**
 * Checks every limit, then reserves the estimate on all of them (synchronously: atomic on one event loop).
 * @param live the key's state when the call settles (it may have been forgotten and re-seeded meanwhile)
 */
function reserve(st: KeyState, l: KeyLimitSet, req: AdmitRequest, now: number, day: Period, month: Period, live: () => KeyState | undefined): Reservation {
  const est = toTokens(req.estimatedTokens);
  const estCost = toUsd(req.estimatedCostUsd);
  // counters that could not be seeded (database down) are skipped for this call: fail open
  const dayC = l.tpd != null && st.day?.period === day.id ? st.day : undefined;
  const monthC = l.budget != null && st.month?.period === month.id ? st.month : undefined;

  // 1. check everything
  if (dayC && dayC.used >= l.tpd!) throw quotaExceeded(messages.tokensPerDay(l.tpd!));
  if (monthC && monthC.used >= l.budget! - 1e-9) throw quotaExceeded(messages.monthlyBudgetUsd(l.budget!));
  let w = st.window;
  if (w && now - w.start >= WINDOW_MS) w = st.window = undefined;
  const rated = l.rpm != null || l.tpm != null;
  if (rated) {
    const retryAfterMs = w ? w.start + WINDOW_MS - now : WINDOW_MS;
    if (l.rpm != null && (w?.requests ?? 0) >= l.rpm) throw rateLimited(messages.requestsPerMinute(l.rpm), retryAfterMs);
    if (l.tpm != null && (w?.tokens ?? 0) >= l.tpm) throw rateLimited(messages.tokensPerMinute(l.tpm), retryAfterMs);
  }

  // 2. reserve everything
  if (rated) {
    w ??= st.window = { start: now, requests: 0, tokens: 0 };
    w.requests += 1;
    w.tokens += est;
  }
  if (dayC) dayC.used += est;
  if (monthC) monthC.used += estCost;
  return memoryReservation({ window: w, day: dayC, month: monthC }, est, estCost, live);
}

/** Settles once: the estimate on the counters the call reserved on is replaced by what it used. */
function memoryReservation(reserved: { window?: Window; day?: Counter; month?: Counter }, est: number, estCost: number, live: () => KeyState | undefined): Reservation {
  const { window: w, day: dayC, month: monthC } = reserved;
  let settled = false;
  return {
    settle(actual) {
      if (settled) return;
      settled = true;
      const tokens = toTokens(actual.tokens);
      const cost = toUsd(actual.costUsd);
      // the window the call was admitted in; a later window is not charged
      if (w) w.tokens = Math.max(0, w.tokens + tokens - est);
      const current = live();
      if (dayC) {
        if (current?.day === dayC) dayC.used = Math.max(0, dayC.used + tokens - est);
        // re-seeded while this call ran: the seed could not include it (its record is written after settle)
        else if (current?.day?.period === dayC.period) current.day.used += tokens;
      }
      if (monthC) {
        if (current?.month === monthC) monthC.used = Math.max(0, monthC.used + cost - estCost);
        else if (current?.month?.period === monthC.period) current.month.used += cost;
      }
    },
  };
}
