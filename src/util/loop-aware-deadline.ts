/*
 * Deadlines on the replies of one server connection (Redis) that neither a blocked event loop nor a backlog
 * of our own commands can trip.
 *
 * After the loop was blocked, expired timers run (timers phase) before the poll phase reads the replies that
 * arrived meanwhile, so a plain per-command timer blames the server for our own stall: a burst that held the
 * loop for seconds had a Redis answering in milliseconds declared down. And a burst queues thousands of
 * commands on one connection, answered in order: the last ones wait for all the others however healthy the
 * server is. So a command's deadline only expires when it fires on time (the loop was free to read a reply)
 * and no command on the connection got a reply for that long; it rejects after the next poll phases (through
 * setImmediate), once whatever was already waiting has been read. Otherwise it starts again.
 */

class DeadlineExceeded extends Error {
  constructor(readonly ms: number) {
    super(`no reply within ${ms} ms`);
  }
}

/** Wraps each command of one connection: it settles like the command, or rejects with DeadlineExceeded (see above). */
export type ConnectionDeadline = <T>(command: Promise<T>) => Promise<T>;

export interface ConnectionDeadlineOptions {
  /**
   * How often one command's deadline starts again because it fired late, so a dead server is still noticed
   * when the loop never runs on time (a server that keeps answering other commands extends it without bound).
   * @default 10
   */
  lateRestarts?: number;
}

export function createConnectionDeadline(ms: number, opts: ConnectionDeadlineOptions = {}): ConnectionDeadline {
  const maxLate = opts.lateRestarts ?? 10;
  let lastReply = performance.now();
  return <T>(command: Promise<T>) =>
    new Promise<T>((resolve, reject) => {
      let settled = false;
      let late = 0;
      let timer: NodeJS.Timeout | undefined;
      const expire = () => {
        if (settled) return;
        if (performance.now() - lastReply < ms) return arm();
        settled = true;
        reject(new DeadlineExceeded(ms));
      };
      const arm = () => {
        const due = performance.now() + ms;
        timer = setTimeout(() => {
          if (settled) return;
          const now = performance.now();
          // late: the loop was blocked, replies may be waiting unread; recent reply: the server works through a queue
          if (now - lastReply < ms || (now - due > ms / 2 && late++ < maxLate)) arm();
          // two turns: a reply relayed through a proxy in this process needs one poll phase more
          else setImmediate(() => setImmediate(expire));
        }, ms);
      };
      arm();
      command.then(
        (v) => {
          lastReply = performance.now();
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve(v);
        },
        (err: unknown) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          reject(err);
        },
      );
    });
}
