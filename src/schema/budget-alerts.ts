/* Budget alerts (a key's or team's monthly budget crossing a threshold) and the webhooks they are sent to. */
import { filter, pipe } from 'graphql-yoga';
import type { BudgetAlertRow, WebhookRow } from '../db/schema.js';
import { badInput } from '../errors.js';
import { budgetAlertScope, managedTeamId, managesTeamObject, readsBudgetAlert, readsKey, readsTeam } from '../services/access.js';
import { newLoaders } from '../context.js';
import { builder } from './builder.js';
import { keyOf, uuidKey } from './global-id.js';
import { ApiKeyRef } from './keys.js';
import { SUBSCRIPTION_SCOPES } from './subscription-access.js';
import { TeamRef } from './team-ref.js';

const BudgetSubjectKindEnum = builder.enumType('BudgetSubjectKind', {
  description: 'Whose monthly budget an alert is about',
  values: {
    TEAM: { description: "A team's (every key of the team together)" },
    API_KEY: { description: "One key's" },
  } as const,
});

const WebhookRef = builder.nodeRef<WebhookRow, string | null>('Webhook', {
  id: { resolve: (w) => w.id, parse: uuidKey },
  // as `webhooks`: ADMIN every one, a TEAM_ADMIN its team's; anything else is answered as none
  loadMany: async (ids, ctx) =>
    (await ctx.services.webhooks.byIds(ids as string[])).map((w) => (w && managesTeamObject(ctx.principal!, w.teamId) ? w : null)),
});
WebhookRef.implement({
  description:
    'An http(s) endpoint that receives budget alerts as signed POSTs (x-gateway-signature: sha256=HMAC-SHA256(secret, "<x-gateway-timestamp>.<body>")), retried with exponential backoff until it answers 2xx',
  fields: (t) => ({
    url: t.exposeString('url', { description: 'Where alerts are POSTed' }),
    description: t.exposeString('description', { nullable: true, description: 'Free text for people' }),
    team: t.field({
      type: TeamRef,
      nullable: true,
      description: 'The team whose alerts (about it and its keys) it receives; null: every alert',
      resolve: (w, _, ctx) => (w.teamId ? ctx.loaders.team.load(w.teamId) : null),
    }),
    enabled: t.exposeBoolean('enabled', { description: 'Whether alerts are sent to it' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was created' }),
  }),
});

const CreatedWebhookRef = builder.objectRef<{ webhook: WebhookRow; secret: string }>('CreatedWebhook').implement({
  description: 'Returned once, when a webhook is created: the signing secret cannot be read again',
  fields: (t) => ({
    webhook: t.field({ type: WebhookRef, description: 'The webhook', resolve: (c) => c.webhook }),
    secret: t.exposeString('secret', { description: 'The signing secret (whsec_…) to check x-gateway-signature with; shown this once' }),
  }),
});

const BudgetAlertRef = builder.nodeRef<BudgetAlertRow, string | null>('BudgetAlert', {
  id: { resolve: (a) => a.id, parse: uuidKey },
  loadMany: async (ids, ctx) => {
    const scope = budgetAlertScope(ctx.principal!);
    return (await ctx.services.budgetAlerts.byIds(ids as string[])).map((a) => (a && readsBudgetAlert(scope, a) ? a : null));
  },
});
BudgetAlertRef.implement({
  description: "A key's or team's spend this month crossing a fraction of its monthly budget; raised once per subject, month and threshold",
  fields: (t) => ({
    subjectKind: t.field({ type: BudgetSubjectKindEnum, description: 'Whose budget', resolve: (a) => a.subjectKind as 'TEAM' | 'API_KEY' }),
    team: t.field({
      type: TeamRef,
      nullable: true,
      description: "The team, for a TEAM alert, or the key's team for an API_KEY one, when the caller reads that team; null otherwise",
      resolve: (a, _, ctx) => (a.teamId && readsTeam(ctx.principal!, a.teamId) ? ctx.loaders.team.load(a.teamId) : null),
    }),
    apiKey: t.field({
      type: ApiKeyRef,
      nullable: true,
      description: 'The key, for an API_KEY alert the caller may read the key of; null otherwise',
      resolve: (a, _, ctx) => (a.subjectKind === 'API_KEY' && readsKey(ctx.principal!, a.subjectId) ? ctx.loaders.apiKey.load(a.subjectId) : null),
    }),
    period: t.exposeString('period', { description: 'The UTC month, e.g. 2026-12' }),
    threshold: t.exposeFloat('threshold', { description: 'The fraction of the budget crossed, e.g. 0.8' }),
    budgetUsd: t.exposeFloat('budgetUsd', { description: 'The monthly budget in USD when it was crossed' }),
    spentUsd: t.exposeFloat('spentUsd', { description: 'What had been spent this month, in USD, when it was crossed' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was raised' }),
  }),
});

const CreateWebhookInput = builder.inputType('CreateWebhookInput', {
  description: 'A new webhook for budget alerts',
  fields: (t) => ({
    url: t.string({ required: true, description: 'An absolute http(s) URL' }),
    description: t.string({ description: 'Free text for people, at most 500 characters' }),
    team: t.globalID({
      description: "Team.id: only alerts about this team and its keys are sent; omitted: every alert (ADMIN). A TEAM_ADMIN's webhooks are always its own team's",
    }),
  }),
});

const MAX_ALERTS = 500;

builder.queryFields((t) => ({
  webhooks: t.field({
    type: [WebhookRef],
    description: "Webhooks, newest first: every one for ADMIN, its team's for a TEAM_ADMIN; FORBIDDEN for other keys",
    authScopes: { teamAdmin: true },
    resolve: (_, __, ctx) => ctx.services.webhooks.list(managedTeamId(ctx.principal!) ?? null),
  }),
  budgetAlerts: t.field({
    type: [BudgetAlertRef],
    description: "Budget alerts, newest first: every one for ADMIN, its team's and its keys' for a TEAM_ADMIN, its own for any other key",
    authScopes: { authenticated: true },
    args: { first: t.arg.int({ description: `At most this many, 1-${MAX_ALERTS} (default 50)` }) },
    resolve: (_, { first }, ctx) => {
      if (first != null && (first < 1 || first > MAX_ALERTS)) throw badInput('first', `must be between 1 and ${MAX_ALERTS}`);
      return ctx.services.budgetAlerts.list(budgetAlertScope(ctx.principal!), first ?? 50);
    },
  }),
}));

builder.mutationFields((t) => ({
  createWebhook: t.field({
    type: CreatedWebhookRef,
    description: "ADMIN or TEAM_ADMIN (for its own team); returns the signing secret once",
    authScopes: { teamAdmin: true },
    args: { input: t.arg({ type: CreateWebhookInput, required: true, description: 'The new webhook' }) },
    resolve: (_, { input }, ctx) =>
      ctx.services.webhooks.create(ctx.principal!, {
        url: input.url,
        description: input.description,
        teamId: input.team ? keyOf(ctx, input.team, TeamRef, 'input.team') : null,
      }),
  }),
  deleteWebhook: t.field({
    type: WebhookRef,
    description: "ADMIN, or TEAM_ADMIN for its team's; no alert is sent to it any more (deliveries under way stop)",
    authScopes: { teamAdmin: true },
    args: { id: t.arg.globalID({ required: true, description: 'Webhook.id' }) },
    resolve: (_, { id }, ctx) => ctx.services.webhooks.delete(ctx.principal!, keyOf(ctx, id, WebhookRef, 'id')),
  }),
}));

builder.subscriptionFields((t) => ({
  budgetAlerts: t.field({
    type: BudgetAlertRef,
    description: 'Budget alerts as they are raised, on any instance, with the visibility of the budgetAlerts query',
    authScopes: SUBSCRIPTION_SCOPES.budgetAlerts,
    subscribe: (_, __, ctx) => {
      const scope = budgetAlertScope(ctx.principal!);
      return pipe(ctx.services.teamEvents.budgetAlerts(), filter((a: BudgetAlertRow) => readsBudgetAlert(scope, a)));
    },
    resolve: (a: BudgetAlertRow, _, ctx) => {
      // events are rare: fresh loaders for each, so a long-lived subscription never answers a stale team or key
      ctx.loaders = newLoaders(ctx);
      return a;
    },
  }),
}));
