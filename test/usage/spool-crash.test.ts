/*
 * The usage spool with real gateway processes on real PostgreSQL: one SIGKILLed under a steady load loses no usage
 * record of a call that got an answer, once a new process starts on the same spool folder; one whose database is
 * unreachable past USAGE_BUFFER_MAX records writes every one exactly once when the database is back.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTcpProxy, type TcpProxy } from '../kit/tcp-proxy.js';
import { freshDatabase, PG_URL, type FreshDatabase } from './usage-kit.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const ADMIN = 'gw_spool_crash_admin_key_0123456789abcdef';
const CHAT = 'mutation($input: ChatInput!) { chat(input: $input) { id } }';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Gateway {
  child: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<void>;
}

async function startGateway(env: Record<string, string>): Promise<Gateway> {
  const full: NodeJS.ProcessEnv = { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', GATEWAY_ADMIN_KEY: ADMIN, GATEWAY_SECRET: 'spool-crash-test-secret-0123456789', ...env };
  for (const k of ['REDIS_URL', 'OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'GEMINI_API_KEY', 'OTEL_EXPORTER_OTLP_ENDPOINT']) delete full[k];
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: ROOT, env: full, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const until = Date.now() + 60_000;
  while (!/on (http:\/\/\S+)\/graphql/.test(out)) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`gateway exited: ${out}`);
    if (Date.now() > until) throw new Error(`gateway did not start: ${out}`);
    await sleep(50);
  }
  return { child, url: /on (http:\/\/\S+)\/graphql/.exec(out)![1], output: () => out, exited };
}

async function chat(url: string, text: string): Promise<string | undefined> {
  try {
    const res = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN}` },
      body: JSON.stringify({ query: CHAT, variables: { input: { model: 'echo', messages: [{ role: 'USER', content: text }] } } }),
    });
    const body = (await res.json()) as { data?: { chat?: { id: string } } };
    return body.data?.chat?.id;
  } catch {
    return undefined;
  }
}

/** `workers` clients calling one after another until `stop()` says so; the ids of the answered calls. */
function load(url: string, workers: number) {
  const answered: string[] = [];
  let failed = 0;
  let stopped = false;
  const done = Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      for (let i = 0; !stopped; i++) {
        const id = await chat(url, `worker ${w} call ${i}`);
        if (id) answered.push(id);
        else failed++;
      }
    }),
  );
  return {
    answered,
    failed: () => failed,
    async stop() {
      stopped = true;
      await done;
    },
  };
}

const describeIf = PG_URL ? describe : describe.skip;
if (!PG_URL) console.log('spool-crash.test.ts skipped: TEST_DATABASE_URL is not set');

