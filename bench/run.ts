/*
 * npm run bench [-- options]
 *
 * One run on this machine, every server in its own process, the load generator (autocannon, undici and
 * graphql-ws clients) in this one:
 *   - mock upstream (bench/mock-upstream.ts) called directly: the limit
 *   - thin proxy (bench/thin-proxy.ts): a minimal node:http pass-through
 *   - floor proxy (bench/floor-proxy.ts): parses the request and the reply and writes a new one, nothing else
 *   - the gateway (bench/gateway-server.mjs, the dist/ build as `npm start` runs it): `chat` over HTTP, /v1/chat/completions (when it exists),
 *     `chatStream` over graphql-ws and GraphQL SSE; real INVOKE key with limits, usage records on
 *   - Portkey's gateway from npm (@portkey-ai/gateway), pointed at the same mock
 *
 * Options:
 *   --profile               gateway runs with --cpu-prof (bench/results/prof/<run>/); summary printed at the end
 *   --duration=5            seconds per measured run (non-streaming)      --warmup=1  seconds of warm-up first
 *   --prewarm=5             seconds every HTTP target is loaded at the highest concurrency before any measurement
 *   --gateway-node-flags=a,b extra node flags for the gateway process only, after those of `npm start`
 *   --gateway-source        run the gateway from src/ through tsx (default: `npm run build`, then dist/ under node)
 *   --concurrency=1,10,100  autocannon connections
 *   --sweeps=3              the non-streaming runs are repeated this many times (target order rotated); the run
 *                           with the median req/s stands for each target and concurrency in the tables and ratios
 *   --paired-rounds=5       after the runs above: rounds of back-to-back runs of the thin proxy and each gateway
 *                           target at each --paired-concurrency (default: every concurrency above 1), the best
 *                           of them standing for the target in that round (--paired-duration=3 s after 1 s
 *                           warm-up, order reversed every other round); the median of the per-round ratios (0 skips)
 *   --only=a,b              targets: direct,thin,floor,gw-graphql,gw-rest,portkey (direct is always kept as the baseline)
 *   --no-portkey            skip Portkey
 *   --sse-duration=3        seconds per streaming-latency run; --sse-tokens=20; --sse-concurrency=1,10
 *   --streams=2000          concurrent chatStream subscriptions (0 skips)  --stream-tokens=100  --stream-gap-ms=50
 *                           (above 2000 streams the defaults become a gap of streams/2 ms and 150 s worth of tokens:
 *                           about 2000 tokens a second in all, and every stream still open when the last one opens)
 *   --ws-connections=40     websocket connections the subscriptions are spread over
 *   --database=disk         the gateway's database: disk = embedded PGlite in a fresh temporary DATA_DIR (the
 *                           zero-setup default), memory = memory://, or a postgres:// URL (BENCH_DATABASE_URL)
 *   --startup-rounds=3      first: `npm start` to /readyz and its idle RSS, embedded (fresh and existing DATA_DIR) and on
 *                           PostgreSQL (--startup-database=postgres://…, default BENCH_DATABASE_URL or the local server),
 *                           the median of this many rounds (0 skips; bench/startup.ts)
 *   --spread-origins=8      also run the subscriptions against a model whose targets are this many providers on
 *                           separate mock ports (origins), so no per-origin connection pool caps them (0 skips)
 *
 * Writes bench/results/<timestamp>.json and bench/results/latest.json.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { createClient, type Client } from 'graphql-ws';
import { Agent, request } from 'undici';
import WebSocket from 'ws';
import { formatSummary, newestProfile, summarizeProfile, type ProfileSummary } from './top-functions.js';
import { consoleFirstPageSize } from './console-size.js';
import { cpuMs, mainThreadCpuMs, rssMb } from './proc-stats.js';
import { formatStartup, measureStartup, median, STARTUP_GOALS, type StartupResult } from './startup.js';

// ---------------------------------------------------------------- options

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const argv = process.argv.slice(2);
function opt(name: string, def: string): string {
  const a = argv.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : def;
}
const flag = (name: string) => argv.includes(`--${name}`);
const nums = (s: string) => s.split(',').filter(Boolean).map(Number);

const PROFILE = flag('profile');
const DURATION_S = Number(opt('duration', '5'));
const WARMUP_S = Number(opt('warmup', '1'));
const PREWARM_S = Number(opt('prewarm', '5'));
const CONCURRENCY = nums(opt('concurrency', '1,10,100'));
const ONLY = opt('only', '').split(',').filter(Boolean);
const SWEEPS = Math.max(1, Number(opt('sweeps', '3')));
/** how the tables and targets name a figure taken over the sweeps */
const ofSweeps = SWEEPS > 1 ? `, median of ${SWEEPS} sweeps` : '';
const PAIRED_ROUNDS = Number(opt('paired-rounds', '5'));
const PAIRED_DURATION_S = Number(opt('paired-duration', '3'));
/** every concurrency above 1 unless given: c=1 measures latency, never a peak */
const PAIRED_CONCURRENCY = (() => {
  const given = nums(opt('paired-concurrency', ''));
  if (given.length) return given;
  const above1 = CONCURRENCY.filter((c) => c > 1);
  return above1.length ? above1 : CONCURRENCY;
})();
const NO_PORTKEY = flag('no-portkey');
const SSE_DURATION_MS = Number(opt('sse-duration', '3')) * 1000;
const SSE_TOKENS = Number(opt('sse-tokens', '20'));
const SSE_CONCURRENCY = nums(opt('sse-concurrency', '1,10'));
const STREAMS = Number(opt('streams', '2000'));
/**
 * Past 2000 streams, 50 ms apart would ask this 2-core machine to relay 20 tokens a second per stream (200 000 a
 * second at 10 000); opening them also takes a minute or more, and a stream that ends before the last one opened
 * was never concurrent with it. So by default the tokens in all stay about 2000 a second and each stream lasts 150 s.
 */
const MANY_STREAMS = STREAMS > 2000;
const STREAM_GAP_MS = Number(opt('stream-gap-ms', MANY_STREAMS ? String(Math.round(STREAMS / 2)) : '50'));
const STREAM_TOKENS = Number(opt('stream-tokens', MANY_STREAMS ? String(Math.ceil(150_000 / STREAM_GAP_MS)) : '100'));
const WS_CONNECTIONS = Number(opt('ws-connections', '40'));
const SPREAD_ORIGINS = Number(opt('spread-origins', '8'));
const MOCK_GAP_MS = 1;
const STARTUP_ROUNDS = Number(opt('startup-rounds', '3'));
const STARTUP_DATABASE = opt('startup-database', process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres');
/** The node flags `npm start` gives the gateway (package.json), so the bench measures the process users run. */
const START_NODE_FLAGS = (() => {
  const start = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
  const m = /\bnode((?: --\S+)*) scripts\/start\.mjs/.exec(start);
  if (!m) throw new Error(`package.json "start" does not run node … scripts/start.mjs: ${start}`);
  return m[1].split(' ').filter(Boolean);
})();
/** extra node flags for the gateway process only, after the start script's, e.g. --gateway-node-flags=--max-semi-space-size=128 (comma-separated) */
const GATEWAY_NODE_FLAGS = opt('gateway-node-flags', '').split(',').filter(Boolean);
/** run the gateway from src/ through tsx instead of the dist/ build `npm start` runs */
const GATEWAY_SOURCE = flag('gateway-source');
/** disk: embedded PGlite in a fresh DATA_DIR (the zero-setup default); memory: memory://; or a postgres:// URL */
const DATABASE = opt('database', process.env.BENCH_DATABASE_URL ?? 'disk');

const STAMP = new Date().toISOString().replace(/[:.]/g, '-');
const RESULTS_DIR = join(ROOT, 'bench/results');
const PROF_DIR = join(RESULTS_DIR, 'prof', STAMP);
const ADMIN_KEY = `gw_bench_admin_${Math.random().toString(36).slice(2)}_0123456789`;

const wanted = (id: string) => id === 'direct' || ONLY.length === 0 || ONLY.includes(id);
const log = (msg: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

// ---------------------------------------------------------------- processes

let benchDataDir: string | undefined;
function databaseEnv(): Record<string, string> {
  if (DATABASE === 'memory') return { DATABASE_URL: 'memory://' };
  if (DATABASE.startsWith('postgres')) return { DATABASE_URL: DATABASE };
  benchDataDir = mkdtempSync(join(tmpdir(), 'gw-bench-'));
  // gateway-server.mjs: BENCH_DATABASE=embedded leaves DATABASE_URL unset, so DATA_DIR is used
  return { BENCH_DATABASE: 'embedded', DATA_DIR: benchDataDir };
}

interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  info: Record<string, unknown>;
  stderr: string[];
  rss: { idleMb: number; peakMb: number; endMb?: number };
}

const procs: Proc[] = [];

process.on('exit', () => {
  for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
    process.exit(130);
  });
}


