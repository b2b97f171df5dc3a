/*
 * Which instances share the limits, and what the shared windows hold, kept fresh while Redis is up: what a Redis
 * outage's per-instance fallback needs to stay within the limit in total (each instance admits its share of what
 * was left, limits-memory.ts `peers`).
 *
 * Heartbeat: one script (BEAT, limits-redis-scripts.ts) on every multiple of `intervalMs` of the clock: ZADD
 * <prefix>instances <now> <instanceId>, members older than `liveMs` removed, ZCARD = the live instances. In the
 * same snapshot it reads the windows this instance holds open counters of: every instance reads them at about the
 * same moment, so the shares an outage gives each of what was left then add up to at most the limit
 * (limits-redis-outage.ts refreshWindow). Many windows are read in several scripts sent together (one long script
 * would hold up every admission), still at about the same moment.
 *
 * A joining instance is not counted by the others until their next beat: an outage before it would have them take
 * shares of 1/n while it takes 1/(n+1), more than the limit in total. So it does not know its share (peers stays
 * undefined, and an outage refuses per-minute limits as for an instance that never reached Redis) until a beat sent
 * two intervals after its first, by when the others' have surely counted it; unless it was alone when it joined.
 */
import type { Redis } from 'ioredis';
import type { ConnectionDeadline } from '../util/loop-aware-deadline.js';
import type { LimitCommands } from './limits-redis-scripts.js';

export interface WindowReading {
  /** null: Redis has no open window for it */
  requests: number | null;
  tokens: number;
  /** ms until it ends */
  ttlMs: number;
}

export interface PeerTrackerOptions {
  client: Redis;
  cmd: LimitCommands;
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
  /** Live instances (this one included) at the last beat; undefined until the others surely count this one. */
  readonly peers: number | undefined;
  /** Beats now; resolves to how many instances beat at or after `since` (epoch ms), this one included. */
  beat(since?: number): Promise<number>;
  /** Removes this instance from the set (shutting down: the others' shares grow at once). */
  leave(): Promise<void>;
  stop(): void;
}

/** Windows read per BEAT script. */
const READ_BATCH = 1000;

export function createPeerTracker(opts: PeerTrackerOptions): PeerTracker {
  const set = `${opts.prefix}instances`;
  const liveMs = opts.liveMs ?? 5000;
  const intervalMs = opts.intervalMs ?? 1000;
  let peers: number | undefined;
  /** When the first beat was sent, and whether this instance was alone then (undefined: none answered yet). */
  let joined: { at: number; alone: boolean } | undefined;
  let beating = false;

  async function beat(since = 0): Promise<number> {
    const watched = [...opts.watched()];
    const sentAt = Date.now();
    const chunks: Array<Array<[string, string]>> = [];
    for (let i = 0; i === 0 || i < watched.length; i += READ_BATCH) chunks.push(watched.slice(i, i + READ_BATCH));
    // all sent in this turn of the loop: the server runs them back to back, in this order
    const replies = await Promise.all(
      chunks.map((chunk) => {
        const seq = opts.order();
        return opts.cmd.gwBeat(1 + chunk.length, set, ...chunk.map(([, key]) => key), sentAt, opts.instanceId, liveMs, since).then((r) => ({ r, seq }));
      }),
    );
    const at = Date.now();
    const live = Math.max(1, Number(replies[0]!.r[0]));
    joined ??= { at: sentAt, alone: live === 1 };
    if (joined.alone || sentAt - joined.at >= 2 * intervalMs) peers = live;
    replies.forEach(({ r, seq }, c) =>
      chunks[c]!.forEach(([id], j) => {
        const [requests, tokens, ttl] = r.slice(2 + j * 3, 5 + j * 3).map(String);
        const ms = Number(ttl);
        opts.onWindow(id, { requests: requests === '' || ms <= 0 ? null : Number(requests), tokens: Number(tokens || 0), ttlMs: ms }, at, seq);
      }),
    );
    return Number(replies[0]!.r[1]);
  }

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
