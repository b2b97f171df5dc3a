/*
 * npm run bench:burst [-- options]
 *
 * A burst of parallel `chat` calls (each on its own connection, all sent at once) against gateway instances
 * sharing Redis, with a key limited to --limit requests per minute, as issue 20 found it: what the burst does to
 * each instance's event loop (prom-client's gateway_process_nodejs_eventloop_lag_max_seconds, reset by a scrape
 * right before the burst and read right after), how many calls were admitted (exactly --limit while Redis
 * answers), and whether an instance wrongly declared Redis down.
 *
 * Options:
 *   --concurrency=4000   calls per burst, split evenly over the instances
 *   --rounds=3           bursts, each with a fresh key
 *   --limit=50           the key's requestsPerMinute
 *   --instances=2        gateway processes (more than one needs a PostgreSQL server: BENCH_DATABASE_URL, or
 *                        --database=postgres://…; a fresh database is created on it and dropped at the end)
 *   --redis=redis://127.0.0.1:6379 (or BENCH_REDIS_URL)
 *   --profile            the gateways run with --cpu-prof (bench/results/prof/burst-<time>/)
 *
 * The gateways are the dist/ build under the flags of `npm start` (bench/gateway-server.mjs), LOG_LEVEL=warn.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { Agent, request } from 'undici';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const argv = process.argv.slice(2);
const opt = (name: string, def: string) => argv.find((x) => x.startsWith(`--${name}=`))?.slice(name.length + 3) ?? def;
const CONCURRENCY = Number(opt('concurrency', '4000'));
const ROUNDS = Number(opt('rounds', '3'));
const LIMIT = Number(opt('limit', '50'));
const DATABASE = opt('database', process.env.BENCH_DATABASE_URL ?? '');
const INSTANCES = Number(opt('instances', DATABASE ? '2' : '1'));
const REDIS = opt('redis', process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379');
const PROFILE = argv.includes('--profile');
const ADMIN_KEY = `gw_bench_admin_${randomBytes(8).toString('hex')}`;
const log = (msg: string) => process.stderr.write(`[burst ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

if (INSTANCES > 1 && !DATABASE.startsWith('postgres')) throw new Error('--instances > 1 needs a PostgreSQL server (--database=postgres://… or BENCH_DATABASE_URL)');

const START_NODE_FLAGS = (() => {
  const start = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
  return (/\bnode((?: --\S+)*) dist\/main\.js/.exec(start)?.[1] ?? '').split(' ').filter(Boolean);
})();

interface Gateway {
  child: ChildProcess;
  url: string;
  /** every line it printed (pino JSON at warn and above) */
  lines: string[];
}

