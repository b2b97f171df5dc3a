/*
 * The console overview's queries on a month of usage: `npm run bench:overview`. Not a timed test.
 *
 * For each database (embedded PGlite in a fresh DATA_DIR, and PostgreSQL in a fresh `bench_overview` database,
 * dropped afterwards): generates the usage records with one `generate_series` INSERT per million rows, the
 * rollup triggers disabled, then builds the rollups with usage_rollups_rebuild() (the SQL the upgrade backfill
 * runs) and computes the finished hours' percentiles with the job the gateway runs. Then it starts the gateway
 * (the dist/ build under plain node, as `npm start` runs it; bench/gateway-server.mjs) on that database and times,
 * through GraphQL over HTTP, the overview's queries: usageSeries(HOUR, MODEL) over 30 days, usageSummary by MODEL,
 * PROVIDER and API_KEY over 30 days, usageSeries(MINUTE, MODEL) over the last hour. Each query runs --warmup
 * times, then --runs times; the median stands.
 *
 * Records: --records spread evenly over the --days before now; 40 keys, each calling 3 of 12 models (4 providers);
 * 95 % OK, 3 % ERROR, 1 % RATE_LIMITED, 0.5 % CANCELLED, 0.5 % QUOTA_EXCEEDED; latency 200 ms to 11 s
 * (log-uniform), half of the calls streamed with a TTFT of 40 ms to 800 ms; 10 to 1 509 prompt and 5 to 504
 * completion tokens. Every (key, model, status) occurs in most hours, so the hourly rollups hold about 420 rows an
 * hour: the rows a month's overview would otherwise sum are those, not the records.
 *
 * Options:
 *   --records=10000000   --days=30   --runs=7   --warmup=2
 *   --databases=pglite,postgres
 *   --postgres=postgres://postgres@127.0.0.1:5432/postgres   server for the bench_overview database (BENCH_POSTGRES_URL)
 *   --baseline            also time, once, the summary the gateway made before rollups (a scan of the records)
 *   --keep                leave the data in place: the PGlite DATA_DIR (its path is printed) and bench_overview
 *   --reuse=<data dir>    measure a PGlite DATA_DIR a --keep run left, and a bench_overview database left, as they are
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { createDatabase, type Database } from '../src/db/client.js';
import { ensureUsagePartitionsFor } from '../src/db/usage-partitions.js';
import { rowsOf } from '../src/db/rows-of.js';
import { createUsageQueries } from '../src/services/usage-queries.js';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const argv = process.argv.slice(2);
const opt = (name: string, def: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? def;
const flag = (name: string) => argv.includes(`--${name}`);

const RECORDS = Number(opt('records', '10000000'));
const DAYS = Number(opt('days', '30'));
const DAY_MS = 86_400_000;
const RUNS = Number(opt('runs', '7'));
const WARMUP = Number(opt('warmup', '2'));
const DATABASES = opt('databases', 'pglite,postgres').split(',').filter(Boolean);
const POSTGRES = opt('postgres', process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
const CHUNK = 1_000_000;
const ADMIN_KEY = `gw_bench_admin_${Math.random().toString(36).slice(2)}_0123456789`;
const HOUR = 3_600_000;

const log = (msg: string) => process.stderr.write(`[overview ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

/** Records g in [lo, hi] of RECORDS, evenly over [start, start + DAYS), all fields derived from g. */
function insertChunk(lo: number, hi: number, start: Date) {
  const stepUs = Math.floor((DAYS * 24 * HOUR * 1000) / RECORDS);
  return sql`insert into usage_records (id, created_at, api_key_id, model, provider, upstream_model, prompt_tokens,
      completion_tokens, cost_usd, latency_ms, ttft_ms, status, streamed, attempts)
    select ('10000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid,
      ${start.toISOString()}::timestamptz + (g * ${stepUs}::bigint) * interval '1 microsecond',
      ('00000000-0000-4000-8000-' || lpad((g % 40)::text, 12, '0'))::uuid,
      'model-' || m, 'provider-' || (m % 4), 'upstream-' || m,
      10 + h1 % 1500, 5 + h2 % 500, round(((10 + h1 % 1500) * 1.5 + (5 + h2 % 500) * 2.5) / 1e6, 10),
      (200 * exp((h3 % 10000) / 2500.0))::int,
      case when h4 % 2 = 0 then (40 * exp((h4 % 10000) / 3338.0))::int end,
      case when h5 % 1000 < 950 then 'OK' when h5 % 1000 < 980 then 'ERROR' when h5 % 1000 < 990 then 'RATE_LIMITED'
           when h5 % 1000 < 995 then 'CANCELLED' else 'QUOTA_EXCEEDED' end,
      h4 % 2 = 0, 1
    from (select g, ((g % 40) * 5 + (g / 40) % 3) % 12 as m,
            (g * 2654435761) % 4294967296 as h1, (g * 2246822519) % 4294967291 as h2, (g * 3266489917) % 4294967279 as h3,
            (g * 668265263) % 4294967231 as h4, (g * 374761393) % 4294967197 as h5
          from generate_series(${lo}::bigint, ${hi}::bigint) g) s`;
}

