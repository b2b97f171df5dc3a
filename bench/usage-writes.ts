/*
 * What the rollup triggers cost the usage writer: `npx tsx bench/usage-writes.ts`. Writes batches of usage records
 * through the gateway's own writer (COPY on embedded PGlite, one INSERT … ON CONFLICT DO NOTHING on PostgreSQL)
 * into two databases, one with the rollup triggers and one with them disabled, alternating batch by batch, and
 * prints the median time of a batch each way. Two kinds of traffic: one key calling 3 models (what `npm run bench` sends), and 40 keys each
 * calling 3 of 12 models with every status (what makes the most rollup rows per batch).
 *
 * Options: --batches=60 (per way and traffic, after 10 of warm-up)  --batch=500  --databases=pglite,postgres
 *          --postgres=postgres://postgres@127.0.0.1:5432/postgres (bench_usage_writes_on/_off are made and dropped)
 */
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import pino from 'pino';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { createDatabase, type Database } from '../src/db/client.js';
import { createUsageWriter, type UsageEvent, type UsageStatus } from '../src/gateway/usage-writer.js';

const argv = process.argv.slice(2);
const opt = (name: string, def: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? def;
const BATCHES = Number(opt('batches', '60'));
const BATCH = Number(opt('batch', '500'));
const WARMUP = 10;
const DATABASES = opt('databases', 'pglite,postgres').split(',').filter(Boolean);
const POSTGRES = opt('postgres', process.env.BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
const log = (msg: string) => process.stderr.write(`[usage-writes] ${msg}\n`);

const STATUSES: UsageStatus[] = ['OK', 'ERROR', 'RATE_LIMITED', 'CANCELLED', 'QUOTA_EXCEEDED'];
const keyIds = Array.from({ length: 40 }, (_, k) => `00000000-0000-4000-8000-${String(k).padStart(12, '0')}`);

/** One batch of events of now: `keys` keys, each calling 3 models; 95 % OK unless `statuses`. */
function batch(keys: number, statuses: boolean): UsageEvent[] {
  return Array.from({ length: BATCH }, () => {
    const k = Math.floor(Math.random() * keys);
    const m = (k * 5 + Math.floor(Math.random() * 3)) % 12;
    const r = Math.random();
    return {
      id: randomUUID(),
      createdAt: new Date(),
      apiKeyId: keyIds[k]!,
      model: `model-${m}`,
      provider: `provider-${m % 4}`,
      upstreamModel: `upstream-${m}`,
      promptTokens: 10 + Math.floor(Math.random() * 1500),
      completionTokens: 5 + Math.floor(Math.random() * 500),
      cachedReadTokens: 0,
      cacheWriteTokens: 0,
      reasoningTokens: 0,
      costUsd: 0.0012345678,
      latencyMs: Math.round(200 * Math.exp(Math.random() * 4)),
      ttftMs: r < 0.5 ? Math.round(40 * Math.exp(Math.random() * 3)) : null,
      status: statuses && r > 0.95 ? STATUSES[1 + Math.floor(Math.random() * 4)]! : 'OK',
      errorCode: null,
      streamed: r < 0.5,
      attempts: 1,
      usageExact: true,
      metadata: null,
      cacheHit: null,
      costSavedUsd: 0,
      cacheSimilarity: null,
      guardrails: null,
      teamId: null,
      endUser: null,
    };
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** @param databases the same schema twice: with the rollup triggers (on), and with them disabled (off) */
async function measure(databases: { on: Database; off: Database }) {
  await databases.off.db.execute(sql`alter table usage_records disable trigger user`);
  const writers = {
    on: createUsageWriter(databases.on.db, { flushMs: 60_000, bufferMax: 1_000_000, batchSize: BATCH, log: pino({ level: 'warn' }), copyRows: databases.on.copyRows?.bind(databases.on) }),
    off: createUsageWriter(databases.off.db, { flushMs: 60_000, bufferMax: 1_000_000, batchSize: BATCH, log: pino({ level: 'warn' }), copyRows: databases.off.copyRows?.bind(databases.off) }),
  };
  const results: Record<string, number> = {};
  for (const [name, keys, statuses] of [['1 key, 3 models, OK', 1, false], ['40 keys, 3 of 12 models each, all statuses', 40, true]] as const) {
    const times = { on: [] as number[], off: [] as number[] };
    for (let i = 0; i < WARMUP + BATCHES; i++) {
      for (const way of i % 2 ? (['on', 'off'] as const) : (['off', 'on'] as const)) {
        for (const e of batch(keys, statuses)) writers[way].record(e);
        const t0 = performance.now();
        await writers[way].flush();
        if (i >= WARMUP) times[way].push(performance.now() - t0);
      }
    }
    results[`${name}: ms per ${BATCH} records, rollups on`] = Math.round(median(times.on) * 10) / 10;
    results[`${name}: ms per ${BATCH} records, rollups off`] = Math.round(median(times.off) * 10) / 10;
    log(`${name}: on ${median(times.on).toFixed(1)} ms, off ${median(times.off).toFixed(1)} ms (load ${loadavg()[0]!.toFixed(1)})`);
  }
  await writers.on.stop();
  await writers.off.stop();
  return results;
}

async function pgDatabase(admin: postgres.Sql, name: string): Promise<Database> {
  await admin.unsafe(`drop database if exists ${name} with (force)`);
  await admin.unsafe(`create database ${name}`);
  const u = new URL(POSTGRES);
  u.pathname = `/${name}`;
  const database = await createDatabase({ url: u.toString(), dataDir: '' });
  await database.migrate();
  return database;
}

async function pgliteDatabase(): Promise<Database> {
  const database = await createDatabase({ url: 'memory://', dataDir: '' });
  await database.migrate();
  return database;
}

const out: Record<string, unknown> = {};
for (const d of DATABASES) {
  if (d === 'postgres') {
    const admin = postgres(POSTGRES, { max: 1, onnotice: () => {} });
    const names = ['bench_usage_writes_on', 'bench_usage_writes_off'];
    try {
      const [on, off] = [await pgDatabase(admin, names[0]!), await pgDatabase(admin, names[1]!)];
      out.postgres = await measure({ on, off });
      await on.close();
      await off.close();
    } finally {
      for (const name of names) await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end({ timeout: 5 });
    }
  } else {
    const [on, off] = [await pgliteDatabase(), await pgliteDatabase()];
    out.pglite = await measure({ on, off });
    await on.close();
    await off.close();
  }
}
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
