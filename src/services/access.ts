/*
 * Who may use what: the one place the INVOKE scope and a key's model allow-list are read, for invoking (gateway
 * core), for listing models (GraphQL `models`/`model`, REST `GET /v1/models`) and for reading prompt templates
 * (GraphQL `prompts`/`prompt`, `runPrompt`, REST `POST /v1/prompts/{name}/run`), and which keys and usage records a
 * key reads (`viewer`, `usage`, `usageSummary`, `usageSeries`, `usageRecorded`, UsageRecord.apiKey and .team).
 * `node(id:)` applies the same.
 */
import type { ModelRow, PromptRow } from '../db/schema.js';
import { forbidden } from '../errors.js';
import type { Principal } from './keys.js';

export const hasInvokeScope = (p: Principal): boolean => p.isAdmin || p.scopes.has('INVOKE');

/** @param what names the refused operation in the message, e.g. "Mutation.chat" */
export function requireInvoke(p: Principal, what?: string): void {
  if (!hasInvokeScope(p)) throw forbidden(what ? `This key may not access ${what}` : 'This key lacks the INVOKE scope');
}

/** The key's allow-list admits this public model name (ADMIN keys and keys without a list admit every name). */
export const allowsModel = (p: Principal, name: string): boolean =>
  p.isAdmin || !p.key.allowedModels || p.key.allowedModels.includes(name);

/** May invoke the model of this name, should it exist and be served. */
export const mayInvoke = (p: Principal, name: string): boolean => hasInvokeScope(p) && allowsModel(p, name);

/**
 * The contract lists "models the caller may invoke (all of them for ADMIN)": a key without INVOKE sees none, and
 * retired models (no longer invocable) only ADMIN, who manages them.
 */
export const seesModel = (p: Principal, m: ModelRow): boolean => p.isAdmin || isInvocableBy(p, m);

/** A model this key can invoke now: not retired, and admitted by its scope and allow-list (OpenAI's model list). */
export const isInvocableBy = (p: Principal, m: ModelRow): boolean => m.status !== 'RETIRED' && mayInvoke(p, m.name);

/**
 * A template is read by those who may run it: ADMIN, and INVOKE keys whose allow-list admits its model. Anyone
 * else is answered as if it did not exist, so templates (their text is often the product) stay with the keys
 * that use them.
 */
export const readsPrompt = (p: Principal, prompt: PromptRow): boolean => mayInvoke(p, prompt.model);

/**
 * Whose usage records a key reads: everyone's (ADMIN), its team's (TEAM_ADMIN of a team: records with that
 * team_id), or else its own.
 */
export type UsageReadScope = { kind: 'all' } | { kind: 'team'; teamId: string } | { kind: 'key'; keyId: string };

export function usageReadScope(p: Principal): UsageReadScope {
  if (p.isAdmin) return { kind: 'all' };
  if (p.isTeamAdmin && p.team) return { kind: 'team', teamId: p.team.id };
  return { kind: 'key', keyId: p.key.id };
}

/** A record (or a feed event) inside the scope. */
export function inUsageScope(scope: UsageReadScope, record: { apiKeyId: string | null; teamId: string | null }): boolean {
  if (scope.kind === 'all') return true;
  if (scope.kind === 'team') return record.teamId === scope.teamId;
  return record.apiKeyId === scope.keyId;
}

/** `now` reads at least the records of `opened` (a running feed must not keep a view its key no longer has). */
export function coversUsageScope(now: UsageReadScope, opened: UsageReadScope): boolean {
  if (now.kind === 'all' || opened.kind === 'key') return true;
  return opened.kind === 'team' && now.kind === 'team' && now.teamId === opened.teamId;
}

/** May read usage at all (within usageReadScope): ADMIN, READ_USAGE, and TEAM_ADMIN of a team for its team's. */
export const mayReadUsage = (p: Principal): boolean => p.isAdmin || p.isTeamAdmin || p.scopes.has('READ_USAGE');

/** ADMIN reads every API key; any other key only itself (`viewer`). */
export const readsKey = (p: Principal, keyId: string): boolean => p.isAdmin || keyId === p.key.id;
