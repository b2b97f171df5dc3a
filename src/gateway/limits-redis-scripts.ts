/*
 * The shared limits' Redis side: the three Lua scripts that check, reserve, settle and seed the counters of every
 * subject of a call (key, team, end users: limit-subjects.ts) in one round trip each, their typed replies, and the
 * connection that runs them.
 *
 * Keys. Every subject has three: <base>:w (window), <base>:d:YYYY-MM-DD (day), <base>:m:YYYY-MM (month), where
 *   <base> is
 *   <prefix>{<keyId>}                         a key without team (the layout from before teams)
 *   <prefix>{<keyId>}:u:<sha1(user)>          an end user under a key without team
 *   <prefix>{<teamId>}:t                      a team
 *   <prefix>{<teamId>}:k:<keyId>              a key of a team
 *   <prefix>{<teamId>}:k:<keyId>:u:<sha1>     an end user under a key of a team
 *   <prefix>{<teamId>}:u:<sha1(user)>         an end user under a team
 * The part in braces is the cluster hash tag: every key one call touches is in one slot (a key moved into or out
 * of a team starts new counters there; its day and month are seeded again from usage_records).
 *   :w  hash g (window generation), r (requests), t (tokens); PEXPIRE 60 s; b, bt when re-created after an outage
 *       (RECONCILE)
 *   :d  hash g (seed generation), v (tokens); expires an hour after the day
 *   :m  hash g, v (USD, HINCRBYFLOAT); expires an hour after the month
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { messages } from './limits.js';
import { createConnectionDeadline, type ConnectionDeadline } from '../util/loop-aware-deadline.js';
import { createRedisClient } from '../util/redis-client.js';

/**
 * KEYS: per subject window, day, month. ARGV: estTokens, estCost, windowMs, new window generation, then per
 * subject rpm, tpm, tpd, budget (-1: not checked), drop (bit 1: day, bit 2: month counter, whose limit was removed).
 * Every limit of every subject is checked (quotas of all, then rates of all, in subject order) before anything is
 * reserved. Returns {'SEED', i…} (the 1-based subjects whose day or month counter is missing) or
 * {status, subject, limit, retryAfterMs, …per subject: windowGen, dayGen, monthGen, …state} with status 'OK'
 * (subject 0, generations of the counters reserved on), 'RATE' or 'QUOTA' (the refusing subject and limit);
 * state is the subject's counters after the call (what a fallback starts from if Redis goes away): window
 * requests, window tokens, window ms left, day tokens, month USD ('' where it has no such counter).
 */
const ADMIT = `
local est = tonumber(ARGV[1])
local windowMs = tonumber(ARGV[3])
local n = #KEYS / 3
local subs = {}
local missing = {}
for i = 1, n do
  local a = 4 + (i - 1) * 5
  local k = (i - 1) * 3
  local s = {w = KEYS[k + 1], d = KEYS[k + 2], m = KEYS[k + 3], rpm = tonumber(ARGV[a + 1]), tpm = tonumber(ARGV[a + 2]),
    tpd = tonumber(ARGV[a + 3]), budget = tonumber(ARGV[a + 4]), win = {false, false, false}, ttl = windowMs, wg = '', dg = '', mg = ''}
  local drop = tonumber(ARGV[a + 5])
  if drop % 2 == 1 then redis.call('DEL', s.d) end
  if drop >= 2 then redis.call('DEL', s.m) end
  local unseeded = false
  if s.tpd >= 0 then
    s.day = redis.call('HMGET', s.d, 'g', 'v')
    if not s.day[1] then unseeded = true end
  end
  if s.budget >= 0 then
    s.month = redis.call('HMGET', s.m, 'g', 'v')
    if not s.month[1] then unseeded = true end
  end
  if unseeded then missing[#missing + 1] = i end
  s.rated = s.rpm >= 0 or s.tpm >= 0
  if s.rated then
    s.win = redis.call('HMGET', s.w, 'g', 'r', 't')
    if s.win[1] then
      s.ttl = redis.call('PTTL', s.w)
      if s.ttl <= 0 then s.ttl = windowMs end
    end
  end
  subs[i] = s
end
if #missing > 0 then
  table.insert(missing, 1, 'SEED')
  return missing
end
local function reply(status, at, limit, retry)
  local r = {status, at, limit, retry}
  for i = 1, n do
    local s = subs[i]
    local wr, wt, wttl, dv, mv = '', '', '', '', ''
    if s.win[1] then wr = s.win[2]; wt = s.win[3]; wttl = tostring(s.ttl) end
    if s.day then dv = s.day[2] end
    if s.month then mv = s.month[2] end
    local o = #r
    r[o + 1] = s.wg; r[o + 2] = s.dg; r[o + 3] = s.mg
    r[o + 4] = wr; r[o + 5] = wt; r[o + 6] = wttl; r[o + 7] = dv; r[o + 8] = mv
  end
  return r
end
for i = 1, n do
  local s = subs[i]
  if s.day and tonumber(s.day[2]) >= s.tpd then return reply('QUOTA', i, 'tokensPerDay', '') end
  if s.month and tonumber(s.month[2]) >= s.budget - 1e-9 then return reply('QUOTA', i, 'monthlyBudgetUsd', '') end
end
for i = 1, n do
  local s = subs[i]
  if s.rated then
    if s.win[1] then
      if s.rpm >= 0 and tonumber(s.win[2]) >= s.rpm then return reply('RATE', i, 'requestsPerMinute', s.ttl) end
      if s.tpm >= 0 and tonumber(s.win[3]) >= s.tpm then return reply('RATE', i, 'tokensPerMinute', s.ttl) end
    else
      if s.rpm == 0 then return reply('RATE', i, 'requestsPerMinute', windowMs) end
      if s.tpm == 0 then return reply('RATE', i, 'tokensPerMinute', windowMs) end
    end
  end
end
for i = 1, n do
  local s = subs[i]
  if s.rated then
    if s.win[1] then
      s.win[2] = redis.call('HINCRBY', s.w, 'r', 1)
      s.win[3] = redis.call('HINCRBY', s.w, 't', est)
    else
      redis.call('HSET', s.w, 'g', ARGV[4], 'r', 1, 't', est)
      redis.call('PEXPIRE', s.w, windowMs)
      s.win = {ARGV[4], 1, est}
      s.ttl = windowMs
    end
    s.wg = s.win[1]
  end
  if s.day then
    s.day[2] = redis.call('HINCRBY', s.d, 'v', est)
    s.dg = s.day[1]
  end
  if s.month then
    s.month[2] = redis.call('HINCRBYFLOAT', s.m, 'v', ARGV[2])
    s.mg = s.month[1]
  end
end
return reply('OK', 0, '', '')
`;

