/*
 * Who may use what: the one place the INVOKE scope and the model allow-lists (a key's and its team's) are read, for
 * invoking (gateway core), for listing models (GraphQL `models`/`model`, REST `GET /v1/models`) and for reading
 * prompt templates (GraphQL `prompts`/`prompt`, `runPrompt`, REST `POST /v1/prompts/{name}/run`); which keys, teams
 * and usage records a key reads (`viewer`, `apiKeys`, `teams`, `usage`, `usageSummary`, `usageSeries`,
 * `usageRecorded`, UsageRecord.apiKey and .team); and what a TEAM_ADMIN may do to its team's keys and prompts.
 * `node(id:)` applies the same.
 */
import type { ApiKeyRow, ModelRow, PromptRow, TeamRow } from '../db/schema.js';
import { badInput, forbidden, forbiddenField, type GatewayError } from '../errors.js';
import type { Principal, Scope } from './keys.js';
import { LIMIT_FIELDS, endUserLimitsOf, type KeyLimitsInput, type LimitValues } from './limit-inputs.js';

export const hasInvokeScope = (p: Principal): boolean => p.isAdmin || p.scopes.has('INVOKE');

/** @param what names the refused operation in the message, e.g. "Mutation.chat" */
export function requireInvoke(p: Principal, what?: string): void {
  if (!hasInvokeScope(p)) throw forbidden(what ? `This key may not access ${what}` : 'This key lacks the INVOKE scope');
}

/**
 * The key's allow-list and its team's both admit this public model name (ADMIN keys admit every name; a missing
 * list admits every name).
 */
export const allowsModel = (p: Principal, name: string): boolean =>
  p.isAdmin || ((!p.key.allowedModels || p.key.allowedModels.includes(name)) && (!p.team?.allowedModels || p.team.allowedModels.includes(name)));

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

/**
 * A fallback model may answer this key's call: its allow-lists admit it and, if it requires approval, its team was
 * granted it (a fallback must not reach a model the key could not invoke by name).
 */
export const mayFallBackTo = (p: Principal, m: Pick<ModelRow, 'name' | 'requiresApproval'>): boolean => allowsModel(p, m.name) && isGranted(p, m);

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

/** A TEAM_ADMIN of this team (never of a null team). */
const adminsTeam = (p: Principal, teamId: string | null | undefined): boolean => p.isTeamAdmin && teamId != null && teamId === p.team?.id;

/**
 * The team whose objects (model access requests, webhooks) this key manages: null for ADMIN (every team's), its own
 * for a TEAM_ADMIN; undefined for any other key, which manages none.
 */
export const managedTeamId = (p: Principal): string | null | undefined => (p.isAdmin ? null : p.isTeamAdmin ? p.team!.id : undefined);

/** A team-owned object (teamId null: gateway-wide) this key manages: ADMIN all, a TEAM_ADMIN its own team's only. */
export const managesTeamObject = (p: Principal, teamId: string | null): boolean => p.isAdmin || adminsTeam(p, teamId);

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
 * A template is read by those who may run it: ADMIN, and INVOKE keys whose allow-lists admit its model, when it is
 * the gateway's (no team) or their own team's; a TEAM_ADMIN also reads its team's, which it manages. Anyone else is
 * answered as if it did not exist, so templates (their text is often the product) stay with the keys that use them.
 */
export const readsPrompt = (p: Principal, prompt: PromptRow): boolean =>
  p.isAdmin || adminsTeam(p, prompt.teamId) || ((prompt.teamId == null || prompt.teamId === p.team?.id) && mayInvoke(p, prompt.model));

/**
 * Who may add a version to the prompt of a name: ADMIN any, a TEAM_ADMIN its team's (a new name too: `owner`
 * undefined). A name is one template whoever versions it, so another team's name is refused.
 * @param owner the team of the name's latest version (null: the gateway's); undefined for a new name
 */
export function checkPromptChange(p: Principal, name: string, owner: string | null | undefined): void {
  if (p.isAdmin || owner === undefined || adminsTeam(p, owner)) return;
  // one refusal whoever owns it: telling another team's names from the gateway's would let a TEAM_ADMIN probe them
  throw forbidden(`This key may not change prompt "${name}": its team does not own it`);
}

/** A TEAM_ADMIN binds its templates to models its team may invoke (a template its keys could never run is a mistake). */
export function checkPromptModel(p: Principal, model: string): void {
  if (p.isAdmin || !p.team?.allowedModels || p.team.allowedModels.includes(model)) return;
  throw badInput('input.model', `"${model}" is not among the models of team "${p.team.name}"`);
}

/** The team a new prompt name belongs to: the gateway's (null) when ADMIN creates it, else its TEAM_ADMIN's team. */
export const newPromptTeamId = (p: Principal): string | null => (p.isAdmin ? null : (p.team?.id ?? null));

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

/**
 * ADMIN reads every API key; a TEAM_ADMIN its team's; any other key only itself (`viewer`).
 * @param keyTeamId the key's team, when known: without it a TEAM_ADMIN reads only itself
 */
