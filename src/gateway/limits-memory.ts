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
  /** What the shared counters held when this limiter took the window over (0 for a window it opened itself). */
  base: number;
  baseTokens: number;
  /** The base is a heartbeat's reading, the one every instance took over (not this instance's own last reply). */
  based: boolean;
  /** What the shared counters have been told of this window (limits-redis-rejoin.ts adds the rest). */
  syncedRequests: number;
  syncedTokens: number;
  /**
   * What this instance admitted after the base was read and before it took the window over: in a Redis that kept
   * the window already, missing from one restarted empty (sent once, with the first reconcile).
   */
  ownBefore: number;
  ownBeforeTokens: number;
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
  /** The subject as last admitted: whose shared counters this window is reconciled into. */
  subject?: LimitSubject;
  /** Admissions holding this state across an await (seeding another subject): pruning it would lose what they count. */
  admitting?: number;
  /**
   * Before this (epoch ms) no window is opened here and one without a heartbeat base is not admitted in: another
   * instance may hold a shared window of the subject this one never read (MemoryLimiterOptions.outageStart).
   */
  freeAfter?: number;
}

/** A subject's counters as another limiter last saw them (the shared Redis counters before an outage). */
export interface KnownCounters {
  /**
   * the current rate window: epoch ms it started, requests and tokens admitted in it; base/baseTokens: what every
   * instance read of it at one moment (a heartbeat), so the shares they take over sum to what was left then
   * (requests − base is this instance's own since that moment); absent: the counts themselves
   */
  window?: { start: number; requests: number; tokens: number; base?: number; baseTokens?: number };
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
   * How many instances enforce the same limits without seeing each other's counters (a Redis outage): this one
   * admits at most its share of what was left in a window, base + floor((limit − base) / peers), where base is what
   * the shared window held when it was taken over (0 for a window opened here). 0: unknown (it never saw the shared
   * counters), so a subject with a per-minute limit is refused until they are back. @default 1
   */
  peers?: number;
  /**
   * When the outage began (epoch ms), with peers > 1: a subject whose shared window no heartbeat read (this instance
   * never admitted it, or only since the last beat) is refused (RATE_LIMITED, retry in 1 s) until that window has
   * surely ended: its own end when this instance saw it open, else a window after the outage began. Its count as
   * only this instance saw it is not what the others took over, and a fresh window would come on top of theirs.
   */
  outageStart?: number;
  /**
   * End users come and go by the million: from this many subjects on, once a minute, the end users without an open
   * window are dropped (their day and month counters are seeded again if they come back). @default 100_000
   */
  pruneAt?: number;
}

export type MemoryLimiter = Limiter & {
  /** Drops every counter of a subject (a key id, or a LimitSubject id; the next admission re-seeds from usage_records). */
  forget(subjectId: string): void;
  /**
   * What this limiter admitted in open windows that the shared counters have not been told yet, marked told; the
   * caller undoes an entry whose sending failed.
   */
  takeUnsynced(): UnsyncedWindow[];
  /**
   * Takes over what an earlier limiter admitted and could not tell (a Redis flap while it was being told): added to
   * this limiter's windows, still untold, so its shares count them and its reconcile tells them.
   */
  adopt(untold: readonly UnsyncedWindow[]): void;
};

