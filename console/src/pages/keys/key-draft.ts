/*
 * A key as its form holds it (strings, as inputs give them) and the API inputs made from it. An empty limit means
 * no limit; an empty expiry means never; "all models" means allowedModels null.
 */
import { logBodiesChoice, logBodiesInput, type LogBodiesChoice } from '../../components/log-bodies-select';
import type { ResultOf, VariablesOf } from '../../graphql';
import type { CreateKeyMutation, KeyRowFields, UpdateKeyMutation } from './documents';

export type KeyRow = ResultOf<typeof KeyRowFields>;
export type Scope = KeyRow['scopes'][number];
type CreateInput = VariablesOf<typeof CreateKeyMutation>['input'];
type UpdateInput = VariablesOf<typeof UpdateKeyMutation>['input'];

export const SCOPES: Array<{ scope: Scope; hint: string }> = [
  { scope: 'INVOKE', hint: 'call models' },
  { scope: 'READ_USAGE', hint: 'read its own usage' },
  { scope: 'TEAM_ADMIN', hint: 'manage its team' },
  { scope: 'ADMIN', hint: 'everything' },
];

export interface KeyDraft {
  name: string;
  scopes: Scope[];
  requestsPerMinute: string;
  tokensPerMinute: string;
  tokensPerDay: string;
  monthlyBudgetUsd: string;
  allModels: boolean;
  models: string[];
  /** YYYY-MM-DD, the last UTC day the key works; '' for never */
  expiresOn: string;
  /** The team's global id; '' for none */
  team: string;
  /** The call log level; '' for not set */
  logBodies: LogBodiesChoice;
}

export const EMPTY_DRAFT: KeyDraft = {
  name: '',
  scopes: ['INVOKE'],
  requestsPerMinute: '',
  tokensPerMinute: '',
  tokensPerDay: '',
  monthlyBudgetUsd: '',
  allModels: true,
  models: [],
  expiresOn: '',
  team: '',
  logBodies: '',
};

const text = (n: number | null | undefined) => (n == null ? '' : String(n));

export function draftFromKey(key: KeyRow): KeyDraft {
  return {
    name: key.name,
    scopes: [...key.scopes],
    requestsPerMinute: text(key.limits.requestsPerMinute),
    tokensPerMinute: text(key.limits.tokensPerMinute),
    tokensPerDay: text(key.limits.tokensPerDay),
    monthlyBudgetUsd: text(key.limits.monthlyBudgetUsd),
    allModels: key.allowedModels == null,
    models: key.allowedModels ?? [],
    expiresOn: key.expiresAt ? key.expiresAt.slice(0, 10) : '',
    team: key.team?.id ?? '',
    logBodies: logBodiesChoice(key.logBodies),
  };
}

const number = (s: string): number | null => (s.trim() === '' ? null : Number(s));

function limits(d: KeyDraft) {
  return {
    requestsPerMinute: number(d.requestsPerMinute),
    tokensPerMinute: number(d.tokensPerMinute),
    tokensPerDay: number(d.tokensPerDay),
    monthlyBudgetUsd: number(d.monthlyBudgetUsd),
  };
}

/** The end of the chosen UTC day: a key "expiring on" a date works through that whole day. */
const expiry = (day: string): string | null => (day ? `${day}T23:59:59.000Z` : null);

export function toCreateInput(d: KeyDraft): CreateInput {
  return {
    name: d.name.trim(),
    scopes: d.scopes,
    limits: limits(d),
    allowedModels: d.allModels ? null : d.models,
    expiresAt: expiry(d.expiresOn),
    ...(d.team ? { team: d.team } : {}),
    ...(d.logBodies ? { logBodies: d.logBodies } : {}),
  };
}

/** Only what changed of the expiry and the team: an unchanged past expiry would be refused as not in the future. */
export function toUpdateInput(d: KeyDraft, before: KeyDraft): UpdateInput {
  return {
    name: d.name.trim(),
    scopes: d.scopes,
    limits: limits(d),
    allowedModels: d.allModels ? null : d.models,
    ...(d.expiresOn !== before.expiresOn ? { expiresAt: expiry(d.expiresOn) } : {}),
    ...(d.team !== before.team ? { team: d.team || null } : {}),
    ...(d.logBodies !== before.logBodies ? { logBodies: logBodiesInput(d.logBodies) } : {}),
  };
}

/** What the form refuses before asking the gateway: the one thing the API cannot say in the user's words. */
export function draftProblem(d: KeyDraft): string | null {
  for (const [label, value] of [
    ['Requests a minute', d.requestsPerMinute],
    ['Tokens a minute', d.tokensPerMinute],
    ['Tokens a day', d.tokensPerDay],
    ['Monthly budget', d.monthlyBudgetUsd],
  ] as const) {
    if (value.trim() !== '' && !Number.isFinite(Number(value))) return `${label}: not a number.`;
  }
  if (!d.allModels && d.models.length === 0) return 'Pick at least one model, or allow all models.';
  return null;
}