async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

/** Starts a node process; resolves when it prints a JSON line with ready:true (or `probe` answers). */
async function startProc(
  name: string,
  args: string[],
  env: Record<string, string>,
  probe?: () => Promise<boolean>,
  ipc = false,
): Promise<Proc> {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', probe ? 'ignore' : 'pipe', 'pipe', ...(ipc ? (['ipc'] as const) : [])],
  });
  const stderr: string[] = [];
  child.stderr!.on('data', (d: Buffer) => {
    stderr.push(String(d));
    if (process.env.BENCH_STDERR_DIR) appendFileSync(join(process.env.BENCH_STDERR_DIR, `${name}.log`), d);
    if (stderr.length > 200) stderr.shift();
  });
  const proc: Proc = { name, child, pid: child.pid!, info: {}, stderr, rss: { idleMb: NaN, peakMb: 0 } };
  procs.push(proc);
  const exited = new Promise<never>((_, rej) =>
    child.once('exit', (code) => rej(new Error(`${name} exited (${code}) before it was ready:\n${stderr.join('').slice(-3000)}`))),
  );
  const ready = probe
    ? (async () => {
        for (let i = 0; i < 300; i++) {
          if (await probe().catch(() => false)) return {};
          await sleep(100);
        }
        throw new Error(`${name} did not become ready in 30 s`);
      })()
    : new Promise<Record<string, unknown>>((res) => {
        const rl = createInterface({ input: child.stdout! });
        if (process.env.BENCH_STDERR_DIR) child.stdout!.on("data", (d: Buffer) => appendFileSync(join(process.env.BENCH_STDERR_DIR!, `${name}.out`), d));
        rl.on('line', (line) => {
          try {
            const j = JSON.parse(line) as Record<string, unknown>;
            if (j.ready) res(j);
          } catch {
            /* not our line */
          }
        });
      });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(`${name} did not start within 60 s`)), 60_000)));
  try {
    proc.info = await Promise.race([ready, exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
  exited.catch(() => {}); // later exits are handled at stop
  return proc;
}

interface Mem {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  gc: boolean;
}

/** process.memoryUsage() of a process started with an IPC channel (gateway-server.mjs), after a full GC if asked. */
function memOf(p: Proc, gc: boolean): Promise<Mem | undefined> {
  if (!p.child.connected) return Promise.resolve(undefined);
  return new Promise((res) => {
    const t = setTimeout(() => {
      p.child.off('message', on);
      res(undefined);
    }, 30_000); // a full GC under 2 000 busy streams can take a while; undefined (shown as –) only past that
    const on = (m: unknown) => {
      if ((m as { type?: string })?.type !== 'mem') return;
      clearTimeout(t);
      p.child.off('message', on);
      res(m as Mem);
    };
    p.child.on('message', on);
    p.child.send({ type: 'mem', gc });
  });
}

const heapMb = (m: Mem | undefined) => (m ? (m.heapUsed + m.external) / 2 ** 20 : NaN);

async function stopProc(p: Proc, graceMs = 15_000): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  const done = new Promise<void>((r) => p.child.once('exit', () => r()));
  p.child.kill('SIGTERM');
  const t = setTimeout(() => p.child.kill('SIGKILL'), graceMs);
  await done;
  clearTimeout(t);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// ---------------------------------------------------------------- stats

interface Dist {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  mean: number;
  max: number;
}

function dist(values: number[]): Dist {
  if (!values.length) return { n: 0, p50: NaN, p90: NaN, p99: NaN, mean: NaN, max: NaN };
  const v = Float64Array.from(values).sort();
  const q = (p: number) => v[Math.min(v.length - 1, Math.max(0, Math.ceil(p * v.length) - 1))];
  let sum = 0;
  for (const x of v) sum += x;
  return { n: v.length, p50: q(0.5), p90: q(0.9), p99: q(0.99), mean: sum / v.length, max: v[v.length - 1] };
}

// ---------------------------------------------------------------- HTTP (non-streaming) targets

interface HttpTarget {
  id: string;
  label: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  /** the process whose CPU and RSS this target measures */
  proc: Proc;
  ok(body: string): boolean;
}

interface HttpRun {
  target: string;
  connections: number;
  durationS: number;
  requests: number;
  rps: number;
  latencyMs: Dist;
  non2xx: number;
  badBodies: number;
  errors: number;
  timeouts: number;
  serverCpuUsPerReq: number;
  /** the event loop's share of serverCpuUsPerReq; the rest is GC helper threads and workers */
  mainThreadCpuUsPerReq: number;
  mockCpuUsPerReq: number;
  serverRssPeakMb: number;
  upstreamCalls: number;
  /** which sweep measured it (1-based) */
  sweep?: number;
  /** on the run that stands for its (target, concurrency): req/s of every sweep, lowest first */
  rpsOfSweeps?: number[];
  errorsOfSweeps?: number;
}

const USER_TEXT = 'Say hello to the benchmark in a few words.';

async function mockStats(mockUrl: string): Promise<{ requests: number; streamsOpen: number; maxStreamsOpen: number }> {
  const r = await fetch(`${mockUrl}/stats`);
  return (await r.json()) as { requests: number; streamsOpen: number; maxStreamsOpen: number };
}

function cannon(t: HttpTarget, connections: number, durationS: number, onSample?: (ms: number) => void) {
  let bad = 0;
  return new Promise<{ result: autocannon.Result; bad: number }>((res, rej) => {
    const u = new URL(t.url);
    const inst = autocannon(
      {
        url: `${u.protocol}//${u.host}`,
        connections,
        duration: durationS,
        pipelining: 1,
        timeout: 20,
        requests: [
          {
            method: 'POST',
            path: u.pathname,
            headers: t.headers,
            body: t.body,
            onResponse: (status: number, body: string) => {
              if (status === 200 && !t.ok(body)) bad++;
            },
          },
        ],
      },
      (err: unknown, result: autocannon.Result) => (err ? rej(err) : res({ result, bad })),
    );
    if (onSample) inst.on('response', (_c: unknown, status: number, _b: number, ms: number) => status === 200 && onSample(ms));
  });
}

/** req/s of one short measured run after a 1 s warm-up (the paired rounds) */
async function quickRps(t: HttpTarget, connections: number, durationS: number): Promise<number> {
  await cannon(t, connections, 1);
  const { result } = await cannon(t, connections, durationS);
  return result['2xx'] / result.duration;
}

async function runHttp(t: HttpTarget, connections: number, mock: Proc, mockUrl: string): Promise<HttpRun> {
  await cannon(t, connections, WARMUP_S);
  const samples: number[] = [];
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb(t.proc.pid))), 250);
  const before = { cpu: cpuMs(t.proc.pid), main: mainThreadCpuMs(t.proc.pid), mock: cpuMs(mock.pid), calls: (await mockStats(mockUrl)).requests };
  const { result, bad } = await cannon(t, connections, DURATION_S, (ms) => samples.push(ms));
  const after = { cpu: cpuMs(t.proc.pid), main: mainThreadCpuMs(t.proc.pid), mock: cpuMs(mock.pid), calls: (await mockStats(mockUrl)).requests };
  clearInterval(sampler);
  peak = Math.max(peak, rssMb(t.proc.pid));
  t.proc.rss.peakMb = Math.max(t.proc.rss.peakMb, peak);
  const ok2xx = result['2xx'];
  const calls = after.calls - before.calls;
  // the mock's own CPU is not the proxy's: for direct, server = mock
  const serverCpu = after.cpu - before.cpu;
  return {
    target: t.id,
    connections,
    durationS: result.duration,
    requests: ok2xx,
    rps: ok2xx / result.duration,
    latencyMs: dist(samples),
    non2xx: result.non2xx,
    badBodies: bad,
    errors: result.errors,
    timeouts: result.timeouts,
    serverCpuUsPerReq: ok2xx ? (serverCpu * 1000) / ok2xx : NaN,
    mainThreadCpuUsPerReq: ok2xx ? ((after.main - before.main) * 1000) / ok2xx : NaN,
    mockCpuUsPerReq: ok2xx ? ((after.mock - before.mock) * 1000) / ok2xx : NaN,
    serverRssPeakMb: peak,
    upstreamCalls: calls,
  };
}

