/*
 * /readyz: whether a load balancer should send this instance traffic. Ready means started (the listener opens only
 * after migrations) and not draining. The database's state is reported, not judged: an instance serves through a
 * database outage (keys cached, usage buffered or spooled), and in a cluster every instance sees the same outage, so
 * failing readiness on it would take them all out at once and the balancer would refuse everyone.
 *
 * The probe never waits for the database: a background ping keeps the last known state and /readyz answers from it
 * at once (only the first probe, before any ping has answered, waits, at most the ping's timeout). A database that
 * hangs instead of refusing (a blackholed address in a failover, a saturated pool) would otherwise make every
 * instance's probe outlast the balancer's check timeout, and it would take them all out at once.
 */
import { withTimeout } from '../util/with-timeout.js';

/** How often the database is pinged in the background while it answers (a probe's answer is at most this old)... */
const PING_EVERY_MS = 500;
/** ...and while it does not: its return is reported within a moment (the pool's reconnect wait is shorter still). */
const PING_DOWN_EVERY_MS = 250;
/**
 * The pinging starts with the first probe and rests when no probe came for this long (balancers probe every
 * second or so): an instance nobody probes does not ping.
 */
const IDLE_AFTER_MS = 10_000;
/** A ping not answered by then counts as the database being down (the ping itself is left to finish). */
const PING_TIMEOUT_MS = 500;

export interface Readiness {
  /** From now on /readyz answers 503 `{ status: 'draining' }`, so balancers stop sending new requests here; pinging stops. */
  drain(): void;
  /** useReadinessCheck's check: the answer to a probe. */
  check(args: { fetchAPI: { Response: typeof Response } }): Promise<Response>;
}

export function createReadiness(ping: () => Promise<boolean>, opts: { everyMs?: number; downEveryMs?: number; timeoutMs?: number } = {}): Readiness {
  const everyMs = opts.everyMs ?? PING_EVERY_MS;
  const downEveryMs = opts.downEveryMs ?? PING_DOWN_EVERY_MS;
  const timeoutMs = opts.timeoutMs ?? PING_TIMEOUT_MS;
  let draining = false;
  let up: boolean | undefined;
  let timer: NodeJS.Timeout | undefined;
  let lastProbeAt = 0;
  /** The pinger's current round; undefined while it rests (no probe for a while: nobody asks, nothing is pinged). */
  let pinging: Promise<void> | undefined;

  // one ping at a time, even past its timeout: a hung ping holds a pool connection, and a new one each round would
  // take the whole pool from the requests
  const pingOnce = async (): Promise<void> => {
    const p = ping().catch(() => false);
    up = await withTimeout(p, timeoutMs).catch(() => false);
    await p;
    if (draining || Date.now() - lastProbeAt > IDLE_AFTER_MS) {
      pinging = undefined;
      return;
    }
    (timer = setTimeout(() => (pinging = pingOnce()), up ? everyMs : downEveryMs)).unref();
  };

  const answer = (R: typeof Response, status: number, body: Record<string, string>): Response =>
    new R(JSON.stringify(body), { status, headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' } });

  return {
    drain() {
      draining = true;
      clearTimeout(timer);
    },
    async check({ fetchAPI }) {
      if (draining) return answer(fetchAPI.Response, 503, { status: 'draining' });
      lastProbeAt = Date.now();
      if (!pinging) {
        // the state from before the rest is too old to report
        up = undefined;
        pinging = pingOnce();
      }
      // only when the state is unknown (the first probe, or the first after a rest): at most the ping's timeout
      if (up === undefined) await withTimeout(pinging, timeoutMs).catch(() => {});
      // checked again: a drain may have begun meanwhile
      if (draining) return answer(fetchAPI.Response, 503, { status: 'draining' });
      return answer(fetchAPI.Response, 200, { status: 'ok', database: up ? 'up' : 'down' });
    },
  };
}
