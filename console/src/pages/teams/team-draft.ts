/*
 * A team as its form holds it (strings, as inputs give them) and the API inputs made from it. An empty limit means
 * no limit; "all models" means allowedModels null. Limits the form does not show (tokens a minute) are left alone.
 */
import { logBodiesChoice, logBodiesInput, type LogBodiesChoice } from '../../components/log-bodies-select';
import type { ResultOf, VariablesOf } from '../../graphql';
import type { CreateTeamMutation, TeamFields, UpdateTeamMutation } from './documents';

export type TeamRow = ResultOf<typeof TeamFields>;
type CreateInput = VariablesOf<typeof CreateTeamMutation>['input'];
type UpdateInput = VariablesOf<typeof UpdateTeamMutation>['input'];

export interface TeamDraft {
  name: string;
  description: string;
  requestsPerMinute: string;
  tokensPerDay: string;
  monthlyBudgetUsd: string;
  allModels: boolean;
  models: string[];
  /** The call log level; '' for not set */
  logBodies: LogBodiesChoice;
}

export const EMPTY_TEAM: TeamDraft = { name: '', description: '', requestsPerMinute: '', tokensPerDay: '', monthlyBudgetUsd: '', allModels: true, models: [], logBodies: '' };

const text = (n: number | null | undefined) => (n == null ? '' : String(n));

export function draftFromTeam(t: TeamRow): TeamDraft {
  return {
    name: t.name,
    description: t.description ?? '',
    requestsPerMinute: text(t.limits.requestsPerMinute),
    tokensPerDay: text(t.limits.tokensPerDay),
    monthlyBudgetUsd: text(t.limits.monthlyBudgetUsd),
    allModels: t.allowedModels == null,
    models: t.allowedModels ?? [],
    logBodies: logBodiesChoice(t.logBodies),
  };
}

const number = (s: string): number | null => (s.trim() === '' ? null : Number(s));

function fields(d: TeamDraft) {
  return {
    name: d.name.trim(),
    description: d.description.trim() === '' ? null : d.description.trim(),
    limits: { requestsPerMinute: number(d.requestsPerMinute), tokensPerDay: number(d.tokensPerDay), monthlyBudgetUsd: number(d.monthlyBudgetUsd) },
    allowedModels: d.allModels ? null : d.models,
  };
}

export const toCreateTeamInput = (d: TeamDraft): CreateInput => ({ ...fields(d), ...(d.logBodies ? { logBodies: d.logBodies } : {}) });
export const toUpdateTeamInput = (d: TeamDraft): UpdateInput => ({ ...fields(d), logBodies: logBodiesInput(d.logBodies) });

/** What the form refuses before asking the gateway: the one thing the API cannot say in the user's words. */
export function teamDraftProblem(d: TeamDraft): string | null {
  for (const [label, value] of [
    ['Requests a minute', d.requestsPerMinute],
    ['Tokens a day', d.tokensPerDay],
    ['Monthly budget', d.monthlyBudgetUsd],
  ] as const) {
    if (value.trim() !== '' && !Number.isFinite(Number(value))) return `${label}: not a number.`;
  }
  if (!d.allModels && d.models.length === 0) return 'Pick at least one model, or allow all models.';
  return null;
}
