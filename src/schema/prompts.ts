/* Versioned prompt templates; runPrompt and promptStream fill placeholders on the server and go through the same gateway core. */
import type { PromptRow } from '../db/schema.js';
import { readsPrompt } from '../services/access.js';
import { builder } from './builder.js';
import { RoleEnum } from './enums.js';
import { uuidKey } from './global-id.js';
import { ChatChunkRef, ChatResultRef, invocationOptions } from './invocation.js';
import { SUBSCRIPTION_SCOPES } from './subscription-access.js';
import { TeamRef } from './team-ref.js';

const PromptMessageRef = builder.objectRef<{ role: string; content: string }>('PromptMessage').implement({
  description: 'One message of a prompt template',
  fields: (t) => ({
    role: t.field({ type: RoleEnum, description: 'Who speaks', resolve: (m) => m.role as typeof RoleEnum.$inferType }),
    content: t.exposeString('content', { description: 'The text, with {{variable}} placeholders' }),
  }),
});

const PromptTemplateRef = builder.nodeRef<PromptRow, string | null>('PromptTemplate', {
  id: { resolve: (p) => p.id, parse: uuidKey },
  // as `prompts`: a template this key may not run is null, as one that does not exist
  loadMany: async (ids, ctx) => (await ctx.services.prompts.byIds(ids as string[])).map((p) => (p && readsPrompt(ctx.principal!, p) ? p : null)),
});
PromptTemplateRef.implement({
  description: 'A named, versioned prompt: messages with {{variable}} placeholders, bound to a model.',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'The name shared by all its versions' }),
    version: t.exposeInt('version', { description: 'Version number: 1 for the first, one more for each createPrompt with the same name' }),
    model: t.exposeString('model', { description: 'The public model name runPrompt invokes' }),
    messages: t.field({ type: [PromptMessageRef], description: 'The messages sent, once placeholders are filled', resolve: (p) => p.messages }),
    variables: t.exposeStringList('variables', { description: 'The placeholder names used in the messages, each of which runPrompt requires' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When this version was created' }),
    team: t.field({
      type: TeamRef,
      nullable: true,
      description: "The team that owns it (only that team's keys read it); null: the gateway's, read by every key",
      resolve: (p, _, ctx) => (p.teamId ? ctx.loaders.team.load(p.teamId) : null),
    }),
  }),
});

const PromptMessageInput = builder.inputType('PromptMessageInput', {
  description: 'One message of a new prompt template',
  fields: (t) => ({
    role: t.field({ type: RoleEnum, required: true, description: 'Who speaks' }),
    content: t.string({ required: true, description: 'The text (not empty); {{name}} marks a placeholder filled by runPrompt' }),
  }),
});

const CreatePromptInput = builder.inputType('CreatePromptInput', {
  description: 'A new prompt template, or a new version of one',
  fields: (t) => ({
    name: t.string({ required: true, description: 'Name: 1-128 letters, digits and . _ : / - (not starting with a symbol); an existing name gets a new version' }),
    model: t.string({ required: true, description: 'The public model name runPrompt invokes' }),
    messages: t.field({ type: [PromptMessageInput], required: true, description: 'The messages (at least one)' }),
  }),
});

builder.queryFields((t) => ({
  prompts: t.field({
    type: [PromptTemplateRef],
    nullable: true,
    description:
      "The templates this key may run: every one for ADMIN; for INVOKE keys, the gateway's and their team's whose model the key may invoke; for a TEAM_ADMIN also all of its team's",
    authScopes: { authenticated: true },
    resolve: (_, __, ctx) => ctx.services.prompts.listFor(ctx.principal!),
  }),
  prompt: t.field({
    type: PromptTemplateRef,
    nullable: true,
    description: 'Latest version unless version is given; null as well when this key may not run it (see prompts)',
    authScopes: { authenticated: true },
    args: { name: t.arg.string({ required: true, description: 'The template name' }), version: t.arg.int({ description: 'A version number (default: the latest)' }) },
    resolve: (_, { name, version }, ctx) => ctx.services.prompts.getFor(ctx.principal!, name, version),
  }),
}));

builder.mutationFields((t) => ({
  runPrompt: t.field({
    type: ChatResultRef,
    description: "Fill a stored prompt's placeholders and invoke its model",
    authScopes: { invoke: true },
    args: {
      name: t.arg.string({ required: true, description: 'The template name' }),
      version: t.arg.int({ description: 'A version number (default: the latest)' }),
      variables: t.arg({ type: 'JSON', description: 'A JSON object with a value for each of the template\'s variables, and no others (non-string values are inserted as JSON)' }),
      user: t.arg.string({ description: 'The end user this run serves, as ChatInput.user (1-256 characters)' }),
    },
    resolve: (_, { name, version, variables, user }, ctx) => ctx.gateway.runPrompt({ name, version, variables, user }, invocationOptions(ctx)),
  }),
  createPrompt: t.field({
    type: PromptTemplateRef,
    description:
      "ADMIN, or TEAM_ADMIN (the template belongs to its team, which only that team's keys read); a new version when the name exists, which keeps the name's team and takes a key that manages it",
    authScopes: { teamAdmin: true },
    args: { input: t.arg({ type: CreatePromptInput, required: true, description: 'The template' }) },
    resolve: (_, { input }, ctx) => ctx.services.prompts.create(input, ctx.principal!),
  }),
}));

builder.subscriptionFields((t) => ({
  promptStream: t.field({
    type: ChatChunkRef,
    description: "runPrompt's answer as chatStream streams it: a stored prompt filled on the server, its tokens as the model produces them; ending the subscription cancels the upstream request",
    authScopes: SUBSCRIPTION_SCOPES.promptStream,
    args: {
      name: t.arg.string({ required: true, description: 'The template name' }),
      version: t.arg.int({ description: 'A version number (default: the latest)' }),
      variables: t.arg({ type: 'JSON', description: 'A JSON object with a value for each of the template\'s variables, and no others (non-string values are inserted as JSON)' }),
      user: t.arg.string({ description: 'The end user this run serves, as ChatInput.user (1-256 characters)' }),
    },
    // the gateway's stream channel as it is: another generator around it would delay cancellation to the next token
    subscribe: async (_, { name, version, variables, user }, ctx) => {
      const { model, chunks } = await ctx.gateway.streamPrompt({ name, version, variables, user }, invocationOptions(ctx));
      ctx.invokedModel = model;
      return chunks;
    },
    resolve: (chunk) => chunk,
  }),
}));