/** Requests and tokens admitted here in an open window of a subject, not yet added to the shared counters. */
export interface UnsyncedWindow {
  subject: LimitSubject;
  addRequests: number;
  addTokens: number;
  /** What the shared window held when taken over (0: opened here), and this instance's admissions on top not in it. */
  base: number;
  baseTokens: number;
  ownBefore: number;
  ownBeforeTokens: number;
  /** ms until the window ends */
  ttlMs: number;
  /** epoch ms the window started */
  start: number;
  based: boolean;
  /** Marks the entry untold again. */
  undo(): void;
}

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
  const peers = opts.peers ?? 1;
  let nextPrune = 0;
  function pruneEndUsers(now: number): void {
    if (now < nextPrune) return;
    nextPrune = now + WINDOW_MS;
    for (const [id, st] of states) {
      if (id.includes(END_USER_ID) && !st.seeding && !st.admitting && (!st.window || now - st.window.start >= WINDOW_MS)) states.delete(id);
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
    if (!st) states.set(s.id, (st = startState(opts.initial?.(s.id), peers > 1 ? opts.outageStart : undefined)));
    st.subject = s;
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
        return reserve(rated.map((subject) => ({ subject, st: states.get(subject.id)! })), req, now, utcDay(now), utcMonth(now), live, settled, peers);
      }
      let now = clock();
      let day = utcDay(now);
      let month = utcMonth(now);
      const unseeded = entries.filter(({ subject: { limits: l }, st }) => (l.tpd != null && st.day?.period !== day.id) || (l.budget != null && st.month?.period !== month.id));
      if (unseeded.length !== 0) {
        for (const e of entries) e.st.admitting = (e.st.admitting ?? 0) + 1;
        try {
          await Promise.all(
            unseeded.map(({ subject, st }) =>
              ensureSeeded(opts.seeder, subject, st, day, month).catch((err: unknown) => warnSeedFailure(err, subject.id)),
            ),
          );
        } finally {
          for (const e of entries) e.st.admitting = e.st.admitting! - 1 || undefined;
        }
        now = clock();
        if (utcDay(now).id !== day.id) {
          // the day turned while we waited: the next admission seeds the new one
          day = utcDay(now);
          month = utcMonth(now);
        }
      }
      return reserve(entries, req, now, day, month, live, settled, peers);
    },
    async peek(keys) {
      const now = clock();
      const day = utcDay(now);
      const month = utcMonth(now);
      // a key this limiter has not seen yet starts from what another limiter knew (the fallback's initial counters)
      const counters = keys.map((k) => countersOf(states.get(k.id) ?? opts.initial?.(k.id), limitsOf(k), now, day, month));
      return { day, month, counters };
    },
    forget: (subjectId) => void states.delete(subjectId),
    takeUnsynced: () => takeUnsynced(states, clock()),
    adopt: (untold) => untold.forEach((u) => adoptWindow(stateOf(u.subject), u, clock())),
    async close() {
      states.clear();
    },
  };
}

/** What takeUnsynced() says: the open windows' admissions not yet told, marked told. */
function takeUnsynced(states: ReadonlyMap<string, KeyState>, now: number): UnsyncedWindow[] {
  const out: UnsyncedWindow[] = [];
  for (const st of states.values()) {
    const w = st.window;
    if (!w || !st.subject || now - w.start >= WINDOW_MS) continue;
    const addRequests = w.requests - w.syncedRequests;
    const addTokens = w.tokens - w.syncedTokens;
    const { ownBefore, ownBeforeTokens } = w;
    // a window taken over with a count (base) is told even when nothing was added to it: a Redis that came back empty
    // has lost it, and a full window nobody could add to would otherwise open afresh (RECONCILE keeps base idempotent)
    if (addRequests === 0 && addTokens === 0 && ownBefore === 0 && ownBeforeTokens === 0 && w.base === 0 && w.baseTokens === 0) continue;
    w.syncedRequests += addRequests;
    w.syncedTokens += addTokens;
    w.ownBefore = w.ownBeforeTokens = 0;
    const undo = () => {
      w.syncedRequests -= addRequests;
      w.syncedTokens -= addTokens;
      w.ownBefore = ownBefore;
      w.ownBeforeTokens = ownBeforeTokens;
    };
    out.push({
      subject: st.subject,
      addRequests,
      addTokens,
      base: w.base,
      baseTokens: w.baseTokens,
      ownBefore,
      ownBeforeTokens,
      ttlMs: w.start + WINDOW_MS - now,
      start: w.start,
      based: w.based,
      undo,
    });
  }
  return out;
}

