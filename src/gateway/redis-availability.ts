/*
 * Whether the shared limits' Redis is up: it goes down when a command fails, and comes back when a probe's PING
 * is answered (and the limiter's beforeUp is done). The limiter decides what down means (per-instance counters); this only keeps the state.
 */

export interface RedisAvailabilityOptions {
  /** One PING under the connection's deadline. */
  ping: () => Promise<unknown>;
  /** How often a PING is sent while down. */
  probeMs: number;
  /** Called once per outage, when an up Redis fails a command. */
  onDown: (err: unknown) => void;
  /**
   * Run when a probe got its answer, before Redis counts as up (the limiter reconciles its outage admissions);
   * when it throws, Redis stays down and the probe goes on.
   */
  beforeUp?: () => Promise<void>;
  /** Called when a probe gets its answer (and beforeUp succeeded). */
  onUp: () => void;
}

export interface RedisAvailability {
  readonly up: boolean;
  /** Connected: up without asking. */
  markUp(): void;
  /** A command failed: down until a probe is answered (nothing happens when already down). */
  markDown(err: unknown): void;
  /** Never reached (at start-up): probe until it answers. */
  probeUntilUp(): void;
  close(): void;
}

export function createRedisAvailability(opts: RedisAvailabilityOptions): RedisAvailability {
  let up = false;
  let closed = false;
  let probe: NodeJS.Timeout | undefined;

  function probeUntilUp(): void {
    if (probe || closed) return;
    let pinging = false;
    probe = setInterval(() => {
      if (pinging) return;
      pinging = true;
      opts
        .ping()
        .then(() => opts.beforeUp?.())
        .then(() => {
          if (up || closed) return;
          up = true;
          clearInterval(probe);
          probe = undefined;
          opts.onUp();
        })
        .catch(() => {})
        .finally(() => (pinging = false));
    }, opts.probeMs);
    probe.unref();
  }

  return {
    get up() {
      return up;
    },
    markUp() {
      up = true;
    },
    markDown(err) {
      if (!up || closed) return;
      up = false;
      opts.onDown(err);
      probeUntilUp();
    },
    probeUntilUp,
    close() {
      closed = true;
      clearInterval(probe);
    },
  };
}
