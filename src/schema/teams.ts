/* Teams: the Team node, its ADMIN lifecycle, and the team of a key (ApiKey.team and the per-end-user limits). */
import type { ApiKeyRow } from '../db/schema.js';
import { forbidden, notFound } from '../errors.js';
import { readsTeam, readsTeamKeys } from '../services/access.js';
import { effectiveThresholds, endUserLimitsOf } from '../services/limit-inputs.js';
import { builder } from './builder.js';
import { LogBodiesEnum, logBodiesOf } from './enums.js';
import { keyOf } from './global-id.js';
import { ApiKeyRef, KeyLimitsInput, KeyLimitsRef, UsageTotalsRef } from './keys.js';
import { TeamRef } from './team-ref.js';

const THRESHOLDS = 'Fractions of the monthly budget that raise a budget alert when crossed';

TeamRef.implement({
  description: "A team: its keys share its limits and budget on top of their own, and its TEAM_ADMIN keys manage the team's keys and prompts",
  fields: (t) => ({
    name: t.exposeString('name', { description: 'Unique name, 1-200 characters' }),
    description: t.exposeString('description', { nullable: true, description: 'Free text for people' }),
    limits: t.field({ type: KeyLimitsRef, description: 'Limits shared by the calls of all its keys together', resolve: (team) => team }),
    endUserLimits: t.field({
      type: KeyLimitsRef,
      description: 'Limits of each end user (ChatInput.user) across all its keys; null fields: none',
      resolve: (team) => endUserLimitsOf(team),
    }),
    allowedModels: t.exposeStringList('allowedModels', {
      nullable: true,
      description: "Public model names its keys may invoke (a key's own list narrows it further); null means all",
    }),
    budgetAlertThresholds: t.floatList({
      description: `${THRESHOLDS} (its own, or the default [0.5, 0.8, 1])`,
      resolve: (team) => [...effectiveThresholds(team.budgetAlertThresholds)],
    }),
    apiKeys: t.field({
      type: [ApiKeyRef],
      description: "Its keys, newest first: for ADMIN and the team's own TEAM_ADMIN keys; an empty list for any other key",
      resolve: (team, _, ctx) => (readsTeamKeys(ctx.principal!, team.id) ? ctx.loaders.teamKeys.load(team.id) : []),
    }),
    monthToDate: t.field({
      type: UsageTotalsRef,
      nullable: true,
      description: "Totals of its keys' usage this calendar month (UTC): for ADMIN and the team's own TEAM_ADMIN keys; null with a FORBIDDEN error for any other key",
      resolve: (team, _, ctx) => {
        // what a team spends is its managers' business, as its keys are
        if (!readsTeamKeys(ctx.principal!, team.id)) throw forbidden('This key may not access Team.monthToDate');
        return ctx.loaders.teamMonthToDate.load(team.id);
      },
    }),
    logBodies: t.field({
      type: LogBodiesEnum,
      nullable: true,
      description: "How much of its keys' calls the call log keeps (the lowest of the key's, the team's and the model's applies); null: not set",
      resolve: (team) => logBodiesOf(team.logBodies),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was created' }),
  }),
});

builder.objectFields(ApiKeyRef, (t) => ({
  team: t.field({
    type: TeamRef,
    nullable: true,
    description: 'The team it belongs to; null: none (only its own limits apply)',
    resolve: (k: ApiKeyRow, _, ctx) => (k.teamId ? ctx.loaders.team.load(k.teamId) : null),
  }),
  endUserLimits: t.field({
    type: KeyLimitsRef,
    description: 'Limits of each end user (ChatInput.user) of its calls; null fields: none',
    resolve: (k: ApiKeyRow) => endUserLimitsOf(k),
  }),
  budgetAlertThresholds: t.floatList({
    description: `${THRESHOLDS} (its own, or the default [0.5, 0.8, 1])`,
    resolve: (k: ApiKeyRow) => [...effectiveThresholds(k.budgetAlertThresholds)],
  }),
}));

const teamFields = {
  description: 'Free text for people (at most 2000 characters)',
  limits: 'Limits shared by the calls of all its keys together',
  endUserLimits: 'Limits of each end user across all its keys',
  allowedModels: 'Public model names its keys may invoke',
  budgetAlertThresholds: `${THRESHOLDS}, each in (0, 10], at most 10`,
  logBodies: "How much of its keys' calls the call log keeps (see LogBodies)",
};

const CreateTeamInput = builder.inputType('CreateTeamInput', {
  description: 'A new team',
  fields: (t) => ({
    name: t.string({ required: true, description: 'Unique name, 1-200 characters' }),
    description: t.string({ description: teamFields.description }),
    limits: t.field({ type: KeyLimitsInput, description: `${teamFields.limits} (default: none)` }),
    endUserLimits: t.field({ type: KeyLimitsInput, description: `${teamFields.endUserLimits} (default: none)` }),
    allowedModels: t.stringList({ description: `${teamFields.allowedModels}; omitted or null means all` }),
    budgetAlertThresholds: t.floatList({ description: `${teamFields.budgetAlertThresholds} (default [0.5, 0.8, 1])` }),
    logBodies: t.field({ type: LogBodiesEnum, description: `${teamFields.logBodies} (default: not set)` }),
  }),
});

const UpdateTeamInput = builder.inputType('UpdateTeamInput', {
  description: 'Changes to a team, effective for its keys on every gateway instance at once; an omitted field stays as it is, null clears it',
  fields: (t) => ({
    name: t.string({ description: 'Unique name, 1-200 characters' }),
    description: t.string({ description: teamFields.description }),
    limits: t.field({ type: KeyLimitsInput, description: `Changes to its limits (${teamFields.limits.toLowerCase()})` }),
    endUserLimits: t.field({ type: KeyLimitsInput, description: `Changes to its ${teamFields.endUserLimits.toLowerCase()}` }),
    allowedModels: t.stringList({ description: `Replaces the ${teamFields.allowedModels.toLowerCase()}; null allows all` }),
    budgetAlertThresholds: t.floatList({ description: `Replaces its thresholds; null returns to the default [0.5, 0.8, 1]` }),
    logBodies: t.field({ type: LogBodiesEnum, description: `${teamFields.logBodies}; null: not set` }),
  }),
});

const TEAM_ID = "The team's global id (Team.id)";

builder.queryFields((t) => ({
  teams: t.field({
    type: [TeamRef],
    description: 'ADMIN: every team, by name; a key of a team: its own team; a key without team: none',
    authScopes: { authenticated: true },
    resolve: async (_, __, ctx) => {
      const p = ctx.principal!;
      if (p.isAdmin) return ctx.services.teams.list();
      return p.team ? ctx.loaders.team.load(p.team.id).then((team) => (team ? [team] : [])) : [];
    },
  }),
  team: t.field({
    type: TeamRef,
    nullable: true,
    description: 'One team; null with NOT_FOUND when there is none, with FORBIDDEN when it is not the caller\'s (see teams)',
    authScopes: { authenticated: true },
    args: { id: t.arg.globalID({ required: true, description: TEAM_ID }) },
    resolve: async (_, { id }, ctx) => {
      const teamId = keyOf(ctx, id, TeamRef, 'id');
      if (!readsTeam(ctx.principal!, teamId)) throw forbidden('This key may not access other teams');
      const team = await ctx.loaders.team.load(teamId);
      if (!team) throw notFound('Team', teamId);
      return team;
    },
  }),
}));

builder.mutationFields((t) => ({
  createTeam: t.field({
    type: TeamRef,
    description: 'ADMIN; a new team under a new name',
    authScopes: { admin: true },
    args: { input: t.arg({ type: CreateTeamInput, required: true, description: 'The new team' }) },
    resolve: (_, { input }, ctx) => ctx.services.teams.create(input),
  }),
  updateTeam: t.field({
    type: TeamRef,
    description: 'ADMIN; its keys use the new limits and models on every gateway instance at once',
    authScopes: { admin: true },
    args: { id: t.arg.globalID({ required: true, description: TEAM_ID }), input: t.arg({ type: UpdateTeamInput, required: true, description: 'The changes' }) },
    resolve: (_, { id, input }, ctx) => ctx.services.teams.update(keyOf(ctx, id, TeamRef, 'id'), input),
  }),
  deleteTeam: t.field({
    type: TeamRef,
    description: 'ADMIN; refused (BAD_USER_INPUT on id) while it still has unrevoked keys or prompt templates. Its revoked keys leave it; its usage records keep its id',
    authScopes: { admin: true },
    args: { id: t.arg.globalID({ required: true, description: TEAM_ID }) },
    resolve: (_, { id }, ctx) => ctx.services.teams.delete(keyOf(ctx, id, TeamRef, 'id')),
  }),
}));
