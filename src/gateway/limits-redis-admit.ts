/*
 * Admission against the shared counters: one ADMIT call checks and reserves every limit of a key at once; a day
 * or month counter Redis does not have yet is seeded from usage_records first, then the call is made again.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { quotaExceeded, rateLimited, type GatewayError } from '../errors.js';
import {
  type KeyLimitSet,
  type Period,
  type Reservation,
  type UsageSeeder,
  PERIOD_GRACE_MS,
  WINDOW_MS,
  createSeedFailureWarning,
  messages,
  toTokens,
  toUsd,
  utcDay,
  utcMonth,
} from './limits.js';
import { counterKeys, usd, type AdmitReply, type AdmitState, type LimitCommands } from './limits-redis-scripts.js';
import { loopTurn } from '../util/loop-turn.js';

export interface SharedAdmissionOptions {
  cmd: LimitCommands;
  /** @see RedisLimiterOptions.redisPrefix */
  prefix: string;
  seeder: UsageSeeder;
  log: Logger;
  /** The counters every reply showed: where per-instance counters start if Redis goes away. */
  onCounters: (keyId: string, state: AdmitState, now: number, day: Period, month: Period) => void;
  /** A settlement could not be sent. */
  onSettleError: (err: unknown) => void;
}

/** Reserves the estimate on every limit of the key, or throws RATE_LIMITED / QUOTA_EXCEEDED; Redis errors pass through. */
export type SharedAdmit = (keyId: string, limits: KeyLimitSet, estTokens: number, estCost: number, requestOnly?: boolean) => Promise<Reservation>;

type Keys = [string, string, string];

export function createSharedAdmission(opts: SharedAdmissionOptions): SharedAdmit {
  const { cmd, log } = opts;
  const gen = createGenerations();
  const seed = createSeeding(cmd, opts.seeder, gen);
  const warnSeedFailure = createSeedFailureWarning(log);

  return async (keyId, l, estTokens, estCost, requestOnly = false) => {
    const now = Date.now();
    const day = utcDay(now);
    const month = utcMonth(now);
    const keys = counterKeys(opts.prefix, keyId, day.id, month.id);
    // request-only: the day and month counters are neither checked nor dropped (-1 with drop 0 leaves them be)
    let tpd = requestOnly ? -1 : (l.tpd ?? -1);
    let budget = requestOnly ? -1 : (l.budget ?? -1);
    const tpm = requestOnly ? -1 : (l.tpm ?? -1);
    const drop = requestOnly ? 0 : (l.tpd == null ? 1 : 0) + (l.budget == null ? 2 : 0);
    for (let attempt = 0; ; attempt++) {
      const r = await cmd.gwAdmit(...keys, l.rpm ?? -1, tpm, tpd, budget, estTokens, usd(estCost), WINDOW_MS, gen(), drop);
      if (r[0] !== 'SEED') opts.onCounters(keyId, r.slice(4) as AdmitState, Date.now(), day, month);
      // a burst's replies arrive together: their calls go on over several turns of the loop, not all in this one
      const wait = loopTurn();
      if (wait) await wait;
      if (r[0] === 'OK') return sharedReservation(cmd, keys, r, estTokens, estCost, opts.onSettleError);
      if (r[0] !== 'SEED') throw refusal(r, l);
      if (attempt >= 2) {
        // dropped again right after seeding (instances disagreeing about the key's limits for a moment)
        log.debug({ keyId }, 'limits: day/month counters keep vanishing; quotas not checked for this call');
        tpd = -1;
        budget = -1;
        continue;
      }
      try {
        await seed(keyId, keys, day, month, l, now);
      } catch (err) {
        if (!(err instanceof SeedFailed)) throw err;
        // the database cannot tell what was used: do not check these quotas for this call (fail open)
        warnSeedFailure(err.cause, keyId);
        tpd = -1;
        budget = -1;
      }
    }
  };
}

/** Generation ids, unique across instances: a settlement touches a counter only if it is still the one it reserved on. */
function createGenerations(): () => string {
  const instance = randomBytes(4).toString('hex');
  let seq = 0;
  return () => `${instance}.${(++seq).toString(36)}`;
}

/** Settles once: the estimate on the counters the call reserved on is replaced by what it used. */
function sharedReservation(
  cmd: LimitCommands,
  keys: Keys,
  [, wg, dg, mg]: Extract<AdmitReply, ['OK', ...unknown[]]>,
  estTokens: number,
  estCost: number,
  onError: (err: unknown) => void,
): Reservation {
  let settled = false;
  return {
    settle(actual) {
      if (settled) return;
      settled = true;
      if (!wg && !dg && !mg) return;
      cmd.gwSettle(...keys, wg, dg, mg, estTokens, toTokens(actual.tokens), usd(estCost), usd(toUsd(actual.costUsd))).catch(onError);
    },
  };
}

function refusal(r: Extract<AdmitReply, ['RATE' | 'QUOTA', ...unknown[]]>, l: KeyLimitSet): GatewayError {
  if (r[0] === 'RATE') return rateLimited(messages[r[1]](r[1] === 'requestsPerMinute' ? l.rpm! : l.tpm!), Math.max(1, Number(r[2])));
  return quotaExceeded(messages[r[1]](r[1] === 'tokensPerDay' ? l.tpd! : l.budget!));
}

/** The seeding query failed (the database, not Redis). */
class SeedFailed extends Error {}

type Seed = (keyId: string, keys: Keys, day: Period, month: Period, l: KeyLimitSet, now: number) => Promise<void>;

/**
 * Writes a key's recorded day and month usage into Redis where the counter is missing (SET NX semantics). One
 * query per key and period in this process, however many requests wait for it; nothing is kept once it is done
 * (the counters in Redis are the result), so this is a map of loads in flight rather than a cache.
 */
function createSeeding(cmd: LimitCommands, seeder: UsageSeeder, gen: () => string): Seed {
  const inFlight = new Map<string, Promise<void>>();
  return (keyId, keys, day, month, l, now) => {
    const id = `${keyId}|${day.id}|${month.id}|${l.tpd != null}|${l.budget != null}`;
    let p = inFlight.get(id);
    if (!p) {
      p = (async () => {
        let r: Awaited<ReturnType<UsageSeeder>>;
        try {
          r = await seeder(keyId, day.start, month.start);
        } catch (err) {
          throw new SeedFailed('could not load recorded usage', { cause: err });
        }
        await cmd.gwSeed(
          keys[1],
          keys[2],
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
