/*
 * Which instances share the limits, and what the shared windows hold, kept fresh while Redis is up: what a Redis
 * outage's per-instance fallback needs to stay within the limit in total (each instance admits its share of what
 * was left, limits-memory.ts `peers`).
 *
 * Heartbeat: one pipeline on every multiple of `intervalMs` of the clock: ZADD <prefix>instances <now> <instanceId>, members older than `liveMs`
 * removed, ZCARD = the live instances. It also re-reads the windows this instance holds open counters of, so the
 * counts an outage starts from lag the truth by at most one heartbeat of the other instances' admissions rather
 * than by however long ago this instance last admitted the subject (limits-redis-outage.ts refreshWindow).
 */
import type { Redis } from 'ioredis';
import type { ConnectionDeadline } from '../util/loop-aware-deadline.js';

export interface WindowReading {
  /** null: Redis has no open window for it */
  requests: number | null;
  tokens: number;
  /** ms until it ends */
  ttlMs: number;
}

export interface PeerTrackerOptions {
  client: Redis;
  deadline: ConnectionDeadline;
  /** @see RedisLimiterOptions.redisPrefix */
  prefix: string;
  instanceId: string;
  /** @default 1000 */
  intervalMs?: number;
  /** An instance without a heartbeat this long is gone. @default 5000 */
  liveMs?: number;
  /** The windows to re-read with each beat: subject id → window key. */
  watched: () => Iterable<[string, string]>;
  /** A re-read window (called for every watched one each beat); seq: the beat's place in the connection's order. */
  onWindow: (subjectId: string, reading: WindowReading, at: number, seq: number) => void;
  /** @see SharedAdmissionOptions.order */
  order: () => number;
  /** Whether timed beats should run (not while Redis is down: the rejoin beats itself). */
  active: () => boolean;
  /** A timed beat failed: Redis is likely down. */
  onError: (err: unknown) => void;
}

export interface PeerTracker {
  /** Live instances (this one included) at the last beat; undefined before the first one answered. */
  readonly peers: number | undefined;
  /** Beats now; resolves to how many instances beat at or after `since` (epoch ms), this one included. */
  beat(since?: number): Promise<number>;
  /** Removes this instance from the set (shutting down: the others' shares grow at once). */
  leave(): Promise<void>;
  stop(): void;
}

export function createPeerTracker(opts: PeerTrackerOptions): PeerTracker {
  const set = `${opts.prefix}instances`;
  const liveMs = opts.liveMs ?? 5000;
  let peers: number | undefined;
  let beating = false;

  async function beat(since = 0): Promise<number> {
    const now = Date.now();
    const p = opts.client.pipeline();
    p.zadd(set, now, opts.instanceId);
    p.zremrangebyscore(set, '-inf', now - liveMs);
    p.pexpire(set, liveMs * 2);
    p.zcard(set);
    p.zcount(set, since, '+inf');
    const watched = [...opts.watched()];
    for (const [, key] of watched) {
      p.hmget(key, 'r', 't');
      p.pttl(key);
    }
    const seq = opts.order();
    const replies = await opts.deadline(p.exec());
    if (!replies) throw new Error('limits: the heartbeat was discarded');
    for (const [err] of replies) if (err) throw err;
    const value = (i: number) => replies[i]![1];
    peers = Math.max(1, Number(value(3)));
    const at = Date.now();
    watched.forEach(([id], j) => {
      const [r, t] = value(5 + j * 2) as Array<string | null>;
      const ttl = Number(value(6 + j * 2));
      opts.onWindow(id, { requests: r == null || ttl <= 0 ? null : Number(r), tokens: Number(t ?? 0), ttlMs: ttl }, at, seq);
    });
    return Number(value(4));
  }

  const intervalMs = opts.intervalMs ?? 1000;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  // on the clock's multiples of the interval: every instance reads the windows at about the same moment
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(tick, intervalMs - (Date.now() % intervalMs));
    timer.unref();
  };
  const tick = () => {
    schedule();
    if (beating || !opts.active()) return;
    beating = true;
    beat()
      .catch((err: unknown) => opts.onError(err))
      .finally(() => (beating = false));
  };
  schedule();

  return {
    get peers() {
      return peers;
    },
    beat,
    async leave() {
      await opts.deadline(opts.client.zrem(set, opts.instanceId));
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