/** Fills a migrated database with the records and their rollups, as an upgraded gateway would have them. */
async function fill(database: Database, end: Date): Promise<Record<string, number>> {
  const { db } = database;
  const start = new Date(end.getTime() - DAYS * 24 * HOUR);
  const t0 = performance.now();
  // every day's partition first (there is no default one to take the records), as the gateway's writer makes them
  const days: Date[] = [];
  for (let t = start.getTime(); t <= end.getTime() + DAY_MS; t += DAY_MS) days.push(new Date(t));
  await ensureUsagePartitionsFor(db, days);
  // bulk load: the rollups are built once afterwards, with the backfill's own SQL
  await db.execute(sql`alter table usage_records disable trigger user`);
  for (let lo = 1; lo <= RECORDS; lo += CHUNK) {
    const hi = Math.min(RECORDS, lo + CHUNK - 1);
    await db.execute(insertChunk(lo, hi, start));
    log(`  ${hi.toLocaleString('en')} records (${Math.round((performance.now() - t0) / 1000)} s)`);
  }
  await db.execute(sql`alter table usage_records enable trigger user`);
  const t1 = performance.now();
  await db.execute(sql`select usage_rollups_rebuild()`);
  const t2 = performance.now();
  const queries = createUsageQueries(db);
  while ((await queries.sealQuantiles(1000)) > 0);
  const t3 = performance.now();
  await db.execute(sql`analyze`);
  const [rows] = rowsOf<{ rollup_rows: number; group_rollup_rows: number }>(
    await db.execute(sql`select (select count(*) from usage_rollups)::int as rollup_rows,
      (select count(*) from usage_group_rollups)::int as group_rollup_rows`),
  );
  return {
    insertS: Math.round((t1 - t0) / 100) / 10,
    rebuildS: Math.round((t2 - t1) / 100) / 10,
    percentilesS: Math.round((t3 - t2) / 100) / 10,
    rollupRows: Number(rows!.rollup_rows),
    groupRollupRows: Number(rows!.group_rollup_rows),
  };
}

/** The summary as the gateway computed it before the rollups: one scan of the records, exact percentiles. */
async function baseline(database: Database, from: Date, to: Date): Promise<number> {
  const t0 = performance.now();
  await database.db.execute(sql`select model, count(*), count(*) filter (where status <> 'OK'), sum(prompt_tokens),
      sum(completion_tokens), sum(cost_usd), percentile_cont(0.5) within group (order by latency_ms),
      percentile_cont(0.95) within group (order by latency_ms)
    from usage_records where created_at >= ${from.toISOString()}::timestamptz and created_at < ${to.toISOString()}::timestamptz
    group by model order by model`);
  return performance.now() - t0;
}

const FIELDS = 'requests errors promptTokens completionTokens costUsd p50LatencyMs p95LatencyMs p50TtftMs p95TtftMs';
/** Each query's range ends where the records end (now, unless --reuse measures older data). */
const QUERIES: Array<{ name: string; query: string; range: (end: number) => { from: string; to: string } }> = [
  {
    name: 'usageSeries(HOUR, groupBy: MODEL), 30 days',
    query: `query($f: UsageFilter) { usageSeries(interval: HOUR, groupBy: MODEL, filter: $f) { key points { at ${FIELDS} } } }`,
    range: (now) => ({ from: new Date(now - DAYS * 24 * HOUR).toISOString(), to: new Date(now).toISOString() }),
  },
  ...(['MODEL', 'PROVIDER', 'API_KEY'] as const).map((g) => ({
    name: `usageSummary(groupBy: ${g}), 30 days`,
    query: `query($f: UsageFilter) { usageSummary(groupBy: ${g}, filter: $f) { key ${FIELDS} } }`,
    range: (now: number) => ({ from: new Date(now - DAYS * 24 * HOUR).toISOString(), to: new Date(now).toISOString() }),
  })),
  {
    name: 'usageSeries(MINUTE, groupBy: MODEL), last hour',
    query: `query($f: UsageFilter) { usageSeries(interval: MINUTE, groupBy: MODEL, filter: $f) { key points { at ${FIELDS} } } }`,
    range: (now) => ({ from: new Date(now - HOUR).toISOString(), to: new Date(now).toISOString() }),
  },
];

