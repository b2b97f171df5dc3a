/* Model access on approval: Model.requiresApproval / access, the requests, ADMIN's decisions and their feed. */
import { filter, pipe } from 'graphql-yoga';
import type { ModelAccessRequestRow } from '../db/schema.js';
import { managedTeamId, managesTeamObject, type AccessStatus } from '../services/access.js';
import { newLoaders, type Context } from '../context.js';
import { builder } from './builder.js';
import { ModelRef } from './catalogue.js';
import { keyOf, uuidKey } from './global-id.js';
import { SUBSCRIPTION_SCOPES } from './subscription-access.js';
import { TeamRef } from './team-ref.js';

const ModelAccessStatusEnum = builder.enumType('ModelAccessStatus', {
  description: "Where a team's request for a model that requires approval stands",
  values: {
    PENDING: { description: 'Asked for, not yet decided: its keys are refused the model' },
    APPROVED: { description: "Granted: the team's keys may invoke the model (their own allow-lists still apply)" },
    REJECTED: { description: 'Refused: its keys are refused the model; a TEAM_ADMIN may ask again' },
  } as const,
});

const statusOf = (r: ModelAccessRequestRow) => r.status as AccessStatus;

const ModelAccessRequestRef = builder.nodeRef<ModelAccessRequestRow, string | null>('ModelAccessRequest', {
  id: { resolve: (r) => r.id, parse: uuidKey },
  // as `modelAccessRequests`: ADMIN every team's, a TEAM_ADMIN its own team's; anything else is answered as none
  loadMany: async (ids, ctx) =>
    (await ctx.services.modelAccess.byIds(ids as string[])).map((r) => (r && managesTeamObject(ctx.principal!, r.teamId) ? r : null)),
});
ModelAccessRequestRef.implement({
  description: "A team's request to use a model that requires approval, and ADMIN's decision. One per team and model",
  fields: (t) => ({
    team: t.field({
      type: TeamRef,
      description: 'The team that asked',
      // read only by ADMIN and the team's own TEAM_ADMIN (see loadMany), who both read the team
      resolve: async (r, _, ctx) => (await ctx.loaders.team.load(r.teamId))!,
    }),
    model: t.exposeString('model', { description: 'The public model name asked for' }),
    reason: t.exposeString('reason', { description: 'Why the team needs it, as the TEAM_ADMIN wrote it' }),
    status: t.field({ type: ModelAccessStatusEnum, description: 'Where the request stands', resolve: statusOf }),
    decisionNote: t.exposeString('decisionNote', { nullable: true, description: "ADMIN's note with the decision; null before one or without a note" }),
    decidedAt: t.expose('decidedAt', { type: 'DateTime', nullable: true, description: 'When it was approved or rejected; null while PENDING' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was first asked for' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When it last changed (asked again, approved or rejected)' }),
  }),
});

/** The caller's team's request statuses, read once per request however many models it lists. */
const teamStatuses = new WeakMap<Context, Promise<Map<string, AccessStatus>>>();

builder.objectFields(ModelRef, (t) => ({
  requiresApproval: t.exposeBoolean('requiresApproval', {
    description: "Whether keys other than ADMIN ones may invoke it only once their team was granted it (see access, requestModelAccess)",
  }),
  access: t.field({
    type: ModelAccessStatusEnum,
    nullable: true,
    description: "The caller's team's request for this model; null when the team asked for none, or the key has no team",
    resolve: async (m, _, ctx) => {
      const team = ctx.principal?.team;
      if (!team) return null;
      let statuses = teamStatuses.get(ctx);
      if (!statuses) teamStatuses.set(ctx, (statuses = ctx.services.modelAccess.statusesOf(team.id)));
      return (await statuses).get(m.name) ?? null;
    },
  }),
}));

const RequestModelAccessInput = builder.inputType('RequestModelAccessInput', {
  description: 'A request for a model that requires approval, for the caller\'s team',
  fields: (t) => ({
    model: t.string({ required: true, description: 'The public name of a model that requires approval' }),
    reason: t.string({ required: true, description: 'Why the team needs it, 1-2000 characters' }),
  }),
});

builder.queryFields((t) => ({
  modelAccessRequests: t.field({
    type: [ModelAccessRequestRef],
    description: "Model access requests, most recently changed first: every team's for ADMIN, its own team's for a TEAM_ADMIN; FORBIDDEN for other keys",
    authScopes: { teamAdmin: true },
    args: { status: t.arg({ type: ModelAccessStatusEnum, description: 'Only requests in this state' }) },
    resolve: (_, { status }, ctx) => ctx.services.modelAccess.list(managedTeamId(ctx.principal!) ?? null, status),
  }),
}));

builder.mutationFields((t) => ({
  requestModelAccess: t.field({
    type: ModelAccessRequestRef,
    description:
      "TEAM_ADMIN (or an ADMIN key of a team); asks for a model that requires approval, for the key's team. A PENDING or APPROVED request is returned unchanged; a REJECTED one is asked again (PENDING)",
    authScopes: { teamAdmin: true },
    args: { input: t.arg({ type: RequestModelAccessInput, required: true, description: 'The model and why' }) },
    resolve: (_, { input }, ctx) => ctx.services.modelAccess.request(ctx.principal!, input),
  }),
  approveModelAccess: t.field({
    type: ModelAccessRequestRef,
    description: "ADMIN; grants the team the model: its keys may invoke it within seconds, on every instance",
    authScopes: { admin: true },
    args: {
      id: t.arg.globalID({ required: true, description: 'ModelAccessRequest.id' }),
      note: t.arg.string({ description: 'A note for the team, at most 2000 characters' }),
    },
    resolve: (_, { id, note }, ctx) => ctx.services.modelAccess.approve(keyOf(ctx, id, ModelAccessRequestRef, 'id'), note, ctx.principal!),
  }),
  rejectModelAccess: t.field({
    type: ModelAccessRequestRef,
    description: "ADMIN; refuses the team the model (a grant it had is withdrawn)",
    authScopes: { admin: true },
    args: {
      id: t.arg.globalID({ required: true, description: 'ModelAccessRequest.id' }),
      note: t.arg.string({ description: 'A note for the team (why), at most 2000 characters' }),
    },
    resolve: (_, { id, note }, ctx) => ctx.services.modelAccess.reject(keyOf(ctx, id, ModelAccessRequestRef, 'id'), note, ctx.principal!),
  }),
}));

builder.subscriptionFields((t) => ({
  modelAccessRequests: t.field({
    type: ModelAccessRequestRef,
    description: "Every model access request as it is made or decided, on any instance: every team's for ADMIN, its own team's for a TEAM_ADMIN",
    authScopes: SUBSCRIPTION_SCOPES.modelAccessRequests,
    subscribe: (_, __, ctx) => {
      const principal = ctx.principal!;
      return pipe(ctx.services.teamEvents.modelAccess(), filter((r: ModelAccessRequestRow) => managesTeamObject(principal, r.teamId)));
    },
    resolve: (r: ModelAccessRequestRow, _, ctx) => {
      // events are rare: fresh loaders for each, so a long-lived subscription never answers a stale team or key
      ctx.loaders = newLoaders(ctx);
      return r;
    },
  }),
}));
