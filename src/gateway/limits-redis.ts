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
 * reading them for display in limits-redis-peek.ts, the fallback during an outage in limits-redis-outage.ts (with
 * limits-redis-peers.ts and limits-redis-rejoin.ts); this file puts them together.
 *
 * Outage: fall back to per-instance counters that still hold the limits in total. When a command fails or gets
 * no reply within the timeout (500 ms of an event loop free to read it: a burst that blocks the loop must not make
 * a healthy Redis look dead, see loop-aware-deadline.ts), admissions go to an in-memory limiter with the same
 * semantics, which starts each subject from the counters Redis last showed for it (a fresh window would admit the
 * limit again on every instance) and admits only this instance's share of what was left in each per-minute window:
 * floor((limit − count) / peers), a fresh window floor(limit / peers), where peers is the number of live instances
 * a heartbeat counts (limits-redis-peers.ts, which also keeps those counts fresh). An instance that never reached
 * Redis does not know its share and refuses subjects with a per-minute limit (RATE_LIMITED, retry in 1 s) until
 * Redis answers: admitting anything could exceed the limit, and a 429 is what a caller over its limit gets anyway.
 * Day/month quotas of subjects it has not seen are seeded from usage_records as before. The switch is logged at
 * warn; a probe pings twice a second, and when Redis answers the instance first adds its outage admissions to the
 * shared windows and waits for its peers to do the same (limits-redis-rejoin.ts), then shared counters resume
 * (logged at info). Requests wait at most the command timeout plus the loop's own delays.
 *
 * With several instances, a subject whose window no heartbeat read (this instance never admitted it, or only since
 * the last beat) is refused like that until the window it may have elsewhere has surely ended (a minute into the
 * outage at most): the count only this instance saw is not what the others took over, and a fresh window would
 * come on top of theirs. An instance that joined less than two heartbeats before the outage may not be counted by
 * the others yet (their shares would be too large with it on top), so it refuses as one that never reached Redis.
 * A Redis that fails again while the returning instance tells its last admissions: those go to the next outage's
 * fallback, which counts them and tells them at the next return.
 *
 * What it cannot see: admissions of the other instances since this one last read a window (at most one heartbeat
 * of them). A partition that cuts off only some instances leaves the others on the shared counters, which do not
 * see the cut-off ones' admissions until they return.
 */
import type { Logger } from 'pino';
import { isGatewayError } from '../errors.js';
import { type BudgetReading, type Limiter, type UsageSeeder, NOOP_RESERVATION, toTokens, toUsd, utcDay, utcMonth } from './limits.js';
import { requestOnlySubjects, subjectsOf, unlimitedOf } from './limit-subjects.js';
import { createSharedAdmission } from './limits-redis-admit.js';
import { createOutageFallback } from './limits-redis-outage.js';
import { createSharedPeek } from './limits-redis-peek.js';
import { counterKeys, createLimitsConnection } from './limits-redis-scripts.js';
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
  /** Heartbeat period (limits-redis-peers.ts). @default 1000 */
  heartbeatMs?: number;
  /** How long a returning instance waits for its peers to reconcile too (limits-redis-rejoin.ts). @default 5000 */
  rejoinSettleMs?: number;
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

  const outage = createOutageFallback({ ...opts, client, cmd, deadline, prefix });
  const { redis } = outage;
  const admitShared = createSharedAdmission({
    cmd,
    prefix,
    seeder: opts.seeder,
    log,
    onCounters: outage.onCounters,
    order: outage.order,
    onSettleError: (err) => redis.markDown(err),
    onBudgetSettled: opts.onBudgetSettled,
  });

  try {
    await withTimeout(client.connect(), Math.max(2000, timeoutMs));
    await outage.connected();
  } catch (err) {
    log.warn({ err }, 'limits: Redis unreachable at start-up; enforcing limits per instance (in memory) until it answers');
    redis.probeUntilUp();
  }

  const peekShared = createSharedPeek(client, deadline, prefix);

  /** Keys and teams this instance has seen with limits: when one loses all of them, its day/month counters go. */
  const limited = new Set<string>();

  function forgetShared(subjectId: string, redisBase: string): void {
    outage.forget(subjectId);
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
      if (!redis.up) return outage.fallback.admit(req);
      try {
        return await admitShared(subjects, toTokens(req.estimatedTokens), toUsd(req.estimatedCostUsd), req.requestOnly);
      } catch (err) {
        if (isGatewayError(err)) throw err;
        redis.markDown(err);
        return outage.fallback.admit(req);
      }
    },
    async peek(keys) {
      // while admissions use per-instance counters, those are the ones that decide
      if (!redis.up) return outage.fallback.peek(keys);
      try {
        return await peekShared(keys);
      } catch (err) {
        redis.markDown(err);
        return outage.fallback.peek(keys);
      }
    },
    async close() {
      await outage.close();
      // settlements already sent get their replies; a dead Redis does not hold up shutdown
      await withTimeout(client.quit(), 1000).catch(() => client.disconnect());
    },
  };
}