/**
 * KEYS: per subject window, day, month. ARGV: estTokens, actualTokens, estCost, actualCost, then per subject
 * windowGen, dayGen, monthGen ('' = not reserved there). The estimate is replaced by the actual on the counter the
 * call reserved on; a counter re-seeded meanwhile gets the actual added (its seed could not include this call,
 * whose record is written after settlement); an expired one is left alone. Returns per subject its month counter
 * after settlement ('' when it reserved none or it is gone): what budget alerts read.
 */
const SETTLE = `
local dt = tonumber(ARGV[2]) - tonumber(ARGV[1])
local dc = tonumber(ARGV[4]) - tonumber(ARGV[3])
local out = {}
for i = 1, #KEYS / 3 do
  local k = (i - 1) * 3
  local a = 4 + (i - 1) * 3
  if ARGV[a + 1] ~= '' and redis.call('HGET', KEYS[k + 1], 'g') == ARGV[a + 1] then
    redis.call('HINCRBY', KEYS[k + 1], 't', dt)
  end
  if ARGV[a + 2] ~= '' then
    local g = redis.call('HGET', KEYS[k + 2], 'g')
    if g == ARGV[a + 2] then redis.call('HINCRBY', KEYS[k + 2], 'v', dt)
    elseif g then redis.call('HINCRBY', KEYS[k + 2], 'v', ARGV[2]) end
  end
  local mv = ''
  if ARGV[a + 3] ~= '' then
    local g = redis.call('HGET', KEYS[k + 3], 'g')
    if g == ARGV[a + 3] then mv = redis.call('HINCRBYFLOAT', KEYS[k + 3], 'v', dc)
    elseif g then mv = redis.call('HINCRBYFLOAT', KEYS[k + 3], 'v', ARGV[4]) end
  end
  out[i] = mv
end
return out
`;

/** KEYS: day, month of one subject. ARGV: dayTokens, dayTtlMs, monthCost, monthTtlMs ('' = skip), generation. SET NX semantics. */
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

/**
 * After an outage: adds what an instance admitted on its own to the shared windows, before it uses them again.
 * KEYS: window keys. ARGV: new window generation, then per key: requests and tokens admitted locally during the
 * outage, admitted by this instance before it but after the base was read (pre: requests, tokens; sent once), the
 * base (what a heartbeat read of the window, the same moment for every instance: requests, tokens), ms until the
 * window ends. A window Redis kept through the outage gets the local admissions added. One an instance back earlier
 * re-created (fields b/bt: the base it was re-created from) gets them plus the pre ones, and the difference when
 * this instance's base is the larger. A missing one (Redis restarted empty) is re-created with base + pre + local
 * for the time it has left.
 */
