/*
 * Reading the shared counters without touching them: the fields ADMIT checks (limits-redis-scripts.ts), fetched
 * with plain HMGET/HGET for every key asked in one pipeline, so a page of keys costs one round trip. Nothing is
 * seeded or reserved; a window that has ended is already gone (PEXPIRE), as ADMIT would find it.
 */
import type { Redis } from 'ioredis';
import type { ApiKeyRow } from '../db/schema.js';
import { type CounterPeek, type KeyCounters, limitsOf, utcDay, utcMonth } from './limits.js';
import { counterKeys } from './limits-redis-scripts.js';
import { keyRedisBase } from './limit-subjects.js';
import type { ConnectionDeadline } from '../util/loop-aware-deadline.js';

export type SharedPeek = (keys: readonly ApiKeyRow[]) => Promise<CounterPeek>;

type Reply = string | null | Array<string | null>;

export function createSharedPeek(client: Redis, deadline: ConnectionDeadline, prefix: string): SharedPeek {
  return async (keys) => {
    const now = Date.now();
    const day = utcDay(now);
    const month = utcMonth(now);
    const pipeline = client.pipeline();
    /** Queues one read; its reply's index. */
    const queue = (read: () => unknown): number => {
      const index = pipeline.length;
      read();
      return index;
    };
    // per key, the reply index of each counter read (-1: the key has no such limit, so it is not read)
    const plans = keys.map((k) => {
      const l = limitsOf(k);
      const [w, d, m] = counterKeys(prefix, keyRedisBase(k), day.id, month.id);
      return {
        window: l && (l.rpm != null || l.tpm != null) ? queue(() => pipeline.hmget(w, 'r', 't')) : -1,
        day: l?.tpd != null ? queue(() => pipeline.hget(d, 'v')) : -1,
        month: l?.budget != null ? queue(() => pipeline.hget(m, 'v')) : -1,
      };
    });
    const replies = pipeline.length === 0 ? [] : valuesOf(await deadline(pipeline.exec()));
    const reply = (index: number): Reply | undefined => (index < 0 ? undefined : replies[index]);
    const counters = plans.map((at): KeyCounters => {
      const [r, t] = (reply(at.window) as Array<string | null> | undefined) ?? [];
      const dv = reply(at.day) as string | null | undefined;
      const mv = reply(at.month) as string | null | undefined;
      return {
        requestsThisMinute: Number(r ?? 0),
        tokensThisMinute: Number(t ?? 0),
        tokensToday: dv == null ? undefined : Number(dv),
        costThisMonthUsd: mv == null ? undefined : Number(mv),
      };
    });
    return { day, month, counters };
  };
}

/** The pipeline's replies; the first failed command fails the whole read. */
function valuesOf(results: Array<[Error | null, unknown]> | null): Reply[] {
  if (!results) throw new Error('limits: the counter read was discarded');
  return results.map(([err, value]) => {
    if (err) throw err;
    return value as Reply;
  });
}
