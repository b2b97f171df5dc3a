/* The call logs of one usage batch, in one statement: one JSON parameter, the tsvector made by the database. */
import { sql, type SQL } from 'drizzle-orm';
import { callLogs } from '../db/schema.js';
import type { CallLogEntry } from './types.js';

/** `storableJson`: the usage writer's JSON that jsonb accepts (no NUL, no lone surrogates). */
export function insertCallLogs(entries: readonly CallLogEntry[], storableJson: (value: unknown) => string): SQL {
  const rows = storableJson(
    entries.map((e) => ({
      id: e.id,
      created_at: e.createdAt.toISOString(),
      request_id: e.requestId,
      api_key_id: e.apiKeyId,
      team_id: e.teamId,
      model: e.model,
      status: e.status,
      level: e.level,
      parameters: e.parameters,
      request: e.request,
      response: e.response,
      attempts: e.attempts,
      trace_id: e.traceId,
      body_bytes: e.bodyBytes,
      truncated: e.truncated,
      search_text: e.searchText,
    })),
  );
  // 'simple': a word is found by exactly that word, in any language (no stemming, no stop words)
  return sql`insert into ${callLogs} (id, created_at, request_id, api_key_id, team_id, model, status, level, parameters,
      request, response, attempts, trace_id, body_bytes, truncated, search)
    select id, created_at, request_id, api_key_id, team_id, model, status, level, parameters, request, response, attempts,
      trace_id, body_bytes, truncated, to_tsvector('simple', search_text)
    from jsonb_to_recordset(${rows}::jsonb) as r(id uuid, created_at timestamptz, request_id text, api_key_id uuid,
      team_id uuid, model text, status text, level text, parameters jsonb, request jsonb, response jsonb, attempts jsonb,
      trace_id text, body_bytes int, truncated boolean, search_text text)
    on conflict (id) do nothing`;
}