/** An earlier limiter's untold admissions in a window, on top of this limiter's (still untold: its reconcile sends them). */
function adoptWindow(st: KeyState, u: UnsyncedWindow, now: number): void {
  if (now - u.start >= WINDOW_MS) return;
  const w = st.window && now - st.window.start < WINDOW_MS ? st.window : undefined;
  if (!w) {
    // the window as the earlier limiter had it, with what it told counted as told
    const told = u.base + u.ownBefore;
    const toldTokens = u.baseTokens + u.ownBeforeTokens;
    st.window = {
      start: u.start,
      requests: told + u.addRequests,
      tokens: toldTokens + u.addTokens,
      base: u.base,
      baseTokens: u.baseTokens,
      based: u.based,
      syncedRequests: told,
      syncedTokens: toldTokens,
      ownBefore: u.ownBefore,
      ownBeforeTokens: u.ownBeforeTokens,
    };
    return;
  }
  // another window of the subject by now: what the earlier one admitted is not in it
  if (Math.abs(w.start - u.start) >= 1000) return;
  w.requests += u.addRequests;
  w.tokens += u.addTokens;
  w.ownBefore += u.ownBefore;
  w.ownBeforeTokens += u.ownBeforeTokens;
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

function startState(known: KnownCounters | undefined, outageStart: number | undefined): KeyState {
  const w = known?.window;
  // the subject's shared window this instance saw open when the outage began ends at its own time; any other, at most
  // a window after the outage began
  const freeAfter = outageStart === undefined ? undefined : w && w.start + WINDOW_MS > outageStart ? w.start + WINDOW_MS : outageStart + WINDOW_MS;
  if (!known) return { freeAfter };
  // copies: the counters diverge from here on
  return {
    freeAfter,
    window: w && {
      start: w.start,
      requests: w.requests,
      tokens: w.tokens,
      base: w.base ?? w.requests,
      baseTokens: w.baseTokens ?? w.tokens,
      based: w.base !== undefined,
      syncedRequests: w.requests,
      syncedTokens: w.tokens,
      ownBefore: w.requests - (w.base ?? w.requests),
      ownBeforeTokens: w.tokens - (w.baseTokens ?? w.tokens),
    },
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
  peers: number,
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
    // how much of the window the other instances used is unknown: nothing is safe to admit until Redis answers (or,
    // for a window no heartbeat read, until it has surely ended)
    if (peers === 0 || (!w?.based && now < (st.freeAfter ?? 0))) {
      if (l.rpm != null) throw rateLimited(messages.requestsPerMinute(l.rpm, kind), UNKNOWN_PEERS_RETRY_MS);
      throw rateLimited(messages.tokensPerMinute(l.tpm!, kind), UNKNOWN_PEERS_RETRY_MS);
    }
    const retryAfterMs = w ? w.start + WINDOW_MS - now : WINDOW_MS;
    if (l.rpm != null && (w?.requests ?? 0) >= shareOf(l.rpm, w?.base ?? 0, peers)) throw rateLimited(messages.requestsPerMinute(l.rpm, kind), retryAfterMs);
    if (l.tpm != null && (w?.tokens ?? 0) >= shareOf(l.tpm, w?.baseTokens ?? 0, peers)) throw rateLimited(messages.tokensPerMinute(l.tpm, kind), retryAfterMs);
  }

  // 2. reserve everything
  const reserved = entries.map(({ subject, st }, i): Reserved => {
    const { dayC, monthC } = counters[i]!;
    let w: Window | undefined;
    if (subject.limits.rpm != null || subject.limits.tpm != null) {
      w = st.window ??= { start: now, requests: 0, tokens: 0, base: 0, baseTokens: 0, based: false, syncedRequests: 0, syncedTokens: 0, ownBefore: 0, ownBeforeTokens: 0 };
      w.requests += 1;
      w.tokens += est;
    }
    if (dayC) dayC.used += est;
    if (monthC) monthC.used += estCost;
    return { subject, window: w, day: dayC, month: monthC };
  });
  return memoryReservation(reserved, est, estCost, live, onSettled);
}

/** How often a caller refused for want of the peer count is told to retry: about when a probe may have reached Redis. */
const UNKNOWN_PEERS_RETRY_MS = 1000;

/** What this instance may fill a window up to: its share of what was left when it took the window over. */
const shareOf = (limit: number, base: number, peers: number): number => (peers === 1 ? limit : base + Math.floor((limit - base) / peers));

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
