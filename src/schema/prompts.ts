/* Versioned prompt templates; runPrompt fills placeholders and goes through the same gateway core. */
import type { PromptRow } from '../db/schema.js';
import { readsPrompt } from '../services/access.js';
import { builder } from './builder.js';
import { RoleEnum } from './enums.js';
import { uuidKey } from './global-id.js';
import { ChatResultRef, invocationOptions } from './invocation.js';

const PromptMessageRef = builder.objectRef<{ role: string; content: string }>('PromptMessage').implement({
  fields: (t) => ({
    role: t.field({ type: RoleEnum, resolve: (m) => m.role as typeof RoleEnum.$inferType }),
    content: t.exposeString('content'),
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
    name: t.exposeString('name'),
    version: t.exposeInt('version'),
    model: t.exposeString('model'),
    messages: t.field({ type: [PromptMessageRef], resolve: (p) => p.messages }),
    variables: t.exposeStringList('variables'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const PromptMessageInput = builder.inputType('PromptMessageInput', {
  fields: (t) => ({
    role: t.field({ type: RoleEnum, required: true }),
    content: t.string({ required: true }),
  }),
});

const CreatePromptInput = builder.inputType('CreatePromptInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    model: t.string({ required: true }),
    messages: t.field({ type: [PromptMessageInput], required: true }),
  }),
});

builder.queryFields((t) => ({
  prompts: t.field({
    type: [PromptTemplateRef],
    nullable: true,
    description: 'The templates this key may run: every one for ADMIN; for INVOKE keys, those whose model the key may invoke',
    authScopes: { authenticated: true },
    resolve: (_, __, ctx) => ctx.services.prompts.listFor(ctx.principal!),
  }),
  prompt: t.field({
    type: PromptTemplateRef,
    nullable: true,
    description: 'Latest version unless version is given; null as well when this key may not run it (see prompts)',
    authScopes: { authenticated: true },
    args: { name: t.arg.string({ required: true }), version: t.arg.int() },
    resolve: (_, { name, version }, ctx) => ctx.services.prompts.getFor(ctx.principal!, name, version),
  }),
}));

builder.mutationFields((t) => ({
  runPrompt: t.field({
    type: ChatResultRef,
    description: "Fill a stored prompt's placeholders and invoke its model",
    authScopes: { invoke: true },
    args: { name: t.arg.string({ required: true }), version: t.arg.int(), variables: t.arg({ type: 'JSON' }) },
    resolve: (_, { name, version, variables }, ctx) => ctx.gateway.runPrompt({ name, version, variables }, invocationOptions(ctx)),
  }),
  createPrompt: t.field({
    type: PromptTemplateRef,
    description: 'ADMIN; a new version when the name exists',
    authScopes: { admin: true },
    args: { input: t.arg({ type: CreatePromptInput, required: true }) },
    resolve: (_, { input }, ctx) => ctx.services.prompts.create(input),
  }),
}));
