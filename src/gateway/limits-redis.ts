/*
 * Limits shared by every gateway instance: counters in Redis, checked and reserved by one Lua script.
 *
 * Why Lua and not rate-limiter-flexible's RateLimiterRedis: a key can have four limits at once, and
 * admission must check all of them and only then reserve in all of them, atomically. With one
 * RateLimiterRedis per limit a refusal by the second would already have consumed the first, and
 * reward() afterwards is a separate round trip that others race against. The day/month counters
 * also need things the library does not model: calendar (UTC) periods, seeding from usage_records
 * with "set if absent" semantics, and settlement that knows whether the counter was re-created
 * while the call ran. Three short scripts do all of it in one round trip each.
 *
 * The scripts and the key layout are in limits-redis-scripts.ts, admission and seeding in limits-redis-admit.ts,
 * reading them for display in limits-redis-peek.ts, the up/down state in redis-availability.ts; this file puts them
 * together with the fallback.
 *
 * Outage: fail open to per-instance counters. When a command fails or gets no reply within the timeout
 * (500 ms of an event loop free to read it: a burst that blocks the loop must not make a healthy Redis
 * look dead, see loop-aware-deadline.ts), admissions go to an in-memory limiter with the same semantics,
 * which starts each key from the counters the last Redis reply showed for it (a fresh window would admit
 * the limit again on every instance); day/month quotas of keys it has not seen are seeded from
 * usage_records. Keys stay limited per instance instead of the whole gateway going down with Redis.
 * The switch is logged at warn; a probe pings twice a second and shared counters resume (logged at
 * info) as soon as Redis answers. Requests wait at most the command timeout plus the loop's own delays.
 */
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { isGatewayError } from '../errors.js';
import { type BudgetReading, type Limiter, type Period, type UsageSeeder, NOOP_RESERVATION, WINDOW_MS, toTokens, toUsd, utcDay, utcMonth } from './limits.js';
import { requestOnlySubjects, subjectsOf, unlimitedOf } from './limit-subjects.js';
import { createMemoryLimiter, type KnownCounters, type MemoryLimiter } from './limits-memory.js';
import { createSharedAdmission } from './limits-redis-admit.js';
import { createSharedPeek } from './limits-redis-peek.js';
import { counterKeys, createLimitsConnection, type AdmitState } from './limits-redis-scripts.js';
import { createRedisAvailability } from './redis-availability.js';
import { withTimeout } from '../util/with-timeout.js';

export interface RedisLimiterOptions {
  url: string;
  seeder: UsageSeeder;
  log: Logger;
  /** @default 'gw:' */
  redisPrefix?: string;
  /** No reply within this long (time the event loop was blocked not counted) is an outage. @default 500 */
  redisTimeoutMs?: number;
  /** How often an unreachable Redis is probed. @default 500 */
  probeMs?: number;
  /** @see LimiterOptions.onBudgetSettled */
  onBudgetSettled?: (reading: BudgetReading) => void;
}

export type RedisLimiter = Limiter & {
  /** false while admissions fall back to per-instance counters. */
  readonly shared: boolean;
};

export async function createRedisLimiter(opts: RedisLimiterOptions): Promise<RedisLimiter> {
  const prefix = opts.redisPrefix ?? 'gw:';
  const timeoutMs = opts.redisTimeoutMs ?? 500;
  const log = opts.log;
  const { client, cmd, deadline } = createLimitsConnection(opts.url, timeoutMs, log);

  /**
   * Each subject's shared counters as the last reply showed them: where the fallback starts if Redis goes away. The
   * least recently admitted go first when end users are many (those start the fallback from usage_records instead).
   */
  const known = new LRUCache<string, KnownCounters>({ max: 100_000 });
  const fallbackOf = (): MemoryLimiter =>
    createMemoryLimiter({ seeder: opts.seeder, log, initial: (id) => known.get(id), onBudgetSettled: opts.onBudgetSettled });
  let fallback = fallbackOf();
  const redis = createRedisAvailability({
    ping: () => deadline(client.ping()),
    probeMs: opts.probeMs ?? 500,
    onDown: (err) => {
      // an outage starts from the shared counts this instance last saw, not from the leftovers of an earlier one
      fallback = fallbackOf();
      log.warn({ err }, 'limits: Redis unreachable; enforcing limits per instance (in memory) until it returns');
    },
    onUp: () => log.info('limits: Redis reachable again; limits are shared across instances again'),
  });
  const admitShared = createSharedAdmission({
    cmd,
    prefix,
    seeder: opts.seeder,
    log,
    onCounters: (subjectId, state, now, day, month) => known.set(subjectId, toKnownCounters(state, now, day, month)),
    onSettleError: (err) => redis.markDown(err),
    onBudgetSettled: opts.onBudgetSettled,
  });

  try {
    await withTimeout(client.connect(), Math.max(2000, timeoutMs));
    redis.markUp();
  } catch (err) {
    log.warn({ err }, 'limits: Redis unreachable at start-up; enforcing limits per instance (in memory) until it answers');
    redis.probeUntilUp();
  }

  const peekShared = createSharedPeek(client, deadline, prefix);

  /** Keys and teams this instance has seen with limits: when one loses all of them, its day/month counters go. */
  const limited = new Set<string>();

  function forgetShared(subjectId: string, redisBase: string): void {
    fallback.forget(subjectId);
    known.delete(subjectId);
    if (!redis.up) return;
    const now = Date.now();
    const [, d, m] = counterKeys(prefix, redisBase, utcDay(now).id, utcMonth(now).id);
    client.del(d, m).catch(() => {});
  }

  return {
    get shared() {
      return redis.up;
    },
    async admit(req) {
      if (limited.size !== 0) for (const u of unlimitedOf(req.principal)) if (limited.delete(u.id)) forgetShared(u.id, u.redisBase);
      const all = subjectsOf(req.principal, req.endUser);
      if (all.length === 0) return NOOP_RESERVATION;
      for (const s of all) if (s.kind !== 'endUser') limited.add(s.id);
      const subjects = req.requestOnly ? requestOnlySubjects(all) : all;
      if (subjects.length === 0) return NOOP_RESERVATION;
      if (!redis.up) return fallback.admit(req);
      try {
        return await admitShared(subjects, toTokens(req.estimatedTokens), toUsd(req.estimatedCostUsd), req.requestOnly);
      } catch (err) {
        if (isGatewayError(err)) throw err;
        redis.markDown(err);
        return fallback.admit(req);
      }
    },
    async peek(keys) {
      // while admissions use per-instance counters, those are the ones that decide
      if (!redis.up) return fallback.peek(keys);
      try {
        return await peekShared(keys);
      } catch (err) {
        redis.markDown(err);
        return fallback.peek(keys);
      }
    },
    async close() {
      redis.close();
      await fallback.close();
      // settlements already sent get their replies; a dead Redis does not hold up shutdown
      await withTimeout(client.quit(), 1000).catch(() => client.disconnect());
    },
  };
}

/** An ADMIT reply's counters of one subject ('' where it has none) as the fallback takes them. */
function toKnownCounters([wr, wt, wttl, dv, mv]: AdmitState, now: number, day: Period, month: Period): KnownCounters {
  const k: KnownCounters = {};
  if (wr !== '') k.window = { start: now - (WINDOW_MS - Number(wttl)), requests: Number(wr), tokens: Number(wt) };
  if (dv !== '') k.day = { period: day.id, used: Number(dv) };
  if (mv !== '') k.month = { period: month.id, used: Number(mv) };
  return k;
}
