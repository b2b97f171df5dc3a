/*
 * Back from a Redis outage: before an instance admits against the shared windows again, what it admitted on its own
 * meanwhile is added to them (RECONCILE, limits-redis-scripts.ts), re-creating the windows an empty restarted Redis
 * lost. And it keeps to its per-instance share until every instance that was live when the outage began has done
 * the same (or `settleMs` passed: one that does not come back within it died or cannot reach Redis): an instance
 * back first would otherwise fill the window up to the limit while the others' outage admissions, not yet added,
 * come on top of it.
 */
import type { MemoryLimiter, UnsyncedWindow } from './limits-memory.js';
import type { PeerTracker } from './limits-redis-peers.js';
import type { LimitCommands } from './limits-redis-scripts.js';
import { counterKeys } from './limits-redis-scripts.js';

/** Windows per RECONCILE call: one script runs at a time on Redis, so a long one holds up every admission. */
const BATCH = 200;

export interface RejoinOptions {
  cmd: LimitCommands;
  prefix: string;
  peers: PeerTracker;
  /** A generation for re-created windows (unique across instances). */
  generation: () => string;
  /** How long to wait for the other instances to be back. @default 5000 */
  settleMs?: number;
  /** Between checks whether they are. @default 250 */
  pollMs?: number;
}

/** Adds what the fallback admitted and not yet told to the shared windows; what could not be sent stays untold. */
export async function reconcile(cmd: LimitCommands, prefix: string, fallback: MemoryLimiter, generation: () => string): Promise<void> {
  const all = fallback.takeUnsynced();
  for (let i = 0; i < all.length; i += BATCH) {
    const batch = all.slice(i, i + BATCH);
    try {
      await cmd.gwReconcile(batch.length, ...batch.map(windowKey(prefix)), generation(), ...batch.flatMap(argvOf));
    } catch (err) {
      for (const w of all.slice(i)) w.undo();
      throw err;
    }
  }
}

/**
 * Reconciles until the instances live when the outage began (`peersAtDown`) have all beat since it began
 * (`downAt`), then once more; throws when Redis fails meanwhile (still down: the probe tries again).
 */
export async function rejoin(opts: RejoinOptions, fallback: MemoryLimiter, downAt: number, peersAtDown: number | undefined): Promise<void> {
  const settleMs = opts.settleMs ?? 5000;
  const started = Date.now();
  for (;;) {
    await reconcile(opts.cmd, opts.prefix, fallback, opts.generation);
    // after its own reconcile: a beat since downAt means that instance has reconciled too (or never lost Redis)
    const back = await opts.peers.beat(downAt);
    if (back >= (peersAtDown ?? 1) || Date.now() - started >= settleMs) break;
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 250));
  }
  await reconcile(opts.cmd, opts.prefix, fallback, opts.generation);
}

const windowKey =
  (prefix: string) =>
  (w: UnsyncedWindow): string =>
    counterKeys(prefix, w.subject.redisBase, '', '')[0];

const argvOf = (w: UnsyncedWindow): number[] => [
  w.addRequests,
  w.addTokens,
  w.ownBefore,
  w.ownBeforeTokens,
  w.base,
  w.baseTokens,
  Math.max(0, Math.round(w.ttlMs)),
];
