/*
 * /readyz: whether a load balancer should send this instance traffic. Ready means started (the listener opens only
 * after migrations) and not draining. The database's state is reported, not judged: an instance serves through a
 * database outage (keys cached, usage buffered or spooled), and in a cluster every instance sees the same outage, so
 * failing readiness on it would take them all out at once and the balancer would refuse everyone.
 */

/** A probe answers within this long whatever the database does (a stalled connection must not stall the probe). */
const PING_TIMEOUT_MS = 1000;

export interface Readiness {
  /** From now on /readyz answers 503 `{ status: 'draining' }`, so balancers stop sending new requests here. */
  drain(): void;
  /** useReadinessCheck's check: the answer to a probe. */
  check(args: { fetchAPI: { Response: typeof Response } }): Promise<Response>;
}

export function createReadiness(ping: () => Promise<boolean>, pingTimeoutMs = PING_TIMEOUT_MS): Readiness {
  let draining = false;

  const pingWithin = (ms: number): Promise<boolean> => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
      timer.unref();
    });
    return Promise.race([ping().catch(() => false), late]).finally(() => clearTimeout(timer));
  };

  const answer = (R: typeof Response, status: number, body: Record<string, string>): Response =>
    new R(JSON.stringify(body), { status, headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' } });

  return {
    drain() {
      draining = true;
    },
    async check({ fetchAPI }) {
      if (draining) return answer(fetchAPI.Response, 503, { status: 'draining' });
      const up = await pingWithin(pingTimeoutMs);
      // checked again: a drain may have begun while the ping ran
      if (draining) return answer(fetchAPI.Response, 503, { status: 'draining' });
      return answer(fetchAPI.Response, 200, { status: 'ok', database: up ? 'up' : 'down' });
    },
  };
}
