/*
 * What the rollup triggers cost the usage writer: `npx tsx bench/usage-writes.ts`. Writes batches of usage records
 * through the gateway's own writer (COPY on embedded PGlite, one INSERT … ON CONFLICT DO NOTHING on PostgreSQL),
 * alternating batch by batch between the rollup triggers enabled and disabled, and prints the median time of a
 * batch each way. Two kinds of traffic: one key calling 3 models (what `npm run bench` sends), and 40 keys each
 * calling 3 of 12 models with every status (what makes the most rollup rows per batch).
 *
 * Options: --batches=60 (per way and traffic, after 10 of warm-up)  --batch=500  --databases=pglite,postgres
 *          --postgres=postgres://postgres@127.0.0.1:5432/postgres (a bench_usage_writes database is made and dropped)
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
      costUsd: 0.0012345678,
      latencyMs: Math.round(200 * Math.exp(Math.random() * 4)),
      ttftMs: r < 0.5 ? Math.round(40 * Math.exp(Math.random() * 3)) : null,
      status: statuses && r > 0.95 ? STATUSES[1 + Math.floor(Math.random() * 4)]! : 'OK',
      errorCode: null,
      streamed: r < 0.5,
      attempts: 1,
      usageExact: true,
      metadata: null,
    };
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function measure(database: Database) {
  const writer = createUsageWriter(database.db, { flushMs: 60_000, bufferMax: 1_000_000, batchSize: BATCH, log: pino({ level: 'warn' }), copyRows: database.copyRows?.bind(database) });
  const results: Record<string, number> = {};
  for (const [name, keys, statuses] of [['1 key, 3 models, OK', 1, false], ['40 keys, 3 of 12 models each, all statuses', 40, true]] as const) {
    const times = { on: [] as number[], off: [] as number[] };
    for (let i = 0; i < WARMUP + BATCHES; i++) {
      for (const way of ['on', 'off'] as const) {
        await database.db.execute(way === 'on' ? sql`alter table usage_records enable trigger user` : sql`alter table usage_records disable trigger user`);
        for (const e of batch(keys, statuses)) writer.record(e);
        const t0 = performance.now();
        await writer.flush();
        if (i >= WARMUP) times[way].push(performance.now() - t0);
      }
    }
    await database.db.execute(sql`alter table usage_records enable trigger user`);
    results[`${name}: ms per ${BATCH} records, rollups on`] = Math.round(median(times.on) * 10) / 10;
    results[`${name}: ms per ${BATCH} records, rollups off`] = Math.round(median(times.off) * 10) / 10;
    log(`${name}: on ${median(times.on).toFixed(1)} ms, off ${median(times.off).toFixed(1)} ms (load ${loadavg()[0]!.toFixed(1)})`);
  }
  await writer.stop();
  return results;
}

const out: Record<string, unknown> = {};
for (const d of DATABASES) {
  if (d === 'postgres') {
    const admin = postgres(POSTGRES, { max: 1, onnotice: () => {} });
    await admin.unsafe('drop database if exists bench_usage_writes with (force)');
    await admin.unsafe('create database bench_usage_writes');
    const u = new URL(POSTGRES);
    u.pathname = '/bench_usage_writes';
    try {
      const database = await createDatabase({ url: u.toString(), dataDir: '' });
      await database.migrate();
      out.postgres = await measure(database);
      await database.close();
    } finally {
      await admin.unsafe('drop database if exists bench_usage_writes with (force)');
      await admin.end({ timeout: 5 });
    }
  } else {
    const database = await createDatabase({ url: 'memory://', dataDir: '' });
    await database.migrate();
    out.pglite = await measure(database);
    await database.close();
  }
}
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
