/* Shared helpers for the usage tests: a fresh Postgres database per file, a priced echo model, chat calls. */
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import type { TestGateway } from '../kit/start-gateway.js';
import type { Db } from '../../src/db/client.js';
import { ensureUsagePartitionsFor } from '../../src/db/usage-partitions.js';

export const PG_URL = process.env.TEST_DATABASE_URL;
export const REDIS_URL = process.env.TEST_REDIS_URL;

export interface FreshDatabase {
  name: string;
  url: string;
  /** A client of its own on the new database (counts rows behind the gateway's back). */
  sql: postgres.Sql;
  /** A client on the server's maintenance database (ALTER DATABASE, pg_terminate_backend). */
  admin: postgres.Sql;
  drop(): Promise<void>;
}

/** `create database gw_usage_<random>`; drop() terminates its sessions and drops it. */
export async function freshDatabase(serverUrl: string): Promise<FreshDatabase> {
  const name = `gw_usage_${randomBytes(6).toString('hex')}`;
  const admin = postgres(serverUrl, { max: 2, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const u = new URL(serverUrl);
  u.pathname = `/${name}`;
  const url = u.toString();
  const sql = postgres(url, { max: 2, onnotice: () => {} });
  return {
    name,
    url,
    sql,
    admin,
    async drop() {
      await sql.end({ timeout: 1 }).catch(() => {});
      await admin.unsafe(`alter database ${name} allow_connections true`).catch(() => {});
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end({ timeout: 1 });
    },
  };
}

export const PRICED_MODEL = 'priced-echo';
export const INPUT_PRICE = 1.5;
export const OUTPUT_PRICE = 2.5;

/** A model routed to the built-in echo provider, with prices so every call has a cost. */
export async function createPricedModel(gw: TestGateway, name = PRICED_MODEL, provider = 'echo'): Promise<void> {
  const res = await gw.gql(
    'mutation($input: CreateModelInput!) { createModel(input: $input) { name } }',
    {
      input: {
        name,
        inputPricePerMTok: INPUT_PRICE,
        outputPricePerMTok: OUTPUT_PRICE,
        targets: [{ provider, upstreamModel: 'echo' }],
      },
    },
  );
  if (!res.data) throw new Error(`createModel failed: ${JSON.stringify(res.errors)}`);
}

export interface ChatOut {
  id: string;
  usage: { promptTokens: number; completionTokens: number; totalTokens: number; costUsd: number };
}

const CHAT = 'mutation($input: ChatInput!) { chat(input: $input) { id usage { promptTokens completionTokens totalTokens costUsd } } }';

/** A prompt of 1 + (i mod 37) words, so token counts and costs differ between calls. */
function promptFor(i: number): string {
  return Array.from({ length: 1 + (i % 37) }, (_, w) => `w${i}_${w}`).join(' ');
}

export async function chat(
  gw: TestGateway,
  key: string,
  i: number,
  model = PRICED_MODEL,
  metadata?: Record<string, unknown>,
): Promise<ChatOut> {
  const res = await gw.gql<{ chat: ChatOut }>(CHAT, { input: { model, messages: [{ role: 'USER', content: promptFor(i) }], metadata } }, key);
  if (!res.data?.chat) throw Object.assign(new Error(`chat failed: ${JSON.stringify(res.errors)}`), { errors: res.errors });
  return res.data.chat;
}

/** Runs `fn(i)` for i in [0, n) with at most `concurrency` at once; results in index order. */
export async function pool<T>(n: number, concurrency: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out = new Array<T>(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      for (let i = next++; i < n; i = next++) out[i] = await fn(i);
    }),
  );
  return out;
}

/** Cost in units of 1e-10 USD (the numeric(20,10) column's resolution), exact as an integer. */
export const units = (usd: number | string): bigint => {
  const s = typeof usd === 'string' ? usd : usd.toFixed(10);
  const neg = s.startsWith('-');
  const [int, frac = ''] = (neg ? s.slice(1) : s).split('.');
  const v = BigInt(int!) * 10_000_000_000n + BigInt((frac + '0000000000').slice(0, 10));
  return neg ? -v : v;
};

/** Postgres' percentile_cont, in the same float arithmetic. */
export function percentileCont(sorted: number[], p: number): number | null {
  if (!sorted.length) return null;
  const pos = p * (sorted.length - 1);
  const lo = Math.floor(pos);
  const frac = pos - lo;
  const a = sorted[lo]!;
  if (frac === 0 || lo + 1 >= sorted.length) return a;
  return a + frac * (sorted[lo + 1]! - a);
}

/**
 * Whether a percentile read from the rollups' histograms is as close to the exact one (percentile_cont, unrounded) as
 * the schema documents: within 1/32 of it (exact below 32 ms), then rounded to a whole millisecond.
 */
export function withinHistogramBound(got: number | null, exact: number | null): boolean {
  if (got === null || exact === null) return got === exact;
  return Math.abs(got - exact) <= exact / 32 + 0.5 + 1e-9;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns true or `ms` pass. */
export async function waitFor(check: () => boolean | Promise<boolean>, ms = 5000, what = 'condition'): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Rows of `db.execute(...)`: PGlite answers `{ rows }`, postgres.js an array. */
export function rowsOf<T = Record<string, unknown>>(res: unknown): T[] {
  return ((res as { rows?: T[] }).rows ?? (res as T[])) as T[];
}

/**
 * Makes the day partitions of usage_records for records inserted directly at these times (from `from` to `to` when
 * given both: every day between): there is no default partition, and the gateway's writer makes its days itself.
 */
export async function usageDays(db: Db, from: Date, to = from): Promise<void> {
  const days: Date[] = [];
  for (let t = from.getTime(); t < to.getTime() + 86_400_000; t += 86_400_000) days.push(new Date(t));
  await ensureUsagePartitionsFor(db, days);
}
