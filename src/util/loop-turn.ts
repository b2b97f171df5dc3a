/*
 * Keeps each turn of the event loop short when a burst makes thousands of requests ready at once.
 *
 * Node runs everything that became ready in one poll phase, and every promise continuation that follows
 * from it, before it looks at timers or sockets again: 4 000 requests arriving together (or 4 000 Redis
 * replies read in one chunk) were all handled in one turn, which held the loop for seconds. Timers then
 * fired late, health checks and streams stalled. Code on the request path asks `loopTurn()` at a few points:
 * while the current turn has run less than its budget it goes on at once; past it, it waits, in arrival
 * order, for a later turn, and those waiting are let through a budget's worth per turn, with timers and I/O
 * in between. Throughput is unchanged (the same work, in slices); no turn is much longer than the budget.
 */

/** Time one turn of the loop may spend on requests before the rest wait for the next turn, ms. */
const BUDGET_MS = 20;

let turnStart = 0;
/** a setImmediate is pending that ends the current turn */
let turnOpen = false;
const waiting: Array<() => void> = [];
let draining = false;

function endTurn(): void {
  turnOpen = false;
}

function drain(): void {
  const start = performance.now();
  const step = (): void => {
    const next = waiting.shift();
    if (!next) {
      draining = false;
      return;
    }
    next();
    // runs after the continuation just released has run up to its next await, so that time counts too
    if (performance.now() - start < BUDGET_MS) queueMicrotask(step);
    else setImmediate(drain);
  };
  step();
}

/** undefined: go on now; a promise: wait for it (a later turn of the loop). */
export function loopTurn(): Promise<void> | undefined {
  const now = performance.now();
  if (!turnOpen) {
    turnOpen = true;
    turnStart = now;
    setImmediate(endTurn);
  }
  if (waiting.length === 0 && now - turnStart < BUDGET_MS) return undefined;
  return new Promise<void>((resolve) => {
    waiting.push(resolve);
    if (!draining) {
      draining = true;
      setImmediate(drain);
    }
  });
}