async function startGateway(env: Record<string, string>, profDir?: string): Promise<Gateway> {
  const flags = [...START_NODE_FLAGS, ...(profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [])];
  const child = spawn(process.execPath, [...flags, 'bench/gateway-server.mjs'], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  child.stderr!.on('data', (d: Buffer) => lines.push(String(d)));
  const url = await new Promise<string>((res, rej) => {
    child.once('exit', (code) => rej(new Error(`gateway exited (${code}):\n${lines.join('').slice(-2000)}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      try {
        const j = JSON.parse(line) as { ready?: boolean; url?: string };
        if (j.ready && j.url) res(j.url);
      } catch {
        /* a log line that is not JSON */
      }
    });
  });
  return { child, url, lines };
}

async function stopGateway(g: Gateway): Promise<void> {
  if (g.child.exitCode !== null) return;
  const done = new Promise<void>((r) => g.child.once('exit', () => r()));
  g.child.kill('SIGTERM');
  const t = setTimeout(() => g.child.kill('SIGKILL'), 15_000);
  await done;
  clearTimeout(t);
}

async function gql<T>(url: string, key: string, query: string, variables?: Record<string, unknown>): Promise<T> {
  const r = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  const j = (await r.json()) as { data?: T; errors?: unknown[] };
  if (!j.data || j.errors?.length) throw new Error(`GraphQL failed: ${JSON.stringify(j.errors ?? j).slice(0, 500)}`);
  return j.data;
}

/** The event loop's worst delay since the previous scrape (prom-client resets its histogram on every scrape). */
async function lagMaxSeconds(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = /^gateway_process_nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(text);
  return m ? Number(m[1]) : NaN;
}

const CHAT = 'mutation($input: ChatInput!) { chat(input: $input) { message { content } } }';

async function main(): Promise<void> {
  log('npm run build');
  execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });

  let dropDb = async () => {};
  const env: Record<string, string> = {
    GATEWAY_ADMIN_KEY: ADMIN_KEY,
    GATEWAY_SECRET: 'bench-secret-bench-secret-0123456789',
    REDIS_URL: REDIS,
    LOG_LEVEL: 'warn',
  };
  if (DATABASE.startsWith('postgres')) {
    const name = `gw_burst_${randomBytes(5).toString('hex')}`;
    const admin = postgres(DATABASE, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database "${name}"`);
    const u = new URL(DATABASE);
    u.pathname = `/${name}`;
    env.DATABASE_URL = u.toString();
    dropDb = async () => {
      await admin.unsafe(`drop database if exists "${name}" with (force)`);
      await admin.end({ timeout: 5 });
    };
  } else {
    env.DATABASE_URL = 'memory://';
  }

  const profDir = PROFILE ? join(ROOT, 'bench/results/prof', `burst-${new Date().toISOString().replace(/[:.]/g, '-')}`) : undefined;
  if (profDir) mkdirSync(profDir, { recursive: true });
  const gateways: Gateway[] = [];
  // one after the other: the first applies the migrations
  for (let i = 0; i < INSTANCES; i++) gateways.push(await startGateway(env, profDir));
  log(`${INSTANCES} gateway(s): ${gateways.map((g) => g.url).join(', ')}; Redis ${REDIS}`);

  // every call on a connection of its own, as many independent clients would send them
  const agent = new Agent({ connections: null, pipelining: 1, connectTimeout: 60_000, headersTimeout: 120_000, bodyTimeout: 120_000 });
  const results: Array<{ round: number; admitted: number; refused: number; failed: number; lagMaxS: number[]; redisDownLogs: number; ms: number }> = [];
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      const { createApiKey } = await gql<{ createApiKey: { secret: string } }>(gateways[0].url, ADMIN_KEY, 'mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret } }', {
        i: { name: `burst ${round}`, scopes: ['INVOKE'], limits: { requestsPerMinute: LIMIT } },
      });
      const body = JSON.stringify({ query: CHAT, variables: { input: { model: 'echo', messages: [{ role: 'USER', content: 'hello burst' }] } } });
      const headers = { 'content-type': 'application/json', authorization: `Bearer ${createApiKey.secret}` };
      const downBefore = gateways.map((g) => g.lines.filter((l) => l.includes('Redis unreachable')).length);
      await Promise.all(gateways.map((g) => lagMaxSeconds(g.url)));
      const started = performance.now();
      const outcomes = await Promise.all(
        Array.from({ length: CONCURRENCY }, async (_, i) => {
          const g = gateways[i % gateways.length];
          try {
            const r = await request(`${g.url}/graphql`, { method: 'POST', headers, body, dispatcher: agent });
            const j = (await r.body.json()) as { data?: unknown; errors?: Array<{ extensions?: { code?: string } }> };
            return j.data ? 'OK' : (j.errors?.[0]?.extensions?.code ?? `HTTP ${r.statusCode}`);
          } catch (err) {
            return (err as Error).message;
          }
        }),
      );
      const ms = performance.now() - started;
      const lagMaxS = await Promise.all(gateways.map((g) => lagMaxSeconds(g.url)));
      const count = (what: string) => outcomes.filter((o) => o === what).length;
      const admitted = count('OK');
      const refused = count('RATE_LIMITED');
      const redisDownLogs = gateways.reduce((s, g, i) => s + g.lines.filter((l) => l.includes('Redis unreachable')).length - downBefore[i], 0);
      results.push({ round, admitted, refused, failed: CONCURRENCY - admitted - refused, lagMaxS, redisDownLogs, ms });
      const other = [...new Set(outcomes.filter((o) => o !== 'OK' && o !== 'RATE_LIMITED'))].slice(0, 3);
      log(
        `round ${round}: ${admitted} admitted (limit ${LIMIT}), ${refused} refused, ${CONCURRENCY - admitted - refused} failed${other.length ? ` (${other.join('; ')})` : ''}; ` +
          `event-loop lag max ${lagMaxS.map((s) => `${(s * 1000).toFixed(0)} ms`).join(' / ')}; "Redis unreachable" logged ${redisDownLogs}×; burst took ${ms.toFixed(0)} ms`,
      );
      // Redis back to shared counters before the next round (the probe runs every 500 ms)
      await new Promise((r) => setTimeout(r, 1500));
    }
  } finally {
    await agent.close();
    await Promise.all(gateways.map(stopGateway));
    await dropDb();
  }
  const worst = Math.max(...results.flatMap((r) => r.lagMaxS));
  const exact = results.filter((r) => r.admitted === LIMIT).length;
  process.stdout.write(
    `${JSON.stringify({ concurrency: CONCURRENCY, instances: INSTANCES, limit: LIMIT, rounds: results, worstLagMaxMs: Math.round(worst * 1000), roundsAdmittingExactlyLimit: exact })}\n`,
  );
  if (profDir) log(`profiles in ${profDir}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