// ---------------------------------------------------------------- streaming targets (SSE over HTTP, graphql-ws)

interface StreamSample {
  ttftMs: number;
  ttltMs: number;
  tokens: number;
}

interface StreamRun {
  target: string;
  concurrency: number;
  streams: number;
  streamsPerS: number;
  ttftMs: Dist;
  ttltMs: Dist;
  errors: number;
  wrongTokenCount: number;
  firstError?: string;
}

type StreamFn = () => Promise<StreamSample>;

const sseAgent = new Agent({ connections: null, keepAliveTimeout: 30_000, pipelining: 1 });
const TOKEN_RE = /tok\d+ /g;
const CONTENT_RE = /"content":"tok\d/;

/** POSTs, reads the SSE answer to its end, and times the first chunk that matches `first` and the last byte. */
async function readSse(url: string, headers: Record<string, string>, body: string, first: RegExp): Promise<{ ttftMs: number; ttltMs: number; text: string }> {
  const t0 = performance.now();
  const res = await request(url, { method: 'POST', headers, body, dispatcher: sseAgent });
  if (res.statusCode !== 200) {
    const text = await res.body.text();
    throw new Error(`HTTP ${res.statusCode}: ${text.slice(0, 300)}`);
  }
  let ttft = NaN;
  let text = '';
  for await (const chunk of res.body) {
    text += (chunk as Buffer).toString('utf8');
    if (Number.isNaN(ttft) && first.test(text)) ttft = performance.now() - t0;
  }
  return { ttftMs: ttft, ttltMs: performance.now() - t0, text };
}

function sseStream(url: string, headers: Record<string, string>, body: string): StreamFn {
  return async () => {
    const { ttftMs, ttltMs, text } = await readSse(url, headers, body, CONTENT_RE);
    if (!text.includes('[DONE]')) throw new Error(`stream ended without [DONE]: ${text.slice(-200)}`);
    return { ttftMs, ttltMs, tokens: text.match(TOKEN_RE)?.length ?? 0 };
  };
}

const CHAT_STREAM = `subscription($input: ChatInput!) { chatStream(input: $input) { delta finishReason usage { totalTokens } } }`;
const DELTA_RE = /"delta":"tok\d/;

