/*
 * Admission against the shared counters: one ADMIT call checks and reserves every limit of every subject of a call
 * at once; a day or month counter Redis does not have yet is seeded from usage_records first, then the call is made
 * again.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { quotaExceeded, rateLimited, type GatewayError } from '../errors.js';
import {
  type BudgetReading,
  type Period,
  type Reservation,
  type UsageSeeder,
  PERIOD_GRACE_MS,
  WINDOW_MS,
  createSeedFailureWarning,
  messages,
  tellBudget,
  toTokens,
  toUsd,
  utcDay,
  utcMonth,
} from './limits.js';
import type { LimitSubject } from './limit-subjects.js';
import { SUBJECT_REPLY_LENGTH, counterKeys, usd, type AdmitReply, type AdmitState, type LimitCommands, type SubjectReply } from './limits-redis-scripts.js';
import { loopTurn } from '../util/loop-turn.js';

export interface SharedAdmissionOptions {
  cmd: LimitCommands;
  /** @see RedisLimiterOptions.redisPrefix */
  prefix: string;
  seeder: UsageSeeder;
  log: Logger;
  /** The counters every reply showed for a subject: where per-instance counters start if Redis goes away. */
  onCounters: (subjectId: string, windowKey: string, state: AdmitState, admission: Admission, now: number, day: Period, month: Period) => void;
  /** Numbers the commands sent on the connection, in the order Redis runs them (limits-redis-outage.ts). */
  order?: () => number;
  /** A settlement could not be sent. */
  onSettleError: (err: unknown) => void;
  /** @see LimiterOptions.onBudgetSettled */
  onBudgetSettled?: (reading: BudgetReading) => void;
}

/**
 * Reserves the estimate on every limit of every subject, or throws RATE_LIMITED / QUOTA_EXCEEDED naming the subject
 * that refused; Redis errors pass through. requestOnly: the subjects carry their rpm only (requestOnlySubjects), and
 * their day and month counters are left as they are.
 */
/** One ADMIT as onCounters is told it: its place in the connection's order, and the tokens it reserved (undefined: refused). */
export interface Admission {
  seq: number;
  tokens: number | undefined;
}

export type SharedAdmit = (subjects: readonly LimitSubject[], estTokens: number, estCost: number, requestOnly?: boolean) => Promise<Reservation>;

type Admitted = Exclude<AdmitReply, ['SEED', ...number[]]>;

export function createSharedAdmission(opts: SharedAdmissionOptions): SharedAdmit {
  const { cmd, log } = opts;
  const gen = createGenerations();
  const seed = createSeeding(cmd, opts.seeder, gen);
  const warnSeedFailure = createSeedFailureWarning(log);
  const settled = (s: LimitSubject, period: string, value: string) => {
    if (value === '' || !s.budgetOf || s.limits.budget == null) return;
    tellBudget(opts.onBudgetSettled, { ...s.budgetOf, period, spentUsd: Number(value), budgetUsd: s.limits.budget }, log);
  };

  return async (subjects, estTokens, estCost, requestOnly = false) => {
    const now = Date.now();
    const day = utcDay(now);
    const month = utcMonth(now);
    const keys = subjects.flatMap((s) => counterKeys(opts.prefix, s.redisBase, day.id, month.id));
    // subjects whose day and month quotas are not checked for this call (their usage could not be loaded)
    const unchecked = new Set<number>();
    for (let attempt = 0; ; attempt++) {
      const argv: Array<string | number> = [estTokens, usd(estCost), WINDOW_MS, gen()];
      subjects.forEach(({ limits: l }, i) => {
        // request-only: the day and month counters are neither checked nor dropped (-1 with drop 0 leaves them be)
        const quotas = !requestOnly && !unchecked.has(i);
        const drop = requestOnly ? 0 : (l.tpd == null ? 1 : 0) + (l.budget == null ? 2 : 0);
        argv.push(l.rpm ?? -1, l.tpm ?? -1, quotas ? (l.tpd ?? -1) : -1, quotas ? (l.budget ?? -1) : -1, drop);
      });
      const seq = opts.order?.() ?? 0;
      const r = await cmd.gwAdmit(keys.length, ...keys, ...argv);
      if (r[0] === 'SEED') {
        const missing = r.slice(1).map((i) => Number(i) - 1);
        if (attempt >= 2) {
          // dropped again right after seeding (instances disagreeing about the limits for a moment)
          log.debug({ subjects: missing.map((i) => subjects[i]?.id) }, 'limits: day/month counters keep vanishing; quotas not checked for this call');
          for (const i of missing) unchecked.add(i);
          continue;
        }
        await Promise.all(
          missing.map(async (i) => {
            const s = subjects[i]!;
            try {
              await seed(s, keys[i * 3 + 1]!, keys[i * 3 + 2]!, day, month, now);
            } catch (err) {
              if (!(err instanceof SeedFailed)) throw err;
              // the database cannot tell what was used: do not check these quotas for this call (fail open)
              warnSeedFailure(err.cause, s.id);
              unchecked.add(i);
            }
          }),
        );
        continue;
      }
      const at = Date.now();
      const admission = { seq, tokens: r[0] === 'OK' ? estTokens : undefined };
      subjects.forEach((s, i) => opts.onCounters(s.id, keys[i * 3]!, subjectReply(r, i).slice(3) as AdmitState, admission, at, day, month));
      // a burst's replies arrive together: their calls go on over several turns of the loop, not all in this one
      const wait = loopTurn();
      if (wait) await wait;
      if (r[0] === 'OK') return sharedReservation(cmd, keys, subjects, r, estTokens, estCost, opts.onSettleError, (s, v) => settled(s, month.id, v));
      throw refusal(r, subjects);
    }
  };
}

