/*
 * What each key has used of its limits right now, for display: the limiter's own counters (peeked, nothing
 * reserved), and where it holds none for the current day or month (no such limit, or not seeded yet), the
 * recorded usage that seeding the counter would start from.
 */
import type { ApiKeyRow } from '../db/schema.js';
import type { Limiter, RecordedUsage } from '../gateway/limits.js';

export interface KeyLimitUsage {
  requestsThisMinute: number;
  tokensThisMinute: number;
  tokensToday: number;
  costThisMonthUsd: number;
}

/** The usage of many keys: one peek at the limiter and at most one statement for the keys it holds no counter of. */
export type LimitUsageReader = (keys: readonly ApiKeyRow[]) => Promise<KeyLimitUsage[]>;

export function createLimitUsageReader(limiter: Limiter, recorded: RecordedUsage): LimitUsageReader {
  return async (keys) => {
    const { day, month, counters } = await limiter.peek(keys);
    const unseeded = keys.filter((_, i) => counters[i]?.tokensToday === undefined || counters[i]?.costThisMonthUsd === undefined);
    const seeds = unseeded.length === 0 ? undefined : await recorded(unseeded.map((k) => k.id), day.start, month.start);
    return keys.map((k, i) => {
      const c = counters[i];
      const seed = seeds?.get(k.id);
      return {
        requestsThisMinute: c?.requestsThisMinute ?? 0,
        tokensThisMinute: c?.tokensThisMinute ?? 0,
        tokensToday: c?.tokensToday ?? seed?.tokensToday ?? 0,
        costThisMonthUsd: c?.costThisMonthUsd ?? seed?.costMonth ?? 0,
      };
    });
  };
}
