/*
 * purgeCache across instances: the Redis exact store is shared, but the in-process stores (the memory LRU, the
 * usearch index) are each instance's own, so a purge on one is announced on a Redis channel and every other
 * instance purges its in-process stores with the same filter. Without Redis there is one instance's stores to
 * reach (a gateway sharing a database but not a Redis shares the pgvector table, not the usearch index).
 * Best effort like key invalidation (src/services/key-invalidation.ts): a lost announcement leaves entries that
 * expire with their TTL.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { createRedisChannel } from '../util/redis-channel.js';
import type { CacheScopeKey } from './types.js';

export interface PurgeFilter {
  scope?: CacheScopeKey;
  model?: string;
}

export interface PurgeBroadcast {
  /** Tells the other instances to purge their in-process stores. Never throws, never waits. */
  publish(f: PurgeFilter): void;
  /** Starts delivering the other instances' purges (this instance's own are not echoed back). */
  start(onPurge: (f: PurgeFilter) => void): Promise<void>;
  close(): Promise<void>;
}

export function createPurgeBroadcast(opts: { redisUrl?: string; redisPrefix?: string; log: Logger }): PurgeBroadcast | undefined {
  if (!opts.redisUrl) return undefined;
  const channel = `${opts.redisPrefix ?? 'gw:'}cache:purge`;
  const { log } = opts;
  const origin = randomUUID();
  const ch = createRedisChannel(opts.redisUrl, channel, log, 'cache purge broadcast', 'other instances keep their in-process entries until they expire');
  return {
    publish(f) {
      ch.publish(JSON.stringify({ origin, scope: f.scope ?? null, model: f.model ?? null }));
    },
    start: (onPurge) =>
      ch.start((payload) => {
        const f = parseMessage(payload);
        if (f && f.origin !== origin) onPurge({ scope: f.scope ?? undefined, model: f.model ?? undefined });
      }),
    close: () => ch.close(),
  };
}

// the channel is under the gateway's own prefix, but a message is still checked field by field before it is obeyed
function parseMessage(payload: string): { origin: string; scope: string | null; model: string | null } | undefined {
  try {
    const m = JSON.parse(payload) as Record<string, unknown>;
    const optional = (v: unknown) => v === null || typeof v === 'string';
    if (typeof m.origin === 'string' && optional(m.scope) && optional(m.model)) return m as { origin: string; scope: string | null; model: string | null };
  } catch {
    // not ours: ignored
  }
  return undefined;
}
