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
 * Keys (the key id in braces is the cluster hash tag, so one script only touches one slot):
 *   <prefix>{<keyId>}:w            hash g (window generation), r (requests), t (tokens); PEXPIRE 60 s
 *   <prefix>{<keyId>}:d:YYYY-MM-DD hash g (seed generation), v (tokens); expires an hour after the day
 *   <prefix>{<keyId>}:m:YYYY-MM    hash g, v (USD, HINCRBYFLOAT); expires an hour after the month
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
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { isGatewayError, quotaExceeded, rateLimited } from '../errors.js';
import {
  type KeyLimitSet,
  type Limiter,
  type Reservation,
  type UsageSeeder,
  NOOP_RESERVATION,
  PERIOD_GRACE_MS,
  WINDOW_MS,
  limitsOf,
  messages,
  toTokens,
  toUsd,
  utcDay,
  utcMonth,
} from './limits.js';
import { createMemoryLimiter, type KnownCounters, type MemoryLimiter } from './limits-memory.js';
import { createConnectionDeadline } from '../util/loop-aware-deadline.js';
import { loopTurn } from '../util/loop-turn.js';

/**
 * KEYS: window, day, month. ARGV: rpm, tpm, tpd, budget (-1: not checked), estTokens, estCost,
 * windowMs, new window generation, drop (bit 1: day, bit 2: month counter, whose limit was removed).
 * Returns {'OK', windowGen, dayGen, monthGen, …state} | {'RATE', limit, retryAfterMs, '', …state} |
 * {'QUOTA', limit, '', '', …state} | {'SEED'}, where state is the counters after the call (what a fallback
 * starts from if Redis goes away): window requests, window tokens, window ms left, day tokens, month USD
 * ('' where the key has no such counter).
 */
const ADMIT = `
local rpm = tonumber(ARGV[1])
local tpm = tonumber(ARGV[2])
local tpd = tonumber(ARGV[3])
local budget = tonumber(ARGV[4])
local est = tonumber(ARGV[5])
local windowMs = tonumber(ARGV[7])
local drop = tonumber(ARGV[9])
if drop % 2 == 1 then redis.call('DEL', KEYS[2]) end
if drop >= 2 then redis.call('DEL', KEYS[3]) end
local day, month
if tpd >= 0 then
  day = redis.call('HMGET', KEYS[2], 'g', 'v')
  if not day[1] then return {'SEED'} end
end
if budget >= 0 then
  month = redis.call('HMGET', KEYS[3], 'g', 'v')
  if not month[1] then return {'SEED'} end
end
local w = {false, false, false}
local ttl = windowMs
if rpm >= 0 or tpm >= 0 then
  w = redis.call('HMGET', KEYS[1], 'g', 'r', 't')
  if w[1] then
    ttl = redis.call('PTTL', KEYS[1])
    if ttl <= 0 then ttl = windowMs end
  end
end
local function state()
  local s = {'', '', '', '', ''}
  if w[1] then s[1] = w[2]; s[2] = w[3]; s[3] = tostring(ttl) end
  if day then s[4] = day[2] end
  if month then s[5] = month[2] end
  return s
end
local function reply(a, b, c, d)
  local s = state()
  return {a, b, c, d, s[1], s[2], s[3], s[4], s[5]}
end
if day and tonumber(day[2]) >= tpd then return reply('QUOTA', 'tokensPerDay', '', '') end
if month and tonumber(month[2]) >= budget - 1e-9 then return reply('QUOTA', 'monthlyBudgetUsd', '', '') end
local wg = ''
if rpm >= 0 or tpm >= 0 then
  if w[1] then
    if rpm >= 0 and tonumber(w[2]) >= rpm then return reply('RATE', 'requestsPerMinute', ttl, '') end
    if tpm >= 0 and tonumber(w[3]) >= tpm then return reply('RATE', 'tokensPerMinute', ttl, '') end
    w[2] = redis.call('HINCRBY', KEYS[1], 'r', 1)
    w[3] = redis.call('HINCRBY', KEYS[1], 't', est)
    wg = w[1]
  else
    if rpm == 0 then return reply('RATE', 'requestsPerMinute', windowMs, '') end
    if tpm == 0 then return reply('RATE', 'tokensPerMinute', windowMs, '') end
    redis.call('HSET', KEYS[1], 'g', ARGV[8], 'r', 1, 't', est)
    redis.call('PEXPIRE', KEYS[1], windowMs)
    w = {ARGV[8], 1, est}
    wg = ARGV[8]
  end
end
local dg, mg = '', ''
if day then
  day[2] = redis.call('HINCRBY', KEYS[2], 'v', est)
  dg = day[1]
end
if month then
  month[2] = redis.call('HINCRBYFLOAT', KEYS[3], 'v', ARGV[6])
  mg = month[1]
end
return reply('OK', wg, dg, mg)
`;

