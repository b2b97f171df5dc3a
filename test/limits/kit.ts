/* Helpers for the limits suites: chat calls that report refusals, usage counts, a fresh Postgres database, a Redis we control. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import postgres from 'postgres';
import { createEchoAdapter } from '../../src/providers/echo/index.js';
import type { ProviderAdapter } from '../../src/providers/types.js';
import type { GqlResponse, TestGateway } from '../kit/start-gateway.js';

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL || undefined;
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL || undefined;
export const HAS_REDIS_SERVER = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function ok<T>(res: GqlResponse<T>): T {
  if (res.errors?.length || !res.data) throw new Error(`GraphQL errors: ${JSON.stringify(res.errors)}`);
  return res.data;
}

export interface ChatOutcome {
  ok: boolean;
  code?: string;
  retryAfterMs?: number;
  totalTokens?: number;
  costUsd?: number;
  ms: number;
}

const CHAT = 'mutation($input: ChatInput!) { chat(input: $input) { usage { totalTokens costUsd } } }';

export async function chat(gw: TestGateway, secret: string, opts: { model?: string; text?: string; maxTokens?: number } = {}): Promise<ChatOutcome> {
  const started = Date.now();
  const res = await gw.gql<{ chat: { usage: { totalTokens: number; costUsd: number } } }>(
    CHAT,
    { input: { model: opts.model ?? 'echo', messages: [{ role: 'USER', content: opts.text ?? 'hello world' }], maxTokens: opts.maxTokens } },
    secret,
  );
  const ms = Date.now() - started;
  if (res.data?.chat) return { ok: true, totalTokens: res.data.chat.usage.totalTokens, costUsd: res.data.chat.usage.costUsd, ms };
  const ext = res.errors?.[0]?.extensions ?? {};
  return { ok: false, code: ext.code, retryAfterMs: ext.retryAfterMs, ms };
}

export function tally(outcomes: ChatOutcome[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const o of outcomes) {
    const k = o.ok ? 'OK' : String(o.code);
    t[k] = (t[k] ?? 0) + 1;
  }
  return t;
}

export interface UsageRow {
  status: string;
  errorCode: string | null;
  promptTokens: number;
  completionTokens: number;
  costUsd: number;
}

/** Every usage record of a key (flushes the given gateways first). */
export async function usageOf(gw: TestGateway, keyId: string, flush: TestGateway[] = [gw]): Promise<UsageRow[]> {
  for (const g of flush) await g.flushUsage();
  const rows: UsageRow[] = [];
  let after: string | null = null;
  for (;;) {
    const data: { usage: { edges: Array<{ node: UsageRow }>; pageInfo: { hasNextPage: boolean; endCursor: string | null } } } = ok(
      await gw.gql(
        'query($f: UsageFilter, $after: String) { usage(filter: $f, first: 100, after: $after) { edges { node { status errorCode promptTokens completionTokens costUsd } } pageInfo { hasNextPage endCursor } } }',
        { f: { apiKeyId: keyId }, after },
      ),
    );
    rows.push(...data.usage.edges.map((e) => e.node));
    if (!data.usage.pageInfo.hasNextPage) return rows;
    after = data.usage.pageInfo.endCursor;
  }
}

export function statusCounts(rows: UsageRow[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const r of rows) t[r.status] = (t[r.status] ?? 0) + 1;
  return t;
}

export const recordedTokens = (rows: UsageRow[]) => rows.reduce((s, r) => s + r.promptTokens + r.completionTokens, 0);
export const recordedCost = (rows: UsageRow[]) => rows.reduce((s, r) => s + r.costUsd, 0);

export async function updateLimits(gw: TestGateway, id: string, input: Record<string, unknown>): Promise<void> {
  ok(await gw.gql('mutation($id: ID!, $input: UpdateApiKeyInput!) { updateApiKey(id: $id, input: $input) { id } }', { id, input }));
}

/** A Redis key prefix unique to this run, so runs sharing one Redis never see each other's counters. */
export function uniquePrefix(): string {
  return `gwtest:${randomBytes(5).toString('hex')}:`;
}