describeIf('usage spool, real processes on PostgreSQL', () => {
  let db: FreshDatabase;
  const dirs: string[] = [];
  const children: ChildProcess[] = [];
  const run = async (env: Record<string, string>) => {
    const gw = await startGateway(env);
    children.push(gw.child);
    return gw;
  };
  const recordsPerId = async (ids: string[]) =>
    new Map((await db.sql<Array<{ id: string; n: number }>>`select id::text, count(*)::int as n from usage_records where id = any(${ids}::uuid[]) group by id`).map((r) => [r.id, r.n]));

  beforeAll(async () => {
    db = await freshDatabase(PG_URL!);
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await db?.drop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  // two process starts (tsx transpiles src/ on each) on a loaded 2-core machine
  it('SIGKILL under a steady load: every answered call has exactly one usage record after a new process starts on the same spool', async () => {
    const spoolDir = mkdtempSync(join(tmpdir(), 'gw-spool-crash-'));
    dirs.push(spoolDir);
    // a long flush interval: without the spool the records of the last seconds die with the process
    const env = { DATABASE_URL: db.url, USAGE_SPOOL_DIR: spoolDir, USAGE_FLUSH_MS: '3000' };
    const first = await run(env);
    const traffic = load(first.url, 8);
    // killed mid-load once enough calls were answered (a loaded machine answers slower)
    const until0 = Date.now() + 30_000;
    while (traffic.answered.length < 60 && Date.now() < until0) await sleep(20);
    first.child.kill('SIGKILL');
    await first.exited;
    await traffic.stop();
    const answered = traffic.answered;
    expect(answered.length).toBeGreaterThanOrEqual(60);
    // what the killed process had written itself: less than was answered, or the spool proved nothing
    const before = await recordsPerId(answered);
    expect(before.size).toBeLessThan(answered.length);
    expect(readdirSync(spoolDir).filter((n) => n.endsWith('.jsonl')).length).toBeGreaterThan(0);

    const second = await run(env);
    const until = Date.now() + 20_000;
    let after = await recordsPerId(answered);
    while (after.size < answered.length && Date.now() < until) {
      await sleep(200);
      after = await recordsPerId(answered);
    }
    expect(answered.filter((id) => !after.has(id)), 'answered calls without a usage record').toEqual([]);
    expect([...after.values()].every((n) => n === 1)).toBe(true);
    expect(second.output()).toMatch(/usage spool: segment replayed/);
    // the spool's size is on /metrics (read when scraped)
    const metrics = await (await fetch(`${second.url}/metrics`)).text();
    expect(metrics).toMatch(/^gateway_usage_spool_segments \d+$/m);
    expect(metrics).toMatch(/^gateway_usage_spool_bytes \d+$/m);

    second.child.kill('SIGTERM');
    await second.exited;
    // a graceful stop with everything written leaves no segment behind
    expect(readdirSync(spoolDir).filter((n) => n.endsWith('.jsonl'))).toEqual([]);
  }, 120_000);

  it('database unreachable past USAGE_BUFFER_MAX records: every answered call is written exactly once after it returns', async () => {
    const spoolDir = mkdtempSync(join(tmpdir(), 'gw-spool-outage-'));
    dirs.push(spoolDir);
    const pg = new URL(db.url);
    const proxy: TcpProxy = await startTcpProxy({ host: pg.hostname, port: Number(pg.port || 5432) });
    try {
      const via = new URL(db.url);
      via.port = String(proxy.port);
      const gw = await run({ DATABASE_URL: via.toString(), USAGE_SPOOL_DIR: spoolDir, USAGE_BUFFER_MAX: '100', USAGE_FLUSH_MS: '20', KEY_CACHE_TTL_MS: '5000' });
      // the key and model are looked up (and cached) before the outage; the process is warmed up so that the
      // key cache's 5 s are enough to pass the buffer bound
      const warm = load(gw.url, 8);
      while (warm.answered.length < 150) await sleep(20);
      await warm.stop();
      expect(await chat(gw.url, 'warm up')).toBeTruthy();
      await proxy.down();
      const traffic = load(gw.url, 8);
      // the key cache holds for 5 s: the calls are answered while the database is away
      const until = Date.now() + 4000;
      while (traffic.answered.length < 400 && Date.now() < until) await sleep(50);
      await traffic.stop();
      const answered = traffic.answered;
      expect(answered.length, gw.output().slice(-2000)).toBeGreaterThan(120);
      expect(gw.output()).toMatch(/usage buffer full: the oldest records wait in the spool only/);
      expect((await recordsPerId(answered)).size).toBe(0);
      // the warm-up's records are written by then too
      const all = warm.answered.concat(answered);

      await proxy.up();
      const deadline = Date.now() + 20_000;
      let rows = await recordsPerId(all);
      while (rows.size < all.length && Date.now() < deadline) {
        await sleep(200);
        rows = await recordsPerId(all);
      }
      expect(all.filter((id) => !rows.has(id)), 'answered calls without a usage record').toEqual([]);
      expect([...rows.values()].every((n) => n === 1)).toBe(true);
      expect(gw.output()).not.toMatch(/usage buffer full: oldest records dropped/);
      gw.child.kill('SIGTERM');
      await gw.exited;
    } finally {
      await proxy.close();
    }
  }, 120_000);
});
