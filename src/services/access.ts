/*
 * Who may use what: the one place the INVOKE scope and a key's model allow-list are read, for invoking (gateway
 * core), for listing models (GraphQL `models`/`model`, REST `GET /v1/models`) and for reading prompt templates
 * (GraphQL `prompts`/`prompt`, `runPrompt`, REST `POST /v1/prompts/{name}/run`), and which keys and usage records a
 * key reads (`viewer`, `usage`, `usageSummary`, `usageRecorded`, UsageRecord.apiKey). `node(id:)` applies the same.
 */
import type { ModelRow, PromptRow } from '../db/schema.js';
import { forbidden, type GatewayError } from '../errors.js';
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
export const seesModel = (p: Principal, m: ModelRow): boolean => p.isAdmin || (m.status !== 'RETIRED' && mayInvoke(p, m.name));

/**
 * A model this key can invoke now: not retired, admitted by its scope and allow-list, and granted to its team when it
 * requires approval (OpenAI's model list). GraphQL's `models` still shows the ones awaiting approval, with
 * `requiresApproval` and `access`, so a team sees what it can ask for.
 */
export const isInvocableBy = (p: Principal, m: ModelRow): boolean => m.status !== 'RETIRED' && mayInvoke(p, m.name) && isGranted(p, m);

/** Approval is needed by every key but ADMIN ones, and granted to a team (principal.approvedModels), never to a key alone. */
export const isGranted = (p: Principal, m: Pick<ModelRow, 'name' | 'requiresApproval'>): boolean =>
  !m.requiresApproval || p.isAdmin || p.approvedModels.has(m.name);

export type AccessStatus = 'PENDING' | 'APPROVED' | 'REJECTED';

/**
 * Why a key may not invoke a model that requires approval; `status` is its team's request for the model (null:
 * none), read only on refusal. APPROVED here means a grant the key's cached principal has not picked up yet.
 */
export function approvalRefusal(p: Principal, model: string, status: AccessStatus | null): GatewayError {
  if (!p.team) return forbidden(`Model "${model}" requires approval, which only keys of a team can be granted`);
  if (status === 'PENDING') return forbidden(`Access to model "${model}" is pending approval for team "${p.team.name}"`);
  if (status === 'REJECTED') return forbidden(`Access to model "${model}" was rejected for team "${p.team.name}"`);
  if (status === 'APPROVED') return forbidden(`Access to model "${model}" was just approved for team "${p.team.name}"; retry in a few seconds`);
  return forbidden(`Model "${model}" requires approval: a TEAM_ADMIN of your team can request it with requestModelAccess`);
}

/**
 * The team whose objects (model access requests, webhooks) this key manages: null for ADMIN (every team's), its own
 * for a TEAM_ADMIN; undefined for any other key, which manages none.
 */
export const managedTeamId = (p: Principal): string | null | undefined => (p.isAdmin ? null : p.isTeamAdmin ? p.team!.id : undefined);

/** A team-owned object (teamId null: gateway-wide) this key manages: ADMIN all, a TEAM_ADMIN its own team's only. */
export const managesTeamObject = (p: Principal, teamId: string | null): boolean => p.isAdmin || (p.isTeamAdmin && teamId !== null && teamId === p.team!.id);

/** Which budget alerts a key reads: every one (ADMIN), its team's and its keys' (TEAM_ADMIN), or its own key's. */
export type BudgetAlertScope = { all: true } | { teamId: string } | { apiKeyId: string };

export const budgetAlertScope = (p: Principal): BudgetAlertScope =>
  p.isAdmin ? { all: true } : p.isTeamAdmin ? { teamId: p.team!.id } : { apiKeyId: p.key.id };

export function readsBudgetAlert(scope: BudgetAlertScope, a: { subjectKind: string; subjectId: string; teamId: string | null }): boolean {
  if ('all' in scope) return true;
  if ('teamId' in scope) return a.teamId === scope.teamId;
  return a.subjectKind === 'API_KEY' && a.subjectId === scope.apiKeyId;
}

/**
 * A template is read by those who may run it: ADMIN, and INVOKE keys whose allow-list admits its model. Anyone
 * else is answered as if it did not exist, so templates (their text is often the product) stay with the keys
 * that use them.
 */
export const readsPrompt = (p: Principal, prompt: PromptRow): boolean => mayInvoke(p, prompt.model);

/** Whose usage records this key reads: everyone's for ADMIN (null), any other key's own only. */
export const usageScopeKeyId = (p: Principal): string | null => (p.isAdmin ? null : p.key.id);

/** ADMIN reads every API key; any other key only itself (`viewer`). */
export const readsKey = (p: Principal, keyId: string): boolean => p.isAdmin || keyId === p.key.id;