/** chatStream over GraphQL SSE (POST /graphql, Accept: text/event-stream: one response per subscription, as Yoga serves it). */
function gqlSseStream(url: string, key: string, input: Record<string, unknown>): StreamFn {
  const headers = { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${key}` };
  const body = JSON.stringify({ query: CHAT_STREAM, variables: { input } });
  return async () => {
    const { ttftMs, ttltMs, text } = await readSse(url, headers, body, DELTA_RE);
    if (text.includes('"errors"')) throw new Error(`stream carried errors: ${text.slice(text.indexOf('"errors"'), text.indexOf('"errors"') + 300)}`);
    if (!text.includes('"finishReason":"STOP"') || !text.endsWith('event: complete\ndata:\n\n')) throw new Error(`stream ended without STOP and complete: ${text.slice(-200)}`);
    return { ttftMs, ttltMs, tokens: text.match(TOKEN_RE)?.length ?? 0 };
  };
}

interface ChunkData {
  chatStream?: { delta: string; finishReason: string | null };
}

function wsStream(client: Client, input: Record<string, unknown>, hooks?: { onFirst?(): void; onChunk?(): void }): StreamFn {
  return () =>
    new Promise<StreamSample>((res, rej) => {
      const t0 = performance.now();
      let ttft = NaN;
      let text = '';
      let finish: string | null = null;
      client.subscribe<ChunkData>(
        { query: CHAT_STREAM, variables: { input } },
        {
          next: (msg) => {
            if (msg.errors?.length) {
              rej(new Error(JSON.stringify(msg.errors).slice(0, 300)));
              return;
            }
            const c = msg.data?.chatStream;
            if (!c) return;
            hooks?.onChunk?.();
            if (c.delta && Number.isNaN(ttft)) {
              ttft = performance.now() - t0;
              hooks?.onFirst?.();
            }
            text += c.delta;
            if (c.finishReason) finish = c.finishReason;
          },
          error: (e) => rej(e instanceof Error ? e : new Error(JSON.stringify(e).slice(0, 300))),
          complete: () => {
            if (finish !== 'STOP') rej(new Error(`stream completed with finishReason ${finish}`));
            else res({ ttftMs: ttft, ttltMs: performance.now() - t0, tokens: text.match(TOKEN_RE)?.length ?? 0 });
          },
        },
      );
    });
}

async function closedLoop(concurrency: number, ms: number, fn: StreamFn, expectTokens: number, id: string): Promise<StreamRun> {
  const samples: StreamSample[] = [];
  let errors = 0;
  let wrong = 0;
  let firstError: string | undefined;
  const started = performance.now();
  const end = started + ms;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        try {
          const s = await fn();
          if (s.tokens !== expectTokens) wrong++;
          samples.push(s);
        } catch (e) {
          errors++;
          firstError ??= e instanceof Error ? e.message : String(e);
          await sleep(10);
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  return {
    target: id,
    concurrency,
    streams: samples.length,
    streamsPerS: samples.length / elapsed,
    ttftMs: dist(samples.map((s) => s.ttftMs)),
    ttltMs: dist(samples.map((s) => s.ttltMs)),
    errors,
    wrongTokenCount: wrong,
    firstError,
  };
}

function wsClient(gatewayUrl: string, key: string): Promise<Client> {
  return new Promise((res, rej) => {
    const client = createClient({
      url: `${gatewayUrl.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${key}` },
      lazy: false,
      retryAttempts: 0,
      onNonLazyError: rej,
      on: { connected: () => res(client), error: rej },
    });
  });
}

// ---------------------------------------------------------------- GraphQL setup

async function gql<T>(url: string, key: string, query: string, variables?: Record<string, unknown>): Promise<T> {
  const r = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  const j = (await r.json()) as { data?: T; errors?: unknown[] };
  if (!j.data || j.errors?.length) throw new Error(`GraphQL failed: ${JSON.stringify(j.errors ?? j).slice(0, 500)}`);
  return j.data;
}

// ---------------------------------------------------------------- formatting

const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '–');
const fr = (x: number) => (Number.isFinite(x) ? `${x.toFixed(2)}×` : '–');
function table(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  return [line(head), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const t0 = Date.now();
  const load0 = loadavg();
  log(`node ${process.version}, ${cpus().length} CPUs, loadavg ${load0.map((x) => x.toFixed(2)).join(' ')}${PROFILE ? ', profiling the gateway' : ''}`);

  // --- start-up and idle memory of `npm start`, first: nothing else runs yet
  let startup: StartupResult | undefined;
  if (STARTUP_ROUNDS > 0 && !GATEWAY_SOURCE) {
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
    startup = await measureStartup({ cwd: ROOT, port: await freePort(), rounds: STARTUP_ROUNDS, postgresUrl: STARTUP_DATABASE, log });
  }

  // --- servers
  const tsx = ['--import', 'tsx'];
  const mock = await startProc('mock', [...tsx, 'bench/mock-upstream.ts'], { MOCK_GAP_MS: String(MOCK_GAP_MS), MOCK_EXTRA_PORTS: String(SPREAD_ORIGINS) });
  const mockUrl = `http://127.0.0.1:${mock.info.port as number}`;
  const thin = wanted('thin') ? await startProc('thin-proxy', [...tsx, 'bench/thin-proxy.ts'], { UPSTREAM: mockUrl }) : undefined;
  const thinUrl = thin ? `http://127.0.0.1:${thin.info.port as number}` : '';
  const floor = wanted('floor') ? await startProc('floor-proxy', [...tsx, 'bench/floor-proxy.ts'], { UPSTREAM: mockUrl }) : undefined;
  const floorUrl = floor ? `http://127.0.0.1:${floor.info.port as number}` : '';
  if (PROFILE) mkdirSync(PROF_DIR, { recursive: true });
  // the gateway runs as `npm start` runs it: the esbuild output in dist/ under plain node (--gateway-source: src/ via tsx)
  if (!GATEWAY_SOURCE) execFileSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
  const consoleSize = GATEWAY_SOURCE ? undefined : consoleFirstPageSize(ROOT);
  const gwArgs = ['--expose-gc', ...START_NODE_FLAGS, ...GATEWAY_NODE_FLAGS, ...(PROFILE ? ['--cpu-prof', '--cpu-prof-dir', PROF_DIR] : []), ...(GATEWAY_SOURCE ? tsx : []), 'bench/gateway-server.mjs'];
  const gw = await startProc('gateway', gwArgs, {
    ...(GATEWAY_SOURCE ? { GATEWAY_BUILD: 'source' } : {}),
    GATEWAY_ADMIN_KEY: ADMIN_KEY,
    GATEWAY_SECRET: 'bench-secret-bench-secret-0123456789',
    LOG_LEVEL: 'warn',
    ...databaseEnv(),
    // one key opens all the subscriptions of the concurrency test
    MAX_SUBSCRIPTIONS_PER_KEY: String(Math.max(100, STREAMS + 100)),
    // thousands of streams keep this machine's cores (the load generator's too) so busy that a pong can take more
    // than graphql-ws's 12 s, and the socket is terminated with every subscription on it
    ...(MANY_STREAMS ? { WS_KEEPALIVE_MS: '60000' } : {}),
  }, undefined, true);
  const gwUrl = gw.info.url as string;
  let portkey: Proc | undefined;
  let portkeyUrl = '';
  if (!NO_PORTKEY && wanted('portkey')) {
    const port = await freePort();
    portkeyUrl = `http://127.0.0.1:${port}`;
    try {
      portkey = await startProc(
        'portkey',
        // the preload only makes streamed responses work on Node at all (see the file)
        ['--import', './bench/portkey-stream-fix.mjs', 'node_modules/@portkey-ai/gateway/build/start-server.js', `--port=${port}`, '--headless'],
        { NODE_ENV: 'production' },
        async () => (await fetch(`${portkeyUrl}/`)).status > 0,
      );
    } catch (e) {
      log(`Portkey did not start, skipped: ${(e as Error).message}`);
    }
  }
  log(`mock ${mockUrl}, thin ${thinUrl || '(skipped)'}, gateway ${gwUrl}, portkey ${portkey ? portkeyUrl : '(skipped)'}`);

  // --- gateway catalogue and key, through the API
  await gql(gwUrl, ADMIN_KEY, `mutation($i: CreateProviderInput!) { createProvider(input: $i) { name } }`, {
    i: { name: 'mock', kind: 'OPENAI_COMPATIBLE', baseUrl: `${mockUrl}/v1`, apiKey: 'sk-mock' },
  });
  for (const [name, upstreamModel] of [
    ['bench', 'mock'],
    ['bench-slow', `mock-gap-${STREAM_GAP_MS}`],
  ]) {
    await gql(gwUrl, ADMIN_KEY, `mutation($i: CreateModelInput!) { createModel(input: $i) { name } }`, {
      i: { name, targets: [{ provider: 'mock', upstreamModel }], inputPricePerMTok: 0.15, outputPricePerMTok: 0.6, contextWindow: 128000 },
    });
  }
  const extraPorts = (mock.info.extraPorts as number[] | undefined) ?? [];
  for (const [i, port] of extraPorts.entries()) {
    await gql(gwUrl, ADMIN_KEY, `mutation($i: CreateProviderInput!) { createProvider(input: $i) { name } }`, {
      i: { name: `mock-o${i + 1}`, kind: 'OPENAI_COMPATIBLE', baseUrl: `http://127.0.0.1:${port}/v1`, apiKey: 'sk-mock' },
    });
  }
  if (extraPorts.length) {
    await gql(gwUrl, ADMIN_KEY, `mutation($i: CreateModelInput!) { createModel(input: $i) { name } }`, {
      i: {
        name: 'bench-slow-spread',
        strategy: 'ROUND_ROBIN',
        targets: extraPorts.map((_, i) => ({ provider: `mock-o${i + 1}`, upstreamModel: `mock-gap-${STREAM_GAP_MS}` })),
        inputPricePerMTok: 0.15,
        outputPricePerMTok: 0.6,
      },
    });
  }
  const limits = { requestsPerMinute: 10_000_000, tokensPerMinute: 2_000_000_000 };
  const created = await gql<{ createApiKey: { secret: string } }>(
    gwUrl,
    ADMIN_KEY,
    `mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret } }`,
    { i: { name: 'bench', scopes: ['INVOKE'], limits } },
  );
  const KEY = created.createApiKey.secret;

  for (const p of procs) p.rss.idleMb = rssMb(p.pid);

  // --- non-streaming targets
  const openaiBody = JSON.stringify({ model: 'mock', messages: [{ role: 'user', content: USER_TEXT }], max_tokens: 16 });
  const json = { 'content-type': 'application/json' };
  const hasChoices = (b: string) => b.includes('"choices"') && b.includes('tok15');
  const targets: HttpTarget[] = [
    { id: 'direct', label: 'mock direct', url: `${mockUrl}/v1/chat/completions`, headers: json, body: openaiBody, proc: mock, ok: hasChoices },
  ];
  if (thin) targets.push({ id: 'thin', label: 'thin proxy', url: `${thinUrl}/v1/chat/completions`, headers: json, body: openaiBody, proc: thin, ok: hasChoices });
  if (floor) targets.push({ id: 'floor', label: 'floor proxy', url: `${floorUrl}/v1/chat/completions`, headers: json, body: openaiBody, proc: floor, ok: hasChoices });
  if (wanted('gw-graphql')) {
    targets.push({
      id: 'gw-graphql',
      label: 'gateway chat (GraphQL)',
      url: `${gwUrl}/graphql`,
      headers: { ...json, accept: 'application/graphql-response+json, application/json', authorization: `Bearer ${KEY}` },
      body: JSON.stringify({
        query: 'mutation($input: ChatInput!) { chat(input: $input) { id message { content } finishReason usage { promptTokens completionTokens totalTokens costUsd } } }',
        variables: { input: { model: 'bench', messages: [{ role: 'USER', content: USER_TEXT }], maxTokens: 16 } },
      }),
      proc: gw,
      ok: (b) => b.includes('"chat":{') && b.includes('tok15') && !b.includes('"errors"'),
    });
  }
  const restBody = JSON.stringify({ model: 'bench', messages: [{ role: 'user', content: USER_TEXT }], max_tokens: 16 });
  let restStatus = 'not measured';
  if (wanted('gw-rest')) {
    const probe = await fetch(`${gwUrl}/v1/chat/completions`, { method: 'POST', headers: { ...json, authorization: `Bearer ${KEY}` }, body: restBody });
    const text = await probe.text();
    if (probe.status === 200 && hasChoices(text)) {
      restStatus = 'present';
      targets.push({ id: 'gw-rest', label: 'gateway /v1/chat/completions', url: `${gwUrl}/v1/chat/completions`, headers: { ...json, authorization: `Bearer ${KEY}` }, body: restBody, proc: gw, ok: hasChoices });
    } else {
      restStatus = `missing (HTTP ${probe.status}: ${text.slice(0, 160)})`;
      log(`/v1/chat/completions: ${restStatus}`);
    }
  }
  const portkeyHeaders = { ...json, authorization: 'Bearer sk-mock', 'x-portkey-provider': 'openai', 'x-portkey-custom-host': `${mockUrl}/v1` };
  if (portkey) targets.push({ id: 'portkey', label: 'Portkey gateway', url: `${portkeyUrl}/v1/chat/completions`, headers: portkeyHeaders, body: openaiBody, proc: portkey, ok: hasChoices });

  // every target must answer correctly once before it is loaded
  for (const t of [...targets]) {
    const r = await fetch(t.url, { method: 'POST', headers: t.headers, body: t.body });
    const text = await r.text();
    if (r.status !== 200 || !t.ok(text)) {
      log(`${t.id}: probe failed (HTTP ${r.status}: ${text.slice(0, 300)}); dropped`);
      targets.splice(targets.indexOf(t), 1);
    }
  }

  // every target runs at the highest concurrency before anything is measured: JIT tiers, heap sizes, pools and
  // the gateway's fresh database all reach steady state (the first seconds of a fresh gateway ran ~30 % slower,
  // so a per-run warm-up of 1 s penalised whichever target happened to come first)
  if (PREWARM_S > 0) {
    for (const t of targets) await cannon(t, Math.max(...CONCURRENCY), PREWARM_S);
    log(`pre-warmed every target for ${PREWARM_S} s at c=${Math.max(...CONCURRENCY)}`);
  }

  // every (target, concurrency) runs once per sweep and the run with the median req/s stands for it: one 5 s
  // run lands in a fast or a slow minute of this shared machine (its speed moves by up to 2× within a minute),
  // and the peak ratio compares each target's best concurrency, runs that are up to a minute apart
  const allHttpRuns: HttpRun[] = [];
  for (let sweep = 0; sweep < SWEEPS; sweep++) {
    // interleaved by concurrency, so background noise spreads over every target alike; the order of the
    // targets rotates from one sweep to the next
    for (const c of CONCURRENCY) {
      const order = [...targets.slice(sweep % targets.length), ...targets.slice(0, sweep % targets.length)];
      for (const t of order) {
        const r = await runHttp(t, c, mock, mockUrl);
        r.sweep = sweep + 1;
        allHttpRuns.push(r);
        log(`${SWEEPS > 1 ? `sweep ${sweep + 1}/${SWEEPS} ` : ''}${t.id.padEnd(10)} c=${String(c).padEnd(3)} ${f(r.rps, 0).padStart(6)} req/s  p50 ${f(r.latencyMs.p50, 2)} ms  p99 ${f(r.latencyMs.p99, 2)} ms${r.non2xx + r.badBodies + r.errors ? `  non2xx ${r.non2xx} bad ${r.badBodies} err ${r.errors}` : ''}`);
      }
    }
  }
  const httpRuns: HttpRun[] = [];
  for (const c of CONCURRENCY) {
    for (const t of targets) {
      const runs = allHttpRuns.filter((r) => r.target === t.id && r.connections === c).sort((a, b) => a.rps - b.rps);
      const median = runs[(runs.length - 1) >> 1]!;
      median.rpsOfSweeps = runs.map((r) => r.rps);
      // errors count over every sweep, not just the run that stands for them
      median.errorsOfSweeps = runs.reduce((n, r) => n + r.non2xx + r.badBodies + r.errors, 0);
      httpRuns.push(median);
    }
  }

  // --- paired rounds: the machine's speed drifts by tens of percent over a minute (other tenants of the host),
  // and it slows the syscall-bound thin proxy more than the gateway; one pass compares targets measured up to a
  // minute apart. Back-to-back runs, repeated with the order reversed, give a ratio per round and a median.
  const paired: PairedRound[] = [];
  const pairedTargets = targets.filter((t) => t.id === 'thin' || t.id === 'gw-graphql' || t.id === 'gw-rest');
  if (PAIRED_ROUNDS > 0 && pairedTargets.some((t) => t.id === 'thin') && pairedTargets.length > 1) {
    for (let i = 0; i < PAIRED_ROUNDS; i++) {
      const order = i % 2 ? [...pairedTargets].reverse() : pairedTargets;
      // a target's throughput is its best concurrency, measured in this round: which one wins moves with the
      // machine's speed, and a choice made from the pass above can hold a target to its slower one
      const byC: Record<string, Record<number, number>> = {};
      for (const c of PAIRED_CONCURRENCY) {
        for (const t of order) (byC[t.id] ??= {})[c] = await quickRps(t, c, PAIRED_DURATION_S);
      }
      const rps: Record<string, number> = {};
      for (const t of pairedTargets) rps[t.id] = Math.max(...Object.values(byC[t.id]!));
      const round: PairedRound = { rps, byConcurrency: byC, ratios: {} };
      for (const id of Object.keys(rps)) if (id !== 'thin') round.ratios[`${id}/thin`] = rps[id]! / rps.thin!;
      paired.push(round);
      log(`paired round ${i + 1}/${PAIRED_ROUNDS}: ${Object.entries(byC).map(([k, v]) => `${k} ${Object.entries(v).map(([c, x]) => `c=${c} ${f(x, 0)}`).join(' ')}`).join(', ')}; ${Object.entries(round.ratios).map(([k, v]) => `${k} ${fr(v)}`).join(', ')}`);
    }
  }

  // --- streaming latency: SSE targets and chatStream over graphql-ws
  const sseRuns: StreamRun[] = [];
  const sseBody = (model: string) => JSON.stringify({ model, messages: [{ role: 'user', content: USER_TEXT }], max_tokens: SSE_TOKENS, stream: true, stream_options: { include_usage: true } });
  const streamTargets: Array<{ id: string; fn: StreamFn; proc: Proc }> = [
    { id: 'direct', fn: sseStream(`${mockUrl}/v1/chat/completions`, json, sseBody('mock')), proc: mock },
  ];
  if (thin) streamTargets.push({ id: 'thin', fn: sseStream(`${thinUrl}/v1/chat/completions`, json, sseBody('mock')), proc: thin });
  let wsLatencyClient: Client | undefined;
  if (wanted('gw-graphql')) {
    wsLatencyClient = await wsClient(gwUrl, KEY);
    const input = { model: 'bench', messages: [{ role: 'USER', content: USER_TEXT }], maxTokens: SSE_TOKENS };
    streamTargets.push({ id: 'gw-ws', fn: wsStream(wsLatencyClient, input), proc: gw });
    streamTargets.push({ id: 'gw-gql-sse', fn: gqlSseStream(`${gwUrl}/graphql`, KEY, input), proc: gw });
  }
  if (targets.some((t) => t.id === 'gw-rest')) {
    streamTargets.push({ id: 'gw-rest', fn: sseStream(`${gwUrl}/v1/chat/completions`, { ...json, authorization: `Bearer ${KEY}` }, sseBody('bench')), proc: gw });
  }
  if (targets.some((t) => t.id === 'portkey')) {
    streamTargets.push({ id: 'portkey', fn: sseStream(`${portkeyUrl}/v1/chat/completions`, portkeyHeaders, sseBody('mock')), proc: portkey! });
  }
  for (const c of SSE_CONCURRENCY) {
    for (const st of streamTargets) {
      await closedLoop(c, 500, st.fn, SSE_TOKENS, st.id); // warm-up
      const r = await closedLoop(c, SSE_DURATION_MS, st.fn, SSE_TOKENS, st.id);
      sseRuns.push(r);
      st.proc.rss.peakMb = Math.max(st.proc.rss.peakMb, rssMb(st.proc.pid));
      log(`stream ${st.id.padEnd(8)} c=${String(c).padEnd(3)} TTFT p50 ${f(r.ttftMs.p50, 2)} ms  TTLT p50 ${f(r.ttltMs.p50, 2)} ms  (${r.streams} streams${r.errors ? `, ${r.errors} errors: ${r.firstError}` : ''}${r.wrongTokenCount ? `, ${r.wrongTokenCount} wrong token counts` : ''})`);
    }
  }
  await wsLatencyClient?.dispose();

  // --- N concurrent chatStream subscriptions
  const many: ManyResult[] = [];
  if (STREAMS > 0 && wanted('gw-graphql')) {
    // spread first: its memory figures then start from the smallest heap
    if (extraPorts.length) many.push(await manyStreams(gwUrl, KEY, gw, mockUrl, 'bench-slow-spread', `round-robin over ${extraPorts.length} providers (${extraPorts.length} upstream origins)`));
    many.push(await manyStreams(gwUrl, KEY, gw, mockUrl, 'bench-slow', 'one provider (one upstream origin)'));
  }

  // --- usage records written (usage on): the bench key's month-to-date request count
  await sleep(1500);
  let usageRecords: number | undefined;
  try {
    const k = await gql<{ apiKeys: Array<{ name: string; monthToDate: { requests: number } }> }>(gwUrl, ADMIN_KEY, '{ apiKeys { name monthToDate { requests } } }');
    usageRecords = k.apiKeys.find((x) => x.name === 'bench')?.monthToDate.requests;
  } catch (e) {
    log(`usage query failed: ${(e as Error).message}`);
  }

  for (const p of procs) p.rss.endMb = rssMb(p.pid);
  for (const p of [...procs].reverse()) await stopProc(p);
  if (benchDataDir) rmSync(benchDataDir, { recursive: true, force: true });

  let profile: ProfileSummary | undefined;
  if (PROFILE) {
    const file = newestProfile(PROF_DIR);
    if (file) profile = summarizeProfile(file, 20);
    else log(`no profile found in ${PROF_DIR}`);
  }

  // ---------------------------------------------------------------- report
  const get = (id: string, c: number) => httpRuns.find((r) => r.target === id && r.connections === c);
  const out: string[] = [];
  const load1 = loadavg();
  out.push('');
  out.push(`Non-streaming chat completion (16 tokens), ${DURATION_S} s per run after ${WARMUP_S} s warm-up (every target pre-warmed ${PREWARM_S} s first); added = target − direct at the same concurrency`);
  if (SWEEPS > 1) out.push(`${SWEEPS} sweeps: each row is the sweep with the median req/s (every sweep's req/s in "sweeps"); errors count every sweep`);
  out.push(
    table(
      ['target', 'c', 'req/s', ...(SWEEPS > 1 ? ['sweeps'] : []), 'p50 ms', 'p99 ms', '+p50 ms', '+p99 ms', 'srv CPU µs/req', 'main thread', 'errors'],
      httpRuns.map((r) => {
        const d = get('direct', r.connections);
        return [
          r.target,
          String(r.connections),
          f(r.rps, 0),
          ...(SWEEPS > 1 ? [(r.rpsOfSweeps ?? []).map((x) => f(x, 0)).join(' ')] : []),
          f(r.latencyMs.p50, 2),
          f(r.latencyMs.p99, 2),
          r.target === 'direct' || !d ? '' : f(r.latencyMs.p50 - d.latencyMs.p50, 2),
          r.target === 'direct' || !d ? '' : f(r.latencyMs.p99 - d.latencyMs.p99, 2),
          f(r.serverCpuUsPerReq, 0),
          f(r.mainThreadCpuUsPerReq, 0),
          String(r.errorsOfSweeps ?? r.non2xx + r.badBodies + r.errors),
        ];
      }),
    ),
  );

  const peak = (id: string) => Math.max(...httpRuns.filter((r) => r.target === id).map((r) => r.rps));
  const ratios: Record<string, Record<string, number>> = {};
  for (const g of ['floor', 'gw-graphql', 'gw-rest']) {
    if (!httpRuns.some((r) => r.target === g)) continue;
    for (const base of g === 'floor' ? ['thin'] : ['direct', 'thin', 'floor', 'portkey']) {
      if (!httpRuns.some((r) => r.target === base)) continue;
      const row: Record<string, number> = {};
      for (const c of CONCURRENCY) row[`c${c}`] = (get(g, c)?.rps ?? NaN) / (get(base, c)?.rps ?? NaN);
      row.peak = peak(g) / peak(base);
      ratios[`${g}/${base}`] = row;
    }
  }
  out.push('');
  out.push(`Throughput ratios (req/s; peak = best concurrency of each${ofSweeps})`);
  out.push(table(['ratio', ...CONCURRENCY.map((c) => `c=${c}`), 'peak'], Object.entries(ratios).map(([k, v]) => [k, ...CONCURRENCY.map((c) => fr(v[`c${c}`])), fr(v.peak)])));

  const pairedMedian: Record<string, { median: number; min: number; max: number }> = {};
  if (paired.length) {
    for (const k of Object.keys(paired[0]!.ratios)) {
      const v = paired.map((r) => r.ratios[k]!).sort((a, b) => a - b);
      pairedMedian[k] = { median: v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2, min: v[0]!, max: v[v.length - 1]! };
    }
    out.push('');
    out.push(`Paired rounds: thin proxy and gateway back to back at c=${PAIRED_CONCURRENCY.join(' and c=')}, the better of each target standing for it in the round, ${PAIRED_DURATION_S} s after 1 s warm-up, order reversed every other round`);
    const ids = Object.keys(paired[0]!.rps);
    out.push(table(['round', ...ids.map((id) => `${id} req/s`), ...Object.keys(pairedMedian)], paired.map((r, i) => [String(i + 1), ...ids.map((id) => f(r.rps[id]!, 0)), ...Object.keys(pairedMedian).map((k) => fr(r.ratios[k]!))])));
    out.push(table(['ratio', 'median', 'min', 'max'], Object.entries(pairedMedian).map(([k, v]) => [k, fr(v.median), fr(v.min), fr(v.max)])));
  }

  const sget = (id: string, c: number) => sseRuns.find((r) => r.target === id && r.concurrency === c);
  out.push('');
  out.push(`Streaming latency (${SSE_TOKENS} tokens, ${MOCK_GAP_MS} ms apart), ${SSE_DURATION_MS / 1000} s per run; gw-ws = chatStream over graphql-ws, gw-gql-sse = chatStream over GraphQL SSE, others SSE`);
  out.push(
    table(
      ['target', 'c', 'streams/s', 'TTFT p50', 'TTFT p99', '+TTFT p50', 'TTLT p50', 'TTLT p99', '+TTLT p50', 'errors'],
      sseRuns.map((r) => {
        const d = sget('direct', r.concurrency);
        return [
          r.target,
          String(r.concurrency),
          f(r.streamsPerS, 0),
          f(r.ttftMs.p50, 2),
          f(r.ttftMs.p99, 2),
          r.target === 'direct' || !d ? '' : f(r.ttftMs.p50 - d.ttftMs.p50, 2),
          f(r.ttltMs.p50, 2),
          f(r.ttltMs.p99, 2),
          r.target === 'direct' || !d ? '' : f(r.ttltMs.p50 - d.ttltMs.p50, 2),
          String(r.errors + r.wrongTokenCount),
        ];
      }),
    ),
  );
  // issue 28: a subscription's first token over GraphQL SSE within 1 ms of graphql-ws
  const sseVsWs = SSE_CONCURRENCY.flatMap((c) => {
    const s = sget('gw-gql-sse', c);
    const w = sget('gw-ws', c);
    return s && w ? [`c=${c} ${f(s.ttftMs.p50, 2)} vs ${f(w.ttftMs.p50, 2)} ms (${s.ttftMs.p50 >= w.ttftMs.p50 ? '+' : ''}${f(s.ttftMs.p50 - w.ttftMs.p50, 2)})`] : [];
  });
  if (sseVsWs.length) out.push(`TTFT p50 gw-gql-sse vs gw-ws: ${sseVsWs.join(', ')}; target: within 1 ms`);

  if (startup) {
    out.push('');
    out.push(...formatStartup(startup));
  }
  out.push('');
  out.push('Server processes (RSS MB; idle = after start-up and setup)');
  out.push(table(['process', 'pid', 'idle', 'peak', 'end'], procs.map((p) => [p.name, String(p.pid), f(p.rss.idleMb), f(Math.max(p.rss.peakMb, p.rss.endMb ?? 0)), f(p.rss.endMb ?? NaN)])));

  for (const m of many) {
    out.push('');
    out.push(`${m.streams} concurrent chatStream subscriptions × ${m.tokensPerStream} tokens (${m.gapMs} ms apart), ${m.wsConnections} graphql-ws connections × ${m.subscriptionsPerConnection}; model ${m.model}: ${m.label}`);
    out.push(`  ${m.outcome === 'done' ? '' : 'TIMED OUT: '}completed ${m.completed}/${m.streams}, errors ${m.errors}, wrong token counts ${m.wrongTokenCount}${m.firstError ? ` (first error: ${m.firstError})` : ''}, ${f(m.seconds)} s`);
    out.push(`  at most ${m.maxStreaming} subscriptions receiving tokens at once; at most ${m.maxUpstreamStreams} upstream streams open at the mock; ${f(m.chunksPerS, 0)} chunks/s delivered`);
    out.push(`  TTFT p50 ${f(m.ttftMs.p50)} ms p99 ${f(m.ttftMs.p99)} ms; TTLT p50 ${f(m.ttltMs.p50)} ms p99 ${f(m.ttltMs.p99)} ms (ideal TTLT ≈ ${f((m.tokensPerStream - 1) * m.gapMs, 0)} ms)`);
    out.push(`  gateway RSS: before ${f(m.rssBaselineMb)} MB; all ${m.streams} subscribed, none finished ${f(m.rssAllOpenMb)} MB; all ${m.streams} receiving tokens ${m.allStreamingSeen ? `${f(m.rssAllStreamingMb)} MB` : 'never at once'}; peak ${f(m.rssPeakMb)} MB`);
    out.push(`  gateway heap+external after full GC: before ${f(m.heapBaselineMb)} MB, all ${m.streams} open (${m.heapUpstreamOpen} upstream) ${f(m.heapAllOpenMb)} MB (RSS then ${f(m.rssAtHeapMb)} MB)`);
    out.push(`  → RSS ${f(m.kbPerOpenSubscription)} KB per open subscription${m.allStreamingSeen ? ` (${f(m.kbPerStreamingSubscription)} KB while all ${m.streams} stream)` : ''}; retained heap ${f(m.heapKbPerOpenSubscription)} KB per open subscription`);
  }

  // targets
  const d1 = get('direct', 1);
  const g1 = get('gw-graphql', 1);
  const ttftD = sget('direct', 1);
  const ttftG = sget('gw-ws', 1);
  const checks: Array<{ target: string; value: number; goal: string; pass: boolean }> = [];
  const check = (target: string, value: number, goal: string, pass: boolean) => checks.push({ target, value, goal, pass });
  if (ratios['gw-graphql/portkey']) check('gateway (GraphQL) peak throughput / Portkey', ratios['gw-graphql/portkey'].peak, '≥ 5', ratios['gw-graphql/portkey'].peak >= 5);
  if (ratios['gw-graphql/thin']) check(`gateway (GraphQL) peak throughput / thin proxy${ofSweeps}`, ratios['gw-graphql/thin'].peak, '≥ 0.6', ratios['gw-graphql/thin'].peak >= 0.6);
  if (pairedMedian['gw-graphql/thin']) check(`gateway (GraphQL) / thin proxy, median of ${paired.length} paired rounds`, pairedMedian['gw-graphql/thin'].median, '≥ 0.6', pairedMedian['gw-graphql/thin'].median >= 0.6);
  if (ratios['gw-rest/portkey']) check('gateway (REST) peak throughput / Portkey', ratios['gw-rest/portkey'].peak, '≥ 5', ratios['gw-rest/portkey'].peak >= 5);
  if (ratios['gw-rest/thin']) check(`gateway (REST) peak throughput / thin proxy${ofSweeps}`, ratios['gw-rest/thin'].peak, '≥ 0.6', ratios['gw-rest/thin'].peak >= 0.6);
  if (pairedMedian['gw-rest/thin']) check(`gateway (REST) / thin proxy, median of ${paired.length} paired rounds`, pairedMedian['gw-rest/thin'].median, '≥ 0.6', pairedMedian['gw-rest/thin'].median >= 0.6);
  if (d1 && g1) check('p50 added latency at c=1 (GraphQL chat), ms', g1.latencyMs.p50 - d1.latencyMs.p50, '≤ 1', g1.latencyMs.p50 - d1.latencyMs.p50 <= 1);
  const r1 = get('gw-rest', 1);
  if (d1 && r1) check('p50 added latency at c=1 (REST), ms', r1.latencyMs.p50 - d1.latencyMs.p50, '≤ 1', r1.latencyMs.p50 - d1.latencyMs.p50 <= 1);
  if (ttftD && ttftG) check('TTFT p50 added at c=1 (chatStream over ws), ms', ttftG.ttftMs.p50 - ttftD.ttftMs.p50, '≤ 2', ttftG.ttftMs.p50 - ttftD.ttftMs.p50 <= 2);
  for (const c of startup?.cases ?? []) {
    const goal = STARTUP_GOALS[c.database];
    check(`${c.label}: ms to /readyz, median`, median(c.readyMs), `< ${goal.readyMs}`, median(c.readyMs) < goal.readyMs);
    check(`${c.label}: idle RSS MB, median`, median(c.idleRssMb), `< ${goal.idleRssMb}`, median(c.idleRssMb) < goal.idleRssMb);
  }
  for (const m of many) check(`retained heap per open chatStream, KB (${m.streams} streams, ${m.label})`, m.heapKbPerOpenSubscription, '< 20', m.heapKbPerOpenSubscription < 20);
  for (const m of many) check(`concurrent chatStreams completed without error (${m.label})`, m.completed - m.errors - m.wrongTokenCount, `= ${m.streams}`, m.completed - m.errors - m.wrongTokenCount === m.streams);
  out.push('');
  out.push('Targets (reported, not asserted)');
  out.push(table(['target', 'value', 'goal', ''], checks.map((c) => [c.target, f(c.value, 2), c.goal, c.pass ? 'met' : 'MISSED'])));
  out.push('');
  out.push(`/v1/chat/completions: ${restStatus}`);
  if (consoleSize) out.push(`console first page: ${consoleSize.files.length} files, ${(consoleSize.rawBytes / 1024).toFixed(1)} KB raw, ${(consoleSize.gzipBytes / 1024).toFixed(1)} KB gzip, ${(consoleSize.brotliBytes / 1024).toFixed(1)} KB brotli (goal: under 300 KB gzip)`);
  out.push(`usage records for the bench key (month to date): ${usageRecords ?? '?'}`);
  out.push(`gateway database: ${DATABASE === 'disk' ? 'embedded PGlite in a fresh DATA_DIR' : DATABASE === 'memory' ? 'embedded PGlite in memory' : DATABASE.replace(/\/\/[^@/]*@/, '//…@')}`);
  out.push(`loadavg at start ${load0.map((x) => x.toFixed(2)).join(' ')}, at end ${load1.map((x) => x.toFixed(2)).join(' ')} on ${cpus().length} CPUs; total ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  if (profile) {
    out.push('');
    out.push(formatSummary(profile));
  }
  console.log(out.join('\n'));

  let commit = '';
  try {
    commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT }).toString().trim();
  } catch {
    /* not a checkout */
  }
  const report = {
    timestamp: new Date().toISOString(),
    commit,
    machine: { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model, memMb: Math.round(totalmem() / 2 ** 20), loadavgStart: load0, loadavgEnd: load1 },
    options: { pairedRounds: PAIRED_ROUNDS, pairedDurationS: PAIRED_DURATION_S, durationS: DURATION_S, warmupS: WARMUP_S, prewarmS: PREWARM_S, gatewayNodeFlags: [...START_NODE_FLAGS, ...GATEWAY_NODE_FLAGS], gatewaySource: GATEWAY_SOURCE, concurrency: CONCURRENCY, sseTokens: SSE_TOKENS, sseConcurrency: SSE_CONCURRENCY, sseDurationMs: SSE_DURATION_MS, mockGapMs: MOCK_GAP_MS, streams: STREAMS, streamTokens: STREAM_TOKENS, streamGapMs: STREAM_GAP_MS, wsConnections: WS_CONNECTIONS, profile: PROFILE, keyLimits: limits },
    restChatCompletions: restStatus,
    consoleFirstPage: consoleSize,
    http: httpRuns,
    httpAllSweeps: allHttpRuns,
    ratios,
    paired: { rounds: paired, ratios: pairedMedian },
    streaming: sseRuns,
    concurrentStreams: many,
    startup,
    processes: procs.map((p) => ({ name: p.name, pid: p.pid, rss: p.rss })),
    database: DATABASE.startsWith('postgres') ? 'postgres' : DATABASE,
    usageRecords,
    targets: checks,
    profile,
    durationS: (Date.now() - t0) / 1000,
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${STAMP}.json`);
  writeFileSync(file, JSON.stringify(report, null, 2));
  writeFileSync(join(RESULTS_DIR, 'latest.json'), JSON.stringify(report, null, 2));
  log(`wrote ${file} and bench/results/latest.json`);
}

interface PairedRound {
  /** each target's best of its concurrencies in this round */
  rps: Record<string, number>;
  byConcurrency: Record<string, Record<number, number>>;
  ratios: Record<string, number>;
}

interface ManyResult {
  model: string;
  label: string;
  streams: number;
  wsConnections: number;
  subscriptionsPerConnection: number;
  tokensPerStream: number;
  gapMs: number;
  outcome: 'done' | 'timeout';
  seconds: number;
  completed: number;
  errors: number;
  wrongTokenCount: number;
  firstError?: string;
  maxStreaming: number;
  maxUpstreamStreams: number;
  ttftMs: Dist;
  ttltMs: Dist;
  rssBaselineMb: number;
  rssAllOpenMb: number;
  allStreamingSeen: boolean;
  rssAllStreamingMb: number;
  rssPeakMb: number;
  kbPerOpenSubscription: number;
  kbPerStreamingSubscription: number;
  /** heapUsed + external after a full GC, before and while all subscriptions are open */
  heapBaselineMb: number;
  heapAllOpenMb: number;
  /** upstream streams open at the mock, and gateway RSS, when the heap snapshot was taken */
  heapUpstreamOpen: number;
  rssAtHeapMb: number;
  heapKbPerOpenSubscription: number;
  chunksDelivered: number;
  chunksPerS: number;
}

/** STREAMS subscriptions at once, spread over WS_CONNECTIONS sockets; gateway RSS sampled while they are open. */
async function manyStreams(gwUrl: string, key: string, gw: Proc, mockUrl: string, model: string, label: string): Promise<ManyResult> {
  const conns = Math.max(1, Math.min(WS_CONNECTIONS, STREAMS));
  const clients = await Promise.all(Array.from({ length: conns }, () => wsClient(gwUrl, key)));
  await fetch(`${mockUrl}/stats/reset`, { method: 'POST' });
  await sleep(500);
  const heapBaselineMb = heapMb(await memOf(gw, true));
  const rssBaselineMb = rssMb(gw.pid);
  let heapAllOpenMb = NaN;
  let heapAsked = false;
  let heapUpstreamOpen = 0;
  let rssAtHeapMb = NaN;
  let chunks = 0;
  // upstream streams open at the mock, polled alongside: the memory snapshot waits until they stop rising
  let upstreamOpen = 0;
  let upstreamOpenSince = 0;
  const pollMock = setInterval(() => {
    void mockStats(mockUrl).then(
      (st) => {
        if (st.streamsOpen !== upstreamOpen) upstreamOpenSince = performance.now();
        upstreamOpen = st.streamsOpen;
      },
      () => {},
    );
  }, 100);
  let first = 0;
  let active = 0;
  let completed = 0;
  let errors = 0;
  let wrong = 0;
  let maxStreaming = 0;
  let rssAllOpenMb = rssBaselineMb;
  let rssAllStreamingMb = NaN;
  let rssPeakMb = rssBaselineMb;
  let firstError: string | undefined;
  const ttft: number[] = [];
  const ttlt: number[] = [];
  const sample = () => {
    // retained heap once every subscription is open and none has finished: when all upstream streams are open,
    // or (a connection pool caps them) when their number has not changed for a while: a second, or ten past 2000
    // streams, whose opening stalls for seconds at a time while the gateway takes a burst of subscribe messages
    const now = performance.now();
    const settleMs = MANY_STREAMS ? 10_000 : 1000;
    const settled = upstreamOpen > 0 && now - started > 2 * settleMs && now - upstreamOpenSince > settleMs;
    if (!heapAsked && completed + errors === 0 && (upstreamOpen >= STREAMS || settled)) {
      heapAsked = true;
      heapUpstreamOpen = upstreamOpen;
      rssAtHeapMb = rssMb(gw.pid);
      void memOf(gw, true).then((m) => {
        if (completed + errors === 0) heapAllOpenMb = heapMb(m);
      });
    }
    const rss = rssMb(gw.pid);
    rssPeakMb = Math.max(rssPeakMb, rss);
    if (completed + errors === 0) {
      rssAllOpenMb = Math.max(rssAllOpenMb, rss);
      if (first === STREAMS) rssAllStreamingMb = Number.isNaN(rssAllStreamingMb) ? rss : Math.max(rssAllStreamingMb, rss);
    }
    maxStreaming = Math.max(maxStreaming, active);
  };
  log(`${STREAMS} chatStream subscriptions over ${conns} websockets, ${STREAM_TOKENS} tokens ${STREAM_GAP_MS} ms apart, ${label}…`);
  const started = performance.now();
  const sampler = setInterval(sample, 100);
  const input = { model, messages: [{ role: 'USER', content: USER_TEXT }], maxTokens: STREAM_TOKENS };
  let deadlineTimer: NodeJS.Timeout | undefined;
  // long enough to open them all (a few ms each on a busy machine) and relay every token twice over
  const deadlineMs = Math.max(180_000, 2 * STREAM_TOKENS * STREAM_GAP_MS + 20 * STREAMS);
  const deadline = new Promise<'timeout'>((r) => (deadlineTimer = setTimeout(() => r('timeout'), deadlineMs)));
  const all = Promise.all(
    Array.from({ length: STREAMS }, (_, i) => {
      let streaming = false;
      return wsStream(clients[i % conns], input, {
        onFirst: () => {
          first++;
          active++;
          streaming = true;
        },
        onChunk: () => chunks++,
      })().then(
        (s) => {
          if (streaming) active--;
          completed++;
          ttft.push(s.ttftMs);
          ttlt.push(s.ttltMs);
          if (s.tokens !== STREAM_TOKENS) wrong++;
        },
        (e: unknown) => {
          if (streaming) active--;
          errors++;
          firstError ??= e instanceof Error ? e.message : String(e);
        },
      );
    }),
  );
  const outcome = await Promise.race([all.then(() => 'done' as const), deadline]);
  clearTimeout(deadlineTimer);
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  clearInterval(pollMock);
  sample();
  const stats = await mockStats(mockUrl);
  await Promise.all(clients.map((c) => c.dispose()));
  gw.rss.peakMb = Math.max(gw.rss.peakMb, rssPeakMb);
  const result: ManyResult = {
    model,
    label,
    streams: STREAMS,
    wsConnections: conns,
    subscriptionsPerConnection: Math.ceil(STREAMS / conns),
    tokensPerStream: STREAM_TOKENS,
    gapMs: STREAM_GAP_MS,
    outcome,
    seconds,
    completed,
    errors,
    wrongTokenCount: wrong,
    firstError,
    maxStreaming,
    maxUpstreamStreams: stats.maxStreamsOpen,
    ttftMs: dist(ttft),
    ttltMs: dist(ttlt),
    rssBaselineMb,
    rssAllOpenMb,
    allStreamingSeen: !Number.isNaN(rssAllStreamingMb),
    rssAllStreamingMb,
    rssPeakMb,
    kbPerOpenSubscription: ((rssAllOpenMb - rssBaselineMb) * 1024) / STREAMS,
    kbPerStreamingSubscription: ((rssAllStreamingMb - rssBaselineMb) * 1024) / STREAMS,
    heapBaselineMb,
    heapAllOpenMb,
    heapUpstreamOpen,
    rssAtHeapMb,
    heapKbPerOpenSubscription: ((heapAllOpenMb - heapBaselineMb) * 1024) / STREAMS,
    chunksDelivered: chunks,
    chunksPerS: chunks / seconds,
  };
  log(`streams: ${completed}/${STREAMS} completed, ${errors} errors in ${seconds.toFixed(1)} s; max ${maxStreaming} streaming at once, mock saw at most ${stats.maxStreamsOpen} open`);
  return result;
}

main().catch((err: unknown) => {
  console.error(err);
  for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  process.exit(1);
});
