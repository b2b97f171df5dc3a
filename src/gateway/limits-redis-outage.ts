/*
 * The Redis limiter's outage side (limits-redis.ts has the why): whether Redis is up, what each subject's shared
 * counters last held, the peers heartbeat that keeps those fresh, the per-instance fallback an outage switches to,
 * and the rejoin that reconciles it when Redis answers again.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { type BudgetReading, type Period, type UsageSeeder, WINDOW_MS } from './limits.js';
import { createMemoryLimiter, type KnownCounters, type MemoryLimiter } from './limits-memory.js';
import { type Admission, createGenerations } from './limits-redis-admit.js';
import { createPeerTracker, type WindowReading } from './limits-redis-peers.js';
import { type RejoinOptions, reconcile, rejoin } from './limits-redis-rejoin.js';
import type { AdmitState, LimitCommands } from './limits-redis-scripts.js';
import { createRedisAvailability, type RedisAvailability } from './redis-availability.js';
import type { ConnectionDeadline } from '../util/loop-aware-deadline.js';

export interface OutageFallbackOptions {
  client: Redis;
  cmd: LimitCommands;
  deadline: ConnectionDeadline;
  prefix: string;
  seeder: UsageSeeder;
  log: Logger;
  onBudgetSettled?: (reading: BudgetReading) => void;
  /** @see RedisLimiterOptions */
  probeMs?: number;
  heartbeatMs?: number;
  rejoinSettleMs?: number;
}

export interface OutageFallback {
  redis: RedisAvailability;
  /** The per-instance limiter admissions go to while Redis is down. */
  readonly fallback: MemoryLimiter;
  /** An ADMIT reply's counters of a subject (createSharedAdmission's onCounters). */
  onCounters(subjectId: string, windowKey: string, state: AdmitState, admission: Admission, now: number, day: Period, month: Period): void;
  /** @see SharedAdmissionOptions.order */
  order(): number;
  forget(subjectId: string): void;
  /** Connected at start-up: up, and the peer count read at once (an outage in the first second knows its share). */
  connected(): Promise<void>;
  close(): Promise<void>;
}

export function createOutageFallback(opts: OutageFallbackOptions): OutageFallback {
  const { cmd, prefix, log } = opts;
  /**
   * Each subject's shared counters as the last reply showed them: where the fallback starts if Redis goes away. The
   * least recently admitted go first when end users are many (those start the fallback from usage_records instead).
   */
  const known = new LRUCache<string, KnownCounters>({ max: 100_000, dispose: (_k, id, reason) => reason === 'evict' && unwatch(id) });
  /**
   * Subjects with an open window in `known` (id → window key): re-read each heartbeat, every one of them for as long
   * as it is open. One left out would keep an older base than the other instances', and the shares they take over
   * of it would no longer sum to the limit.
   */
  const watched = new Map<string, string>();
  /** Per watched subject: the last heartbeat's place in the connection's order, and this instance's admissions after it. */
  const since = new Map<string, Since>();
  const order = sequence();
  const generation = createGenerations();
  const peers = createPeerTracker({
    client: opts.client,
    cmd,
    deadline: opts.deadline,
    prefix,
    instanceId: randomBytes(6).toString('hex'),
    intervalMs: opts.heartbeatMs,
    watched: () => watched.entries(),
    onWindow: (id, reading, at, seq) => refreshWindow(known, since, id, reading, at, seq) || unwatch(id),
    order,
    active: () => redis.up,
    onError: (err) => redis.markDown(err),
  });
  // before the first heartbeat answered the peers are unknown (0): per-minute limits refuse
  const fallbackOf = (outageStart?: number): MemoryLimiter =>
    createMemoryLimiter({ seeder: opts.seeder, log, initial: (id) => known.get(id), onBudgetSettled: opts.onBudgetSettled, peers: peers.peers ?? 0, outageStart });
  let fallback = fallbackOf();
  let downAt = Date.now();
  let peersAtDown: number | undefined;
  const rejoinOpts = { cmd, prefix, peers, generation, settleMs: opts.rejoinSettleMs };
  const redis = createRedisAvailability({
    ping: () => opts.deadline(opts.client.ping()),
    probeMs: opts.probeMs ?? 500,
    onDown: (err) => {
      downAt = Date.now();
      peersAtDown = peers.peers;
      // an outage starts from the shared counts this instance last saw, not from the leftovers of an earlier one; but
      // what the earlier one admitted and could not tell (Redis failed again while onUp told it) is carried over
      fallback = carry(fallback, fallbackOf(downAt));
      log.warn({ err, peers: peersAtDown }, 'limits: Redis unreachable; enforcing limits per instance (in memory, a share each) until it returns');
    },
    beforeUp: () => rejoin(rejoinOpts, fallback, downAt, peersAtDown),
    onUp: () => {
      log.info('limits: Redis reachable again; limits are shared across instances again');
      // what the fallback admitted during the rejoin's last round trip
      tellLast(rejoinOpts, () => fallback, (err) => redis.markDown(err));
    },
  });

  function unwatch(id: string): void {
    watched.delete(id);
    since.delete(id);
  }

  return {
    redis,
    get fallback() {
      return fallback;
    },
    onCounters(subjectId, windowKey, state, admission, now, day, month) {
      const k = toKnownCounters(state, now, day, month);
      const beat = known.get(subjectId)?.window;
      const s = since.get(subjectId);
      if (k.window && s && beat?.base !== undefined && Math.abs(beat.start - k.window.start) < 1000) {
        // the window the last heartbeat read: its reading stays the base; an admission Redis ran after the reading
        // is this instance's own on top of it, one it ran before is in the base already
        if (admission.tokens !== undefined && admission.seq > s.seq) s.own.push({ seq: admission.seq, tokens: admission.tokens });
        k.window = windowOf(beat.start, beat.base, beat.baseTokens ?? 0, s.own);
      }
      known.set(subjectId, k);
      if (k.window) watched.set(subjectId, windowKey);
      else unwatch(subjectId);
    },
    order,
    forget(subjectId) {
      fallback.forget(subjectId);
      known.delete(subjectId);
      unwatch(subjectId);
    },
    async connected() {
      redis.markUp();
      await peers.beat().catch((err: unknown) => redis.markDown(err));
    },
    async close() {
      peers.stop();
      // the others' shares in an outage grow at once instead of after this one's heartbeat expires
      if (redis.up) await peers.leave().catch(() => {});
      redis.close();
      await fallback.close();
    },
  };
}

