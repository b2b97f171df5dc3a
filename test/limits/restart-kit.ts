/* What the redis-restart tests share: a key row with a per-minute limit, and admissions reported as their outcome. */
import pino from 'pino';
import type { ApiKeyRow } from '../../src/db/schema.js';
import type { AdmitRequest, UsageSeeder } from '../../src/gateway/limits.js';
import type { RedisLimiter } from '../../src/gateway/limits-redis.js';
import { toPrincipal } from '../../src/services/keys.js';
import { sleep } from './kit.js';
import { keyRow as teamKitKeyRow } from '../teams/limiter-kit.js';

export const log = pino({ level: 'silent' });
export const seeder: UsageSeeder = async () => ({ tokensToday: 0, costMonth: 0 });

/** A key with only a per-minute request limit. */
export const keyRow = (requestsPerMinute: number): ApiKeyRow => teamKitKeyRow({ requestsPerMinute });

const req = (key: ApiKeyRow): AdmitRequest => ({ principal: toPrincipal(key), model: 'echo', estimatedTokens: 10, estimatedCostUsd: 0 });

/** 'OK' or the refusal's code; a refusal without a retry-after is reported as such (a 429 must carry one). */
export async function attempt(l: RedisLimiter, key: ApiKeyRow): Promise<string> {
  try {
    (await l.admit(req(key))).settle({ tokens: 10, costUsd: 0 });
    return 'OK';
  } catch (e) {
    const err = e as { code?: string; extensions?: { retryAfterMs?: number } };
    return err.code === 'RATE_LIMITED' && !((err.extensions?.retryAfterMs ?? 0) > 0) ? 'RATE_LIMITED without retry-after' : String(err.code ?? e);
  }
}

export async function attempts(l: RedisLimiter, key: ApiKeyRow, n: number): Promise<string[]> {
  const outs: string[] = [];
  for (let i = 0; i < n; i++) outs.push(await attempt(l, key));
  return outs;
}

export const okCount = (outs: string[]) => outs.filter((o) => o === 'OK').length;

export async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const started = Date.now();
  while (Date.now() - started < ms) {
    if (await cond()) return;
    await sleep(10);
  }
  throw new Error(`${what}: not within ${ms} ms`);
}
