/* Types of scripts/cluster-lib.mjs, for the TypeScript tests that drive a cluster. */

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ClusterInstance {
  /** 0-based; HAProxy's server name is `gw<index>` (the x-gateway-instance header). */
  readonly index: number;
  readonly name: string;
  readonly port: number;
  readonly url: string;
  readonly spoolDir: string;
  /** The current process's pid; undefined while it is not running. */
  readonly pid: number | undefined;
  readonly running: boolean;
  /** Resolves when the current process has exited. */
  readonly exited: Promise<ProcessExit>;
  /** Sends a signal (default SIGKILL); resolves when the process has exited (never for SIGSTOP). */
  kill(signal?: NodeJS.Signals): Promise<ProcessExit>;
  /** Starts it again on the same port and spool folder; resolves when its own /readyz answers 200. */
  start(): Promise<void>;
  /** SIGTERM, then SIGKILL after timeoutMs (default 30 s). */
  stop(timeoutMs?: number): Promise<ProcessExit | undefined>;
}

export interface ClusterHaproxy {
  readonly pid: number | undefined;
  readonly url: string;
  readonly statsUrl: string;
  readonly configFile: string;
  readonly exited: Promise<ProcessExit>;
  /** Server name → HAProxy's status: 'UP', 'DOWN', or a transition such as 'UP 1/2'. */
  states(): Promise<Record<string, string>>;
  waitFor(server: string, status: 'UP' | 'DOWN', timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface Cluster {
  /** The load balancer's address (http://127.0.0.1:<port>). */
  url: string;
  instances: ClusterInstance[];
  haproxy: ClusterHaproxy;
  /** GATEWAY_SECRET and GATEWAY_ADMIN_KEY every instance runs with. */
  secret: string;
  adminKey: string;
  generated: { secret: boolean; adminKey: boolean };
  spoolRoot: string;
  /** Drains every instance (SIGTERM, waits), then stops HAProxy (and removes the spool folder it made when none was given). */
  stop(): Promise<void>;
}

export interface ClusterOptions {
  instances?: number;
  /** The load balancer's port on 127.0.0.1 (default 8080; 0 picks a free one). */
  port?: number;
  databaseUrl: string;
  redisUrl: string;
  env?: Record<string, string>;
  spoolRoot?: string;
  /** node's arguments, e.g. ['--import', 'tsx', 'src/main.ts']; default the built gateway. */
  command?: string[];
  logDir?: string;
  onLine?: (line: string, from: { name: string; index?: number; stream: 'stdout' | 'stderr' }) => void;
  detached?: boolean;
}

export function startCluster(opts: ClusterOptions): Promise<Cluster>;
export function freePort(): Promise<number>;