/**
 * A heartbeat's reading of a window becomes its base (false: Redis has no open window for it): the heartbeats of all
 * instances are aligned to the clock, so they read every window at about the same moment and the shares an outage
 * gives each of what was left then sum to at most the limit; what this instance admits after the reading comes on
 * top (onCounters). One connection's server runs commands in the order they were sent, so an admission sent after
 * the beat (a higher seq) is not in the reading, whichever reply this process handles first.
 */
function refreshWindow(known: LRUCache<string, KnownCounters>, since: Map<string, Since>, id: string, r: WindowReading, at: number, seq: number): boolean {
  const k = known.get(id);
  if (r.requests == null) {
    if (k) k.window = undefined;
    return false;
  }
  const w = k?.window;
  const sameWindow = w && Math.abs(w.start - (at - (WINDOW_MS - r.ttlMs))) < 1000;
  const start = sameWindow ? w.start : at - (WINDOW_MS - r.ttlMs);
  // replies to admissions sent after this beat may have been handled before it: they stay this instance's own
  const own = sameWindow ? (since.get(id)?.own.filter((o) => o.seq > seq) ?? []) : [];
  since.set(id, { seq, own });
  const window = windowOf(start, r.requests, r.tokens, own);
  if (k) k.window = window;
  else known.set(id, { window });
  return true;
}

/** What `from` admitted and has not told (nor is telling) goes to `to`, which tells it; returns `to`. */
function carry(from: MemoryLimiter, to: MemoryLimiter): MemoryLimiter {
  // a window that only has a base was told already, and `to` starts from the shared counts anyway
  to.adopt(from.takeUnsynced().filter((w) => w.addRequests !== 0 || w.addTokens !== 0 || w.ownBefore !== 0 || w.ownBeforeTokens !== 0));
  return to;
}

/**
 * onUp's last reconcile. When it fails, Redis is down again and a new fallback has taken over (or does now, with
 * markDown): what could not be told goes to it, or the next return would never tell it.
 */
function tellLast(o: Pick<RejoinOptions, 'cmd' | 'prefix' | 'generation'>, current: () => MemoryLimiter, markDown: (err: unknown) => void): void {
  const telling = current();
  reconcile(o.cmd, o.prefix, telling, o.generation).catch((err: unknown) => {
    markDown(err);
    if (current() !== telling) carry(telling, current());
  });
}

/** 1, 2, 3, …: commands numbered as they are sent, which is the order one connection's server runs them in. */
function sequence(): () => number {
  let n = 0;
  return () => ++n;
}

interface Since {
  seq: number;
  own: Array<{ seq: number; tokens: number }>;
}

/** A window as a heartbeat read it (the base) with this instance's own admissions since on top. */
function windowOf(start: number, base: number, baseTokens: number, own: Since['own']): NonNullable<KnownCounters['window']> {
  return { start, base, baseTokens, requests: base + own.length, tokens: own.reduce((t, o) => t + o.tokens, baseTokens) };
}

/** An ADMIT reply's counters of one subject ('' where it has none) as the fallback takes them. */
function toKnownCounters([wr, wt, wttl, dv, mv]: AdmitState, now: number, day: Period, month: Period): KnownCounters {
  const k: KnownCounters = {};
  if (wr !== '') k.window = { start: now - (WINDOW_MS - Number(wttl)), requests: Number(wr), tokens: Number(wt) };
  if (dv !== '') k.day = { period: day.id, used: Number(dv) };
  if (mv !== '') k.month = { period: month.id, used: Number(mv) };
  return k;
}