export const readsKey = (p: Principal, keyId: string, keyTeamId?: string | null): boolean =>
  p.isAdmin || keyId === p.key.id || adminsTeam(p, keyTeamId);

/** Whose keys `apiKeys` lists (a field for ADMIN and TEAM_ADMIN): every key (undefined), or the TEAM_ADMIN's team's. */
export const listedKeysTeamId = (p: Principal): string | undefined => (p.isAdmin ? undefined : p.team?.id);

/**
 * Updates, rotates or revokes this key: ADMIN any; a TEAM_ADMIN its team's keys, except ADMIN keys (which it could
 * not have created).
 */
export const managesKey = (p: Principal, row: ApiKeyRow): boolean => p.isAdmin || (adminsTeam(p, row.teamId) && !row.scopes.includes('ADMIN'));

/** Reads a team: ADMIN every one, a key of a team its own. */
export const readsTeam = (p: Principal, teamId: string): boolean => p.isAdmin || teamId === p.team?.id;

/** Reads a team's keys (Team.apiKeys): ADMIN, and the team's own TEAM_ADMINs. */
export const readsTeamKeys = (p: Principal, teamId: string): boolean => p.isAdmin || adminsTeam(p, teamId);

/** What a key is given by createApiKey/updateApiKey; undefined leaves a field out of the check (unchanged). */
export interface KeyGrant {
  /** The key's team after the change; null: none. */
  teamId?: string | null;
  scopes?: readonly Scope[] | null;
  limits?: KeyLimitsInput | null;
  endUserLimits?: KeyLimitsInput | null;
  allowedModels?: readonly string[] | null;
  cache?: { scope?: string | null } | null;
  /** The ids of its guardrail policies after the change. */
  guardrailPolicyIds?: readonly string[] | null;
  expiresAt?: Date | null;
}

/** What the key is now, on update (undefined: a new key). */
type CurrentKey = Pick<ApiKeyRow, 'guardrailPolicyIds' | 'expiresAt'>;

/** Each limit given is at most the team's where the team sets one (a key without that limit still meets the team's). */
function checkWithinTeam(given: KeyLimitsInput | null | undefined, team: LimitValues, teamName: string, field: string): void {
  if (!given) return;
  for (const f of LIMIT_FIELDS) {
    const cap = team[f];
    const v = given[f];
    if (cap != null && v != null && v > cap) throw badInput(`${field}.${f}`, `must be at most ${cap}, the limit of team "${teamName}"`);
  }
}

/**
 * ADMIN's controls over a key a TEAM_ADMIN may only tighten: it adds guardrail policies but never drops one, and
 * sets or brings its expiry forward but never clears or postpones it.
 */
function checkAdminControlsKept(grant: KeyGrant, current: CurrentKey): void {
  if (grant.guardrailPolicyIds != null && current.guardrailPolicyIds.some((id) => !grant.guardrailPolicyIds!.includes(id))) {
    throw forbiddenField('input.guardrailPolicies', 'a TEAM_ADMIN key may add guardrail policies to a key but not remove any');
  }
  if (grant.expiresAt === undefined || !current.expiresAt) return;
  if (grant.expiresAt === null || grant.expiresAt.getTime() > current.expiresAt.getTime()) {
    throw forbiddenField('input.expiresAt', 'a TEAM_ADMIN key may bring a key\'s expiry forward but not clear or postpone it');
  }
}

/**
 * What a TEAM_ADMIN may give a key of its team (ADMIN may give anything): no other team, never the ADMIN scope,
 * limits within the team's, models within the team's list, never a cache scope (a GLOBAL one shares cached answers
 * beyond the team); on update (`current`), ADMIN's guardrail policies and expiry kept.
 */
export function checkKeyGrant(p: Principal, grant: KeyGrant, current?: CurrentKey): void {
  if (p.isAdmin) return;
  const team: TeamRow | null = p.isTeamAdmin ? p.team : null;
  if (!team) throw forbidden('This key may not manage API keys');
  if (grant.teamId !== undefined && grant.teamId !== team.id) throw forbidden(`A TEAM_ADMIN key manages the keys of its own team "${team.name}" only`);
  if (grant.scopes?.includes('ADMIN')) throw forbidden('Only an ADMIN key may grant the ADMIN scope');
  if (grant.cache?.scope != null) throw forbiddenField('input.cache.scope', 'only an ADMIN key may set the cache scope of a key');
  if (current) checkAdminControlsKept(grant, current);
  checkWithinTeam(grant.limits, team, team.name, 'input.limits');
  checkWithinTeam(grant.endUserLimits, endUserLimitsOf(team), team.name, 'input.endUserLimits');
  if (team.allowedModels && grant.allowedModels) {
    grant.allowedModels.forEach((m, i) => {
      if (!team.allowedModels!.includes(m)) throw badInput(`input.allowedModels[${i}]`, `"${m}" is not among the models of team "${team.name}"`);
    });
  }
}
