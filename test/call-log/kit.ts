/* Shared helpers for the call log tests: an OpenAI mock behind a real gateway, levels set in the database, rows read back. */
import { sql, type SQL } from 'drizzle-orm';
import { rowsOf } from '../../src/db/rows-of.js';
import type { TestGateway } from '../kit/start-gateway.js';
import type { AnyJson } from '../kit/json.js';
import { createModel, createProvider, ok, sleep, uniq } from '../gateway/helpers.js';
import type { OpenAIMock } from '../mocks/openai.js';

export type Level = 'NONE' | 'METADATA' | 'FULL' | null;

export async function query<T = AnyJson>(gw: TestGateway, q: SQL): Promise<T[]> {
  return rowsOf<T>(await gw.app.services.database.db.execute(q));
}

/** A provider on the mock and a model on it whose upstream model id is its own name; `level` set on the model row. */
export async function mockModel(gw: TestGateway, mock: OpenAIMock, level: Level, extra: Record<string, unknown> = {}): Promise<string> {
  const provider = uniq('cl-openai');
  await createProvider(gw, { name: provider, kind: 'OPENAI', baseUrl: mock.baseUrl, apiKey: 'sk-test' });
  const name = uniq('cl-model');
  await createModel(gw, { name, targets: [{ provider, upstreamModel: name }], ...extra });
  // before the model's first call: the catalogue has not cached it yet
  if (level) await query(gw, sql`update models set log_bodies = ${level} where name = ${name}`);
  return name;
}

/** A fresh INVOKE key (its first lookup is after the update, so no cache holds the old row) with `level` set. */
export async function keyWithLevel(gw: TestGateway, level: Level, input: Record<string, unknown> = {}): Promise<{ secret: string; uuid: string }> {
  const key = await gw.createKey({ scopes: ['INVOKE'], ...input });
  if (level) await query(gw, sql`update api_keys set log_bodies = ${level} where id = ${key.uuid}::uuid`);
  gw.app.services.keys.invalidateAll();
  return key;
}

export async function teamWithLevel(gw: TestGateway, level: Level): Promise<{ id: string }> {
  const name = uniq('cl-team');
  const team = ok(await gw.gql<{ createTeam: { id: string } }>('mutation($i: CreateTeamInput!) { createTeam(input: $i) { id } }', { i: { name } })).createTeam;
  if (level) await query(gw, sql`update teams set log_bodies = ${level} where name = ${name}`);
  return team;
}

export interface CallLogOut {
  id: string;
  request_id: string | null;
  api_key_id: string | null;
  team_id: string | null;
  model: string;
  status: string;
  level: string;
  parameters: AnyJson;
  request: AnyJson;
  response: AnyJson;
  attempts: AnyJson[];
  trace_id: string | null;
  body_bytes: number;
  truncated: boolean;
  search: string | null;
}

const parse = (v: unknown): AnyJson => (typeof v === 'string' ? JSON.parse(v) : v);

/** The call log rows of a model, oldest first, after the usage writer flushed (streams: once they ended). */
export async function callLogsOf(gw: TestGateway, model: string, atLeast = 0, ms = 3000): Promise<CallLogOut[]> {
  const until = Date.now() + ms;
  for (;;) {
    await gw.flushUsage();
    const rows = await query<CallLogOut>(gw, sql`select id, request_id, api_key_id, team_id, model, status, level, parameters, request, response,
      attempts, trace_id, body_bytes, truncated, search::text as search from call_logs where model = ${model} order by created_at, id`);
    if (rows.length >= atLeast || Date.now() > until) {
      return rows.map((r) => ({ ...r, parameters: parse(r.parameters), request: parse(r.request), response: parse(r.response), attempts: parse(r.attempts) }));
    }
    await sleep(25);
  }
}

/** Every row of every table, each as text: what a privacy check greps. */
export async function dumpDatabase(gw: TestGateway): Promise<string> {
  const tables = await query<{ s: string; t: string }>(
    gw,
    sql`select table_schema as s, table_name as t from information_schema.tables
      where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema')`,
  );
  let out = '';
  for (const { s, t } of tables) {
    const rows = await query<{ row: string }>(gw, sql.raw(`select x::text as row from "${s}"."${t}" x`));
    out += `\n== ${s}.${t} (${rows.length})\n` + rows.map((r) => r.row).join('\n');
  }
  return out;
}
