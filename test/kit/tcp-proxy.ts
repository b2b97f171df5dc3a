/*
 * A TCP proxy on 127.0.0.1 that a test can take down (connections lost, new ones refused), stall (a database that
 * hangs instead of refusing: connections accepted and never answered) and bring back on the same port.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  /** Destroys every proxied connection and stops listening: clients get ECONNREFUSED, as from a stopped server. */
  down(): Promise<void>;
  /**
   * From now on nothing is forwarded either way, on open connections or new ones (which are accepted): queries and
   * connection attempts hang until the client's own timeout, as behind a blackholed address.
   */
  stall(): void;
  /** Listens again on the same port after down(); after stall(), drops the stalled connections and forwards again. */
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  let stalled = false;

  function track(s: Socket): void {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  }

  function accept(client: Socket): void {
    track(client);
    // a stalled client's bytes are read and dropped, so it never sees back-pressure either
    if (stalled) return void client.resume();
    const upstream = connect(target.port, target.host);
    track(upstream);
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  }

  async function listen(): Promise<void> {
    const s = createServer(accept);
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        s.off('error', reject);
        resolve();
      });
    });
    port = (s.address() as { port: number }).port;
    server = s;
  }

  function dropAll(): void {
    for (const sock of sockets) sock.destroy();
    sockets.clear();
  }

  async function stopListening(): Promise<void> {
    const s = server;
    server = undefined;
    stalled = false;
    dropAll();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }

  await listen();
  return {
    get port() {
      return port;
    },
    down: stopListening,
    stall() {
      stalled = true;
      for (const sock of sockets) {
        sock.unpipe();
        // read and dropped: nothing reaches the other side, and no side sees back-pressure
        sock.removeAllListeners('data');
        sock.on('data', () => {});
      }
    },
    async up() {
      if (stalled) {
        stalled = false;
        dropAll();
      }
      if (!server) await listen();
    },
    close: stopListening,
  };
}