/**
 * KEYS: window, day, month. ARGV: windowGen, dayGen, monthGen ('' = not reserved there),
 * estTokens, actualTokens, estCost, actualCost. The estimate is replaced by the actual on the counter
 * the call reserved on; a counter re-seeded meanwhile gets the actual added (its seed could not
 * include this call, whose record is written after settlement); an expired one is left alone.
 */
const SETTLE = `
local dt = tonumber(ARGV[5]) - tonumber(ARGV[4])
if ARGV[1] ~= '' and redis.call('HGET', KEYS[1], 'g') == ARGV[1] then
  redis.call('HINCRBY', KEYS[1], 't', dt)
end
if ARGV[2] ~= '' then
  local g = redis.call('HGET', KEYS[2], 'g')
  if g == ARGV[2] then redis.call('HINCRBY', KEYS[2], 'v', dt)
  elseif g then redis.call('HINCRBY', KEYS[2], 'v', ARGV[5]) end
end
if ARGV[3] ~= '' then
  local g = redis.call('HGET', KEYS[3], 'g')
  if g == ARGV[3] then redis.call('HINCRBYFLOAT', KEYS[3], 'v', tonumber(ARGV[7]) - tonumber(ARGV[6]))
  elseif g then redis.call('HINCRBYFLOAT', KEYS[3], 'v', ARGV[7]) end
end
return 1
`;

/** KEYS: day, month. ARGV: dayTokens, dayTtlMs, monthCost, monthTtlMs ('' = skip), generation. SET NX semantics. */
const SEED = `
if ARGV[1] ~= '' and redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'g', ARGV[5], 'v', ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
if ARGV[3] ~= '' and redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('HSET', KEYS[2], 'g', ARGV[5], 'v', ARGV[3])
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
end
return 1
`;

/** window requests, window tokens, window ms left, day tokens, month USD: numbers as Redis returns them, '' = none */
type AdmitState = [string | number, string | number, string | number, string | number, string | number];
type AdmitReply =
  | ['OK', string, string, string, ...AdmitState]
  | ['RATE', keyof typeof messages, number, '', ...AdmitState]
  | ['QUOTA', keyof typeof messages, '', '', ...AdmitState]
  | ['SEED'];

interface LimitCommands {
  gwAdmit(k1: string, k2: string, k3: string, ...argv: Array<string | number>): Promise<AdmitReply>;
  gwSettle(k1: string, k2: string, k3: string, ...argv: Array<string | number>): Promise<number>;
  gwSeed(k1: string, k2: string, ...argv: Array<string | number>): Promise<number>;
}

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
}

export type RedisLimiter = Limiter & {
  /** false while admissions fall back to per-instance counters. */
  readonly shared: boolean;
};

const usd = (n: number) => n.toFixed(10);