const subjectReply = (r: Admitted, i: number): SubjectReply => r.slice(4 + i * SUBJECT_REPLY_LENGTH, 4 + (i + 1) * SUBJECT_REPLY_LENGTH) as SubjectReply;

/** Generation ids, unique across instances: a settlement touches a counter only if it is still the one it reserved on. */
export function createGenerations(): () => string {
  const instance = randomBytes(4).toString('hex');
  let seq = 0;
  return () => `${instance}.${(++seq).toString(36)}`;
}

/** Settles once: the estimate on the counters the call reserved on is replaced by what it used, on every subject. */
function sharedReservation(
  cmd: LimitCommands,
  keys: readonly string[],
  subjects: readonly LimitSubject[],
  r: Admitted,
  estTokens: number,
  estCost: number,
  onError: (err: unknown) => void,
  onMonth: (s: LimitSubject, monthValue: string) => void,
): Reservation {
  let settled = false;
  return {
    settle(actual) {
      if (settled) return;
      settled = true;
      const settleKeys: string[] = [];
      const gens: string[] = [];
      const reserved: LimitSubject[] = [];
      subjects.forEach((s, i) => {
        const [wg, dg, mg] = subjectReply(r, i);
        if (!wg && !dg && !mg) return;
        settleKeys.push(...keys.slice(i * 3, i * 3 + 3));
        gens.push(wg, dg, mg);
        reserved.push(s);
      });
      if (reserved.length === 0) return;
      cmd
        .gwSettle(settleKeys.length, ...settleKeys, estTokens, toTokens(actual.tokens), usd(estCost), usd(toUsd(actual.costUsd)), ...gens)
        .then((months) => reserved.forEach((s, j) => onMonth(s, String(months[j] ?? ''))), onError);
    },
  };
}

function refusal(r: Admitted, subjects: readonly LimitSubject[]): GatewayError {
  const s = subjects[r[1] - 1]!;
  const l = s.limits;
  const limit = r[2] as keyof typeof messages;
  if (r[0] === 'RATE') return rateLimited(messages[limit](limit === 'requestsPerMinute' ? l.rpm! : l.tpm!, s.kind), Math.max(1, Number(r[3])));
  return quotaExceeded(messages[limit](limit === 'tokensPerDay' ? l.tpd! : l.budget!, s.kind));
}

/** The seeding query failed (the database, not Redis). */
class SeedFailed extends Error {}

type Seed = (s: LimitSubject, dayKey: string, monthKey: string, day: Period, month: Period, now: number) => Promise<void>;

/**
 * Writes a subject's recorded day and month usage into Redis where the counter is missing (SET NX semantics). One
 * query per subject and period in this process, however many requests wait for it; nothing is kept once it is done
 * (the counters in Redis are the result), so this is a map of loads in flight rather than a cache.
 */
function createSeeding(cmd: LimitCommands, seeder: UsageSeeder, gen: () => string): Seed {
  const inFlight = new Map<string, Promise<void>>();
  return (s, dayKey, monthKey, day, month, now) => {
    const l = s.limits;
    const id = `${dayKey}|${monthKey}|${l.tpd != null}|${l.budget != null}`;
    let p = inFlight.get(id);
    if (!p) {
      p = (async () => {
        let r: Awaited<ReturnType<UsageSeeder>>;
        try {
          r = await seeder(s.seedScope, day.start, month.start);
        } catch (err) {
          throw new SeedFailed('could not load recorded usage', { cause: err });
        }
        await cmd.gwSeed(
          dayKey,
          monthKey,
          l.tpd != null ? String(toTokens(r.tokensToday)) : '',
          day.end - now + PERIOD_GRACE_MS,
          l.budget != null ? usd(toUsd(r.costMonth)) : '',
          month.end - now + PERIOD_GRACE_MS,
          gen(),
        );
      })().finally(() => inFlight.delete(id));
      inFlight.set(id, p);
    }
    return p;
  };
}