async function startGateway(env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--max-semi-space-size=64', '--no-allocation-site-pretenuring', 'bench/gateway-server.mjs'], {
    cwd: ROOT,
    env: { ...process.env, GATEWAY_ADMIN_KEY: ADMIN_KEY, GATEWAY_SECRET: 'b'.repeat(64), LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((res, rej) => {
    child.once('exit', (code) => rej(new Error(`gateway exited (${code})`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const j = JSON.parse(line) as { ready?: boolean; url?: string };
        if (j.ready && j.url) res(j.url);
      } catch {
        /* not our line */
      }
    });
  });
  return { child, url };
}

async function timeQuery(url: string, query: string, variables: unknown): Promise<{ ms: number; bytes: number }> {
  const t0 = performance.now();
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  const ms = performance.now() - t0;
  const body = JSON.parse(text) as { errors?: unknown };
  if (res.status !== 200 || body.errors) throw new Error(`query failed (${res.status}): ${text.slice(0, 500)}`);
  return { ms, bytes: text.length };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function measure(url: string, end: number) {
  const out: Array<{ name: string; medianMs: number; minMs: number; maxMs: number; bytes: number; loadAverage: number }> = [];
  for (const q of QUERIES) {
    for (let i = 0; i < WARMUP; i++) await timeQuery(url, q.query, { f: q.range(end) });
    const runs: number[] = [];
    let bytes = 0;
    for (let i = 0; i < RUNS; i++) {
      const r = await timeQuery(url, q.query, { f: q.range(end) });
      runs.push(r.ms);
      bytes = r.bytes;
    }
    // this machine is shared: the 1-minute load average says how busy it was meanwhile
    const loadAverage = Math.round(loadavg()[0]! * 10) / 10;
    out.push({ name: q.name, medianMs: Math.round(median(runs)), minMs: Math.round(Math.min(...runs)), maxMs: Math.round(Math.max(...runs)), bytes, loadAverage });
    log(`  ${q.name}: median ${Math.round(median(runs))} ms (${runs.map((x) => Math.round(x)).join(', ')}), ${bytes} bytes, load ${loadAverage}`);
  }
  return out;
}

/** Just after the newest record. */
async function dataEnd(database: Database): Promise<number> {
  const [row] = rowsOf<{ ms: number }>(await database.db.execute(sql`select (extract(epoch from max(created_at)) * 1000)::float8 + 1 as ms from usage_records`));
  return Math.ceil(Number(row!.ms));
}

async function stopGateway(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

const REUSE = opt('reuse', '');
const KEEP = flag('keep') || Boolean(REUSE);

async function benchPglite() {
  const dataDir = REUSE || mkdtempSync(join(tmpdir(), 'gw-overview-'));
  log(`PGlite in ${dataDir}: ${RECORDS.toLocaleString('en')} records over ${DAYS} days`);
  try {
    const database = await createDatabase({ url: undefined, dataDir });
    await database.migrate();
    const end = new Date();
    const setup = REUSE ? undefined : await fill(database, end);
    log(`  setup ${JSON.stringify(setup)}`);
    const until = await dataEnd(database);
    const scanMs = flag('baseline') ? Math.round(await baseline(database, new Date(until - DAYS * 24 * HOUR), new Date(until))) : undefined;
    if (scanMs !== undefined) log(`  before rollups: the summary's scan took ${scanMs} ms`);
    await database.close();
    const gw = await startGateway({ BENCH_DATABASE: 'embedded', DATA_DIR: dataDir });
    try {
      return { database: 'PGlite (embedded, DATA_DIR on disk)', setup, scanMs, queries: await measure(gw.url, until) };
    } finally {
      await stopGateway(gw.child);
    }
  } finally {
    if (KEEP) log(`  kept ${dataDir}`);
    else rmSync(dataDir, { recursive: true, force: true });
  }
}

async function benchPostgres() {
  const admin = postgres(POSTGRES, { max: 1, onnotice: () => {} });
  const u = new URL(POSTGRES);
  u.pathname = '/bench_overview';
  log(`PostgreSQL ${u.host}/bench_overview: ${RECORDS.toLocaleString('en')} records over ${DAYS} days`);
  if (!REUSE) {
    await admin.unsafe('drop database if exists bench_overview with (force)');
    await admin.unsafe('create database bench_overview');
  }
  try {
    const database = await createDatabase({ url: u.toString(), dataDir: '' });
    await database.migrate();
    const end = new Date();
    const setup = REUSE ? undefined : await fill(database, end);
    log(`  setup ${JSON.stringify(setup)}`);
    const until = await dataEnd(database);
    const scanMs = flag('baseline') ? Math.round(await baseline(database, new Date(until - DAYS * 24 * HOUR), new Date(until))) : undefined;
    if (scanMs !== undefined) log(`  before rollups: the summary's scan took ${scanMs} ms`);
    await database.close();
    const gw = await startGateway({ DATABASE_URL: u.toString() });
    try {
      return { database: 'PostgreSQL (postgres.js)', setup, scanMs, queries: await measure(gw.url, until) };
    } finally {
      await stopGateway(gw.child);
    }
  } finally {
    if (KEEP) log('  kept bench_overview');
    else await admin.unsafe('drop database if exists bench_overview with (force)');
    await admin.end({ timeout: 5 });
  }
}

log('building dist/ (npm run build)');
execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: 'inherit' });
const results = [];
for (const d of DATABASES) results.push(d === 'postgres' ? await benchPostgres() : await benchPglite());
process.stdout.write(`${JSON.stringify({ records: RECORDS, days: DAYS, runs: RUNS, results }, null, 2)}\n`);