export async function createRedisLimiter(opts: RedisLimiterOptions): Promise<RedisLimiter> {
  const prefix = opts.redisPrefix ?? 'gw:';
  const timeoutMs = opts.redisTimeoutMs ?? 500;
  const probeMs = opts.probeMs ?? 500;
  const log = opts.log;
  const instance = randomBytes(4).toString('hex');
  let seq = 0;
  const gen = () => `${instance}.${(++seq).toString(36)}`;

  const client = new Redis(opts.url, {
    lazyConnect: true,
    // never queue while disconnected: a command fails at once and the request falls back
    enableOfflineQueue: false,
    // no commandTimeout: its timers fire before a blocked loop reads the replies waiting for it (see deadline)
    connectTimeout: Math.max(1000, timeoutMs),
    maxRetriesPerRequest: 0,
    retryStrategy: (times) => Math.min(times * 100, 1000),
  });
  client.defineCommand('gwAdmit', { numberOfKeys: 3, lua: ADMIT });
  client.defineCommand('gwSettle', { numberOfKeys: 3, lua: SETTLE });
  client.defineCommand('gwSeed', { numberOfKeys: 2, lua: SEED });
  const redis = client as unknown as LimitCommands;
  const deadline = createConnectionDeadline(timeoutMs);
  const cmd: LimitCommands = {
    gwAdmit: (...a) => deadline(redis.gwAdmit(...a)),
    gwSettle: (...a) => deadline(redis.gwSettle(...a)),
    gwSeed: (...a) => deadline(redis.gwSeed(...a)),
  };
  client.on('error', (err) => log.debug({ err }, 'limits: redis connection error'));

  /** Each key's shared counters as the last reply showed them: where the fallback starts if Redis goes away. */
  const known = new Map<string, KnownCounters>();
  const fallbackOf = (): MemoryLimiter => createMemoryLimiter({ seeder: opts.seeder, log, initial: (id) => known.get(id) });
  let fallback = fallbackOf();
  let up = false;
  let closed = false;
  let probe: NodeJS.Timeout | undefined;

  function markDown(err: unknown): void {
    if (!up || closed) return;
    up = false;
    // an outage starts from the shared counts this instance last saw, not from the leftovers of an earlier one
    fallback = fallbackOf();
    log.warn({ err }, 'limits: Redis unreachable; enforcing limits per instance (in memory) until it returns');
    startProbe();
  }

  function startProbe(): void {
    if (probe || closed) return;
    let pinging = false;
    probe = setInterval(() => {
      if (pinging) return;
      pinging = true;
      deadline(client.ping())
        .then(() => {
          if (up || closed) return;
          up = true;
          clearInterval(probe);
          probe = undefined;
          log.info('limits: Redis reachable again; limits are shared across instances again');
        })
        .catch(() => {})
        .finally(() => (pinging = false));
    }, probeMs);
    probe.unref();
  }

  function remember(keyId: string, r: AdmitState, now: number, dayId: string, monthId: string): void {
    const [wr, wt, wttl, dv, mv] = r;
    const k: KnownCounters = {};
    if (wr !== '') k.window = { start: now - (WINDOW_MS - Number(wttl)), requests: Number(wr), tokens: Number(wt) };
    if (dv !== '') k.day = { period: dayId, used: Number(dv) };
    if (mv !== '') k.month = { period: monthId, used: Number(mv) };
    known.set(keyId, k);
  }

  try {
    await withTimeout(client.connect(), Math.max(2000, timeoutMs));
    up = true;
  } catch (err) {
    log.warn({ err }, 'limits: Redis unreachable at start-up; enforcing limits per instance (in memory) until it answers');
    startProbe();
  }

  const keysFor = (keyId: string, dayId: string, monthId: string): [string, string, string] => [
    `${prefix}{${keyId}}:w`,
    `${prefix}{${keyId}}:d:${dayId}`,
    `${prefix}{${keyId}}:m:${monthId}`,
  ];

  /** One seeding query per key and period in this process, however many requests wait for it. */
  const seeding = new Map<string, Promise<void>>();
  let lastSeedWarning = 0;
  function seed(keyId: string, keys: [string, string, string], day: ReturnType<typeof utcDay>, month: ReturnType<typeof utcMonth>, l: KeyLimitSet, now: number): Promise<void> {
    const id = `${keyId}|${day.id}|${month.id}|${l.tpd != null}|${l.budget != null}`;
    let p = seeding.get(id);
    if (!p) {
      p = (async () => {
        let r: Awaited<ReturnType<UsageSeeder>>;
        try {
          r = await opts.seeder(keyId, day.start, month.start);
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
      })().finally(() => seeding.delete(id));
      seeding.set(id, p);
    }
    return p;
  }

  /** Keys this instance has seen with limits: when one loses all of them, its day/month counters go. */
  const limited = new Set<string>();

  async function admitShared(keyId: string, l: KeyLimitSet, estTokens: number, estCost: number): Promise<Reservation> {
    const now = Date.now();
    const day = utcDay(now);
    const month = utcMonth(now);
    const keys = keysFor(keyId, day.id, month.id);
    let tpd = l.tpd ?? -1;
    let budget = l.budget ?? -1;
    const drop = (l.tpd == null ? 1 : 0) + (l.budget == null ? 2 : 0);
    for (let attempt = 0; ; attempt++) {
      const r = await cmd.gwAdmit(...keys, l.rpm ?? -1, l.tpm ?? -1, tpd, budget, estTokens, usd(estCost), WINDOW_MS, gen(), drop);
      if (r[0] !== 'SEED') remember(keyId, r.slice(4) as AdmitState, Date.now(), day.id, month.id);
      // a burst's replies arrive together: their calls go on over several turns of the loop, not all in this one
      const wait = loopTurn();
      if (wait) await wait;
      switch (r[0]) {
        case 'OK': {
          const [, wg, dg, mg] = r;
          let settled = false;
          return {
            settle(actual) {
              if (settled) return;
              settled = true;
              if (!wg && !dg && !mg) return;
              cmd
                .gwSettle(...keys, wg, dg, mg, estTokens, toTokens(actual.tokens), usd(estCost), usd(toUsd(actual.costUsd)))
                .catch((err) => markDown(err));
            },
          };
        }
        case 'RATE':
          throw rateLimited(messages[r[1]](r[1] === 'requestsPerMinute' ? l.rpm! : l.tpm!), Math.max(1, Number(r[2])));
        case 'QUOTA':
          throw quotaExceeded(messages[r[1]](r[1] === 'tokensPerDay' ? l.tpd! : l.budget!));
        case 'SEED':
          if (attempt >= 2) {
            // dropped again right after seeding (instances disagreeing about the key's limits for a moment)
            log.debug({ keyId }, 'limits: day/month counters keep vanishing; quotas not checked for this call');
            tpd = -1;
            budget = -1;
            break;
          }
          try {
            await seed(keyId, keys, day, month, l, now);
          } catch (err) {
            if (!(err instanceof SeedFailed)) throw err;
            // the database cannot tell what was used: do not check these quotas for this call (fail open)
            if (Date.now() - lastSeedWarning > 10_000) {
              lastSeedWarning = Date.now();
              log.warn({ err: err.cause, keyId }, 'limits: could not load recorded usage; daily/monthly quotas not checked until it loads');
            }
            tpd = -1;
            budget = -1;
          }
      }
    }
  }

  return {
    get shared() {
      return up;
    },
    async admit(req) {
      const key = req.principal.key;
      const l = limitsOf(key);
      if (!l) {
        if (limited.size !== 0 && limited.delete(key.id)) forgetShared(key.id);
        return NOOP_RESERVATION;
      }
      limited.add(key.id);
      if (!up) return fallback.admit(req);
      try {
        return await admitShared(key.id, l, toTokens(req.estimatedTokens), toUsd(req.estimatedCostUsd));
      } catch (err) {
        if (isGatewayError(err)) throw err;
        markDown(err);
        return fallback.admit(req);
      }
    },
    async close() {
      closed = true;
      clearInterval(probe);
      await fallback.close();
      // settlements already sent get their replies; a dead Redis does not hold up shutdown
      await withTimeout(client.quit(), 1000).catch(() => client.disconnect());
    },
  };

  function forgetShared(keyId: string): void {
    fallback.forget(keyId);
    known.delete(keyId);
    if (!up) return;
    const now = Date.now();
    const [, d, m] = keysFor(keyId, utcDay(now).id, utcMonth(now).id);
    client.del(d, m).catch(() => {});
  }
}

/** The seeding query failed (the database, not Redis). */
class SeedFailed extends Error {}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
