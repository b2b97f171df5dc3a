/* Target selection by strategy, with per-target health (cooldown) and load/latency bookkeeping. */
import type { ResolvedModel, ResolvedTarget, RoutingStrategy } from '../services/catalogue.js';

export interface RouterOptions {
  /** Consecutive failures that put a target into cooldown. @default 3 */
  failureThreshold?: number;
  /** How long a failing target is out of rotation before it is probed again. @default 30000 */
  cooldownMs?: number;
  /** Share of LOWEST_LATENCY picks that explore a random target, so a recovered one is seen again. @default 0.1 */
  exploreRate?: number;
  random?: () => number;
  now?: () => number;
}

interface TargetState {
  inFlight: number;
  /** EWMA of successful attempt latency, ms; undefined until measured */
  latency?: number;
  failures: number;
  cooldownUntil: number;
}

const EWMA_ALPHA = 0.3;

export type Router = ReturnType<typeof createRouter>;

export function createRouter(opts: RouterOptions = {}) {
  const threshold = opts.failureThreshold ?? 3;
  const cooldownMs = opts.cooldownMs ?? 30_000;
  const explore = opts.exploreRate ?? 0.1;
  const random = opts.random ?? Math.random;
  const now = opts.now ?? Date.now;
  const states = new Map<string, TargetState>();
  const rr = new Map<string, number>();

  const state = (id: string): TargetState => {
    let s = states.get(id);
    if (!s) states.set(id, (s = { inFlight: 0, failures: 0, cooldownUntil: 0 }));
    return s;
  };

  const ordering: OrderContext = {
    random,
    explore,
    state,
    turn: (modelId) => {
      const n = rr.get(modelId) ?? 0;
      rr.set(modelId, n + 1);
      return n;
    },
  };

  return {
    /**
     * The targets to try for one invocation, best first. Cooling targets are left out,
     * unless every target is cooling: then all are tried, soonest-recovering first.
     */
    plan(model: ResolvedModel): ResolvedTarget[] {
      // one target: every strategy, cooling or not, tries just it (most models have one)
      if (model.targets.length === 1) return model.targets[0].provider.enabled ? [model.targets[0]] : [];
      const enabled = model.targets.filter((t) => t.provider.enabled);
      const t = now();
      const healthy = enabled.filter((x) => state(x.id).cooldownUntil <= t);
      if (!healthy.length) {
        return [...enabled].sort((a, b) => state(a.id).cooldownUntil - state(b.id).cooldownUntil);
      }
      return orderTargets(model.row.strategy as RoutingStrategy, model.row.id, healthy, ordering);
    },
    isHealthy: (targetId: string) => state(targetId).cooldownUntil <= now(),
    inFlight: (targetId: string) => state(targetId).inFlight,
    latency: (targetId: string) => state(targetId).latency,
    started(targetId: string): void {
      state(targetId).inFlight++;
    },
    finished(targetId: string): void {
      const s = state(targetId);
      s.inFlight = Math.max(0, s.inFlight - 1);
    },
    succeeded(targetId: string, latencyMs: number): void {
      const s = state(targetId);
      s.failures = 0;
      s.cooldownUntil = 0;
      s.latency = s.latency === undefined ? latencyMs : s.latency + EWMA_ALPHA * (latencyMs - s.latency);
    },
    /** A retryable failure; `retryAfterMs` from the provider puts the target aside for at least that long. */
    failed(targetId: string, retryAfterMs?: number): void {
      const s = state(targetId);
      s.failures++;
      const t = now();
      // a probe after cooldown that fails again goes straight back into cooldown
      if (s.failures >= threshold) s.cooldownUntil = Math.max(s.cooldownUntil, t + cooldownMs);
      if (retryAfterMs !== undefined && retryAfterMs > 0) s.cooldownUntil = Math.max(s.cooldownUntil, t + retryAfterMs);
    },
    reset(): void {
      states.clear();
      rr.clear();
    },
  };
}

/** What a strategy's order depends on besides the targets. */
interface OrderContext {
  random: () => number;
  /** @see RouterOptions.exploreRate */
  explore: number;
  state: (targetId: string) => TargetState;
  /** The model's round-robin turn: 0, 1, 2, … on successive calls. */
  turn: (modelId: string) => number;
}

/** A random order in which a target comes early in proportion to its weight (targets of weight 0 in any order). */
function weightedOrder(targets: ResolvedTarget[], random: () => number): ResolvedTarget[] {
  const pool = [...targets];
  const out: ResolvedTarget[] = [];
  while (pool.length) {
    const total = pool.reduce((s, t) => s + Math.max(0, t.weight), 0);
    let idx: number;
    if (total > 0) {
      let r = random() * total;
      idx = pool.findIndex((t) => (r -= Math.max(0, t.weight)) < 0);
      if (idx < 0) idx = pool.length - 1;
    } else {
      idx = Math.floor(random() * pool.length);
    }
    out.push(pool.splice(idx, 1)[0]);
  }
  return out;
}

/** The healthy targets in the order the model's strategy tries them. */
function orderTargets(strategy: RoutingStrategy, modelId: string, targets: ResolvedTarget[], ctx: OrderContext): ResolvedTarget[] {
  const { random, state } = ctx;
  switch (strategy) {
    case 'WEIGHTED':
      return weightedOrder(targets.filter((t) => t.weight > 0), random).concat(targets.filter((t) => t.weight <= 0));
    case 'ROUND_ROBIN': {
      const k = ctx.turn(modelId) % targets.length;
      return [...targets.slice(k), ...targets.slice(0, k)];
    }
    case 'LEAST_BUSY': {
      const shuffled = weightedOrder(targets.map((t) => ({ ...t, weight: 1 })), random);
      const byId = new Map(targets.map((t) => [t.id, t]));
      return shuffled.sort((a, b) => state(a.id).inFlight - state(b.id).inFlight).map((t) => byId.get(t.id)!);
    }
    case 'LOWEST_LATENCY': {
      if (random() < ctx.explore) return weightedOrder(targets.map((t) => ({ ...t, weight: 1 })), random);
      // unmeasured targets first: they need a first sample
      const key = (t: ResolvedTarget) => state(t.id).latency ?? -1;
      return [...targets].sort((a, b) => key(a) - key(b));
    }
    case 'PRIORITY':
    default:
      // lower priority number first; position (declaration order) breaks ties
      return [...targets].sort((a, b) => a.priority - b.priority);
  }
}