const RECONCILE = `
for i = 1, #KEYS do
  local a = 1 + (i - 1) * 7
  local k = KEYS[i]
  local addR, addT = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local preR, preT = tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  local baseR, baseT, ttl = tonumber(ARGV[a + 5]), tonumber(ARGV[a + 6]), tonumber(ARGV[a + 7])
  if redis.call('EXISTS', k) == 1 then
    local b = redis.call('HMGET', k, 'b', 'bt')
    if b[1] then
      addR = addR + preR
      addT = addT + preT
      if baseR > tonumber(b[1]) then
        addR = addR + baseR - tonumber(b[1])
        redis.call('HSET', k, 'b', baseR)
      end
      if baseT > tonumber(b[2]) then
        addT = addT + baseT - tonumber(b[2])
        redis.call('HSET', k, 'bt', baseT)
      end
    end
    redis.call('HINCRBY', k, 'r', addR)
    redis.call('HINCRBY', k, 't', addT)
  elseif ttl > 0 then
    redis.call('HSET', k, 'g', ARGV[1], 'r', baseR + preR + addR, 't', baseT + preT + addT, 'b', baseR, 'bt', baseT)
    redis.call('PEXPIRE', k, ttl)
  end
end
return #KEYS
`;

/**
 * The peers heartbeat (limits-redis-peers.ts), one atomic snapshot. KEYS: the instances set, then window keys.
 * ARGV: now (epoch ms), instance id, liveMs, since (epoch ms). Records the beat, drops instances older than liveMs,
 * returns {live instances, instances that beat at or after since, then per window: requests ('' = none), tokens, ms left}.
 */
const BEAT = `
local now = tonumber(ARGV[1])
redis.call('ZADD', KEYS[1], now, ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[3]))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 2)
local out = {redis.call('ZCARD', KEYS[1]), redis.call('ZCOUNT', KEYS[1], ARGV[4], '+inf')}
for i = 2, #KEYS do
  local w = redis.call('HMGET', KEYS[i], 'r', 't')
  out[#out + 1] = w[1] or ''
  out[#out + 1] = w[2] or ''
  out[#out + 1] = redis.call('PTTL', KEYS[i])
end
return out
`;

/** window requests, window tokens, window ms left, day tokens, month USD: numbers as Redis returns them, '' = none */
export type AdmitState = [string | number, string | number, string | number, string | number, string | number];
/** Window, day and month generations ('' where not reserved), then the subject's state: 8 fields per subject. */
export type SubjectReply = [string, string, string, ...AdmitState];
export const SUBJECT_REPLY_LENGTH = 8;
/** Status, the refusing subject (1-based; 0 when admitted), its limit, retryAfterMs; then a SubjectReply per subject. */
export type AdmitReply = ['OK' | 'RATE' | 'QUOTA', number, keyof typeof messages | '', number | '', ...Array<string | number>] | ['SEED', ...number[]];

export interface LimitCommands {
  /** numKeys first (3 per subject), then the keys, then ARGV */
  gwAdmit(numKeys: number, ...keysAndArgv: Array<string | number>): Promise<AdmitReply>;
  gwSettle(numKeys: number, ...keysAndArgv: Array<string | number>): Promise<string[]>;
  gwSeed(k1: string, k2: string, ...argv: Array<string | number>): Promise<number>;
  /** numKeys first (the instances set, then window keys), then the keys, then ARGV */
  gwBeat(numKeys: number, ...keysAndArgv: Array<string | number>): Promise<Array<string | number>>;
  /** numKeys first (one window key per subject), then the keys, then ARGV */
  gwReconcile(numKeys: number, ...keysAndArgv: Array<string | number>): Promise<number>;
}

/** The window, day and month counter keys of a subject (LimitSubject.redisBase) for the given day and month. */
export function counterKeys(prefix: string, base: string, dayId: string, monthId: string): [string, string, string] {
  return [`${prefix}${base}:w`, `${prefix}${base}:d:${dayId}`, `${prefix}${base}:m:${monthId}`];
}

/** A USD amount as the scripts take it (HINCRBYFLOAT reads a decimal string). */
export const usd = (n: number): string => n.toFixed(10);

export interface LimitsConnection {
  client: Redis;
  /** The scripts, each reply under the connection's deadline. */
  cmd: LimitCommands;
  deadline: ConnectionDeadline;
}

/** A lazily connecting client with the scripts defined; a command it cannot send fails at once instead of queueing. */
export function createLimitsConnection(url: string, timeoutMs: number, log: Logger): LimitsConnection {
  const client = createRedisClient(url, timeoutMs);
  // variable number of keys: the caller passes it first
  client.defineCommand('gwAdmit', { lua: ADMIT });
  client.defineCommand('gwSettle', { lua: SETTLE });
  client.defineCommand('gwSeed', { numberOfKeys: 2, lua: SEED });
  client.defineCommand('gwReconcile', { lua: RECONCILE });
  client.defineCommand('gwBeat', { lua: BEAT });
  client.on('error', (err) => log.debug({ err }, 'limits: redis connection error'));
  const scripts = client as unknown as LimitCommands;
  const deadline = createConnectionDeadline(timeoutMs);
  const cmd: LimitCommands = {
    gwAdmit: (...a) => deadline(scripts.gwAdmit(...a)),
    gwSettle: (...a) => deadline(scripts.gwSettle(...a)),
    gwSeed: (...a) => deadline(scripts.gwSeed(...a)),
    gwReconcile: (...a) => deadline(scripts.gwReconcile(...a)),
    gwBeat: (...a) => deadline(scripts.gwBeat(...a)),
  };
  return { client, cmd, deadline };
}