/** Deletes every Redis key under a prefix. */
export async function dropPrefix(url: string, prefix: string): Promise<void> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await r.connect();
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await r.del(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}

/** A database of its own on the TEST_DATABASE_URL server, dropped afterwards. */
export async function freshDatabase(baseUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `gw_limits_${randomBytes(5).toString('hex')}`;
  const admin = postgres(baseUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${name}"`);
  const u = new URL(baseUrl);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    async drop() {
      await admin.unsafe(`drop database if exists "${name}" with (force)`);
      await admin.end({ timeout: 5 });
    },
  };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A redis-server child process on a port of its own, which a test can kill, freeze and restart. */
export class ControlledRedis {
  private child?: ChildProcess;
  constructor(readonly port: number) {}
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }
  static async start(): Promise<ControlledRedis> {
    const r = new ControlledRedis(await freePort());
    await r.start();
    return r;
  }
  async start(): Promise<void> {
    this.child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const probe = new Redis(this.url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    probe.on('error', () => {});
    try {
      for (let i = 0; i < 100; i++) {
        try {
          await probe.connect();
          await probe.ping();
          return;
        } catch {
          await sleep(50);
        }
      }
      throw new Error(`redis-server did not start on port ${this.port}`);
    } finally {
      probe.disconnect();
    }
  }
  async kill(): Promise<void> {
    const c = this.child;
    // a process killed by a signal has signalCode set and exitCode null: its 'exit' has already been emitted
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGKILL');
    await exited;
  }
  freeze(): void {
    this.child?.kill('SIGSTOP');
  }
  thaw(): void {
    this.child?.kill('SIGCONT');
  }
}

/** The echo adapter with upstream latency, so concurrent calls really are in flight together. */
export function slowEcho(ms = 100): ProviderAdapter {
  const echo = createEchoAdapter();
  return {
    ...echo,
    async chat(req, opts) {
      await sleep(ms);
      return echo.chat(req, opts);
    },
  };
}

/** A TCP proxy in front of a server (Redis), which a test can cut off and watch. */
export class TcpProxy {
  private readonly sockets = new Set<Socket>();
  private cutOff = false;
  /** Called with each chunk a client sends, once it has been passed on to the server. */
  onClientData?: (chunk: Buffer) => void;
  /** Decides each chunk a client sends before it is passed on: 'hold' keeps it (and what follows) until release(), 'cut' drops it and cuts. */
  filter?: (chunk: Buffer) => 'forward' | 'hold' | 'cut';
  private held: Array<() => void> = [];
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(target: string): Promise<TcpProxy> {
    const t = new URL(target);
    const server = createServer();
    const proxy = await new Promise<TcpProxy>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve(new TcpProxy(server, (server.address() as { port: number }).port)));
    });
    server.on('connection', (client) => {
      if (proxy.cutOff) return void client.destroy();
      const upstream = connect(Number(t.port || 6379), t.hostname);
      proxy.track(client, upstream);
      client.on('data', (chunk: Buffer) => {
        const verdict = proxy.filter?.(chunk) ?? 'forward';
        if (verdict === 'cut') return proxy.cut();
        const pass = () => {
          upstream.write(chunk);
          proxy.onClientData?.(chunk);
        };
        if (verdict === 'hold' || proxy.held.length !== 0) proxy.held.push(pass);
        else pass();
      });
      upstream.on('data', (chunk: Buffer) => client.write(chunk));
    });
    return proxy;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Closes every connection and refuses new ones until restore(): the server is unreachable. */
  cut(): void {
    this.cutOff = true;
    this.held = [];
    for (const s of this.sockets) s.destroy();
  }

  restore(): void {
    this.cutOff = false;
  }

  /** Passes on what filter() held, in order. */
  release(): void {
    const held = this.held;
    this.held = [];
    for (const pass of held) pass();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private track(a: Socket, b: Socket): void {
    for (const s of [a, b]) {
      this.sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        this.sockets.delete(s);
        (s === a ? b : a).destroy();
      });
    }
  }
}

/** Holds this process's event loop (every gateway a test started in it) as a long synchronous task would. */
export function blockEventLoop(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}
