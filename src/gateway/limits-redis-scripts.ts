/*
 * The shared limits' Redis side: the three Lua scripts that check, reserve, settle and seed the counters of one
 * key in one round trip each, their typed replies, and the connection that runs them.
 *
 * Keys (the key id in braces is the cluster hash tag, so one script only touches one slot):
 *   <prefix>{<keyId>}:w            hash g (window generation), r (requests), t (tokens); PEXPIRE 60 s
 *   <prefix>{<keyId>}:d:YYYY-MM-DD hash g (seed generation), v (tokens); expires an hour after the day
 *   <prefix>{<keyId>}:m:YYYY-MM    hash g, v (USD, HINCRBYFLOAT); expires an hour after the month
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { messages } from './limits.js';
import { createConnectionDeadline, type ConnectionDeadline } from '../util/loop-aware-deadline.js';
import { createRedisClient } from '../util/redis-client.js';

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
export type AdmitState = [string | number, string | number, string | number, string | number, string | number];
export type AdmitReply =
  | ['OK', string, string, string, ...AdmitState]
  | ['RATE', keyof typeof messages, number, '', ...AdmitState]
  | ['QUOTA', keyof typeof messages, '', '', ...AdmitState]
  | ['SEED'];

export interface LimitCommands {
  gwAdmit(k1: string, k2: string, k3: string, ...argv: Array<string | number>): Promise<AdmitReply>;
  gwSettle(k1: string, k2: string, k3: string, ...argv: Array<string | number>): Promise<number>;
  gwSeed(k1: string, k2: string, ...argv: Array<string | number>): Promise<number>;
}

/** The window, day and month counter keys of one key for the given day and month. */
export function counterKeys(prefix: string, keyId: string, dayId: string, monthId: string): [string, string, string] {
  return [`${prefix}{${keyId}}:w`, `${prefix}{${keyId}}:d:${dayId}`, `${prefix}{${keyId}}:m:${monthId}`];
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
  client.defineCommand('gwAdmit', { numberOfKeys: 3, lua: ADMIT });
  client.defineCommand('gwSettle', { numberOfKeys: 3, lua: SETTLE });
  client.defineCommand('gwSeed', { numberOfKeys: 2, lua: SEED });
  client.on('error', (err) => log.debug({ err }, 'limits: redis connection error'));
  const scripts = client as unknown as LimitCommands;
  const deadline = createConnectionDeadline(timeoutMs);
  const cmd: LimitCommands = {
    gwAdmit: (...a) => deadline(scripts.gwAdmit(...a)),
    gwSettle: (...a) => deadline(scripts.gwSettle(...a)),
    gwSeed: (...a) => deadline(scripts.gwSeed(...a)),
  };
  return { client, cmd, deadline };
}
