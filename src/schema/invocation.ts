/* chat, embed and chatStream: each resolver is one call into the gateway core. */
import type { ChatChunk, ChatResult, EmbedResult, UsageOut } from '../gateway/gateway.js';
import type { ToolCall, ToolCallDelta } from '../providers/types.js';
import type { Context } from '../context.js';
import { unauthenticated } from '../errors.js';
import { requireInvoke } from '../services/access.js';
import { builder } from './builder.js';
import { FinishReasonEnum, RoleEnum, ContentPartTypeEnum, ToolChoiceModeEnum } from './enums.js';

export const ContentPartInput = builder.inputType('ContentPartInput', {
  fields: (t) => ({
    kind: t.field({ type: ContentPartTypeEnum, description: 'What this part holds. Give `kind` (or, until the next release, `type`).' }),
    type: t.string({ description: 'TEXT or IMAGE_URL, as a string', deprecationReason: 'Use `kind` (the ContentPartType enum); the string form is accepted until the next release.' }),
    text: t.string(),
    imageUrl: t.string(),
  }),
});

export const ToolCallInput = builder.inputType('ToolCallInput', {
  fields: (t) => ({
    id: t.string({ required: true }),
    name: t.string({ required: true }),
    arguments: t.string({ required: true, description: 'JSON-encoded arguments, as the model produced them' }),
  }),
});

export const MessageInput = builder.inputType('MessageInput', {
  fields: (t) => ({
    role: t.field({ type: RoleEnum, required: true }),
    content: t.string({ description: 'Plain text content. Use parts for multimodal content.' }),
    parts: t.field({ type: [ContentPartInput] }),
    toolCalls: t.field({ type: [ToolCallInput], description: 'On ASSISTANT messages: the tool calls the model made.' }),
    toolCallId: t.string({ description: 'On TOOL messages: which call this message answers.' }),
    name: t.string(),
  }),
});

export const ToolInput = builder.inputType('ToolInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    description: t.string(),
    parameters: t.field({ type: 'JSON', description: 'JSON Schema of the arguments' }),
  }),
});

export const ChatInput = builder.inputType('ChatInput', {
  fields: (t) => ({
    model: t.string({ required: true, description: 'Public model name (an alias the gateway routes)' }),
    messages: t.field({ type: [MessageInput], required: true }),
    temperature: t.float(),
    topP: t.float(),
    maxTokens: t.int(),
    stop: t.stringList(),
    seed: t.int(),
    tools: t.field({ type: [ToolInput] }),
    toolChoiceMode: t.field({ type: ToolChoiceModeEnum, description: 'Whether the model may, must or must not call a tool (default: the provider decides, usually AUTO)' }),
    forcedTool: t.string({ description: 'The name of one of `tools` the model must call; excludes toolChoiceMode NONE' }),
    toolChoice: t.string({
      description: 'AUTO, NONE, REQUIRED, or the name of one tool, as a string',
      deprecationReason: 'Use `toolChoiceMode` (an enum) or `forcedTool`; the string form is accepted until the next release.',
    }),
    jsonMode: t.boolean({ description: 'Ask for a JSON object answer (JSON mode) where the provider supports it' }),
    metadata: t.field({ type: 'JSON', description: 'Free-form tags stored with the usage record' }),
  }),
});

export const EmbedInput = builder.inputType('EmbedInput', {
  fields: (t) => ({
    model: t.string({ required: true }),
    input: t.stringList({ required: true }),
  }),
});

export const ToolCallRef = builder.objectRef<ToolCall>('ToolCall').implement({
  fields: (t) => ({
    id: t.exposeString('id'),
    name: t.exposeString('name'),
    arguments: t.exposeString('arguments', { description: 'JSON-encoded arguments' }),
  }),
});

export const MessageRef = builder.objectRef<ChatResult['message']>('Message').implement({
  fields: (t) => ({
    role: t.field({ type: RoleEnum, resolve: (m) => m.role }),
    content: t.exposeString('content', { nullable: true }),
    toolCalls: t.field({ type: [ToolCallRef], resolve: (m) => m.toolCalls }),
  }),
});

export const UsageRef = builder.objectRef<UsageOut>('Usage').implement({
  fields: (t) => ({
    promptTokens: t.exposeInt('promptTokens'),
    completionTokens: t.exposeInt('completionTokens'),
    totalTokens: t.exposeInt('totalTokens'),
    costUsd: t.exposeFloat('costUsd', { description: "Cost in USD from the model's prices; 0 where no price is set" }),
  }),
});

export const ChatResultRef = builder.objectRef<ChatResult>('ChatResult').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    model: t.exposeString('model', { description: 'The public model name that was asked for' }),
    provider: t.exposeString('provider', { description: 'Name of the provider that answered' }),
    upstreamModel: t.exposeString('upstreamModel', { description: "The provider's own model id that answered" }),
    message: t.field({ type: MessageRef, resolve: (r) => r.message }),
    finishReason: t.field({ type: FinishReasonEnum, resolve: (r) => r.finishReason }),
    usage: t.field({ type: UsageRef, resolve: (r) => r.usage }),
    latencyMs: t.exposeInt('latencyMs'),
    attempts: t.exposeInt('attempts', {
      description: 'Upstream attempts made, retries and fallbacks included (1 when the first try answered)',
    }),
  }),
});

export const ToolCallDeltaRef = builder.objectRef<ToolCallDelta>('ToolCallDelta').implement({
  fields: (t) => ({
    index: t.exposeInt('index'),
    id: t.string({ nullable: true, resolve: (d) => d.id ?? null }),
    name: t.string({ nullable: true, resolve: (d) => d.name ?? null }),
    argumentsDelta: t.string({ nullable: true, resolve: (d) => d.argumentsDelta ?? null }),
  }),
});

export const ChatChunkRef = builder.objectRef<ChatChunk>('ChatChunk').implement({
  description: 'One event of a streamed chat. The last event carries finishReason and usage.',
  fields: (t) => ({
    id: t.id({
      description: "This event's own identity (the invocation id and the event's index), so a normalising client cache keeps every event",
      resolve: (c) => `${c.invocationId}:${c.index}`,
    }),
    invocationId: t.exposeID('invocationId', { description: 'The invocation this event belongs to: the same on every event of a stream, and the invocationId of its usage record' }),
    index: t.exposeInt('index', { description: 'Position of this event in the stream, from 0' }),
    model: t.exposeString('model'),
    delta: t.exposeString('delta', { description: 'Text added by this event; empty on the final event' }),
    toolCalls: t.field({ type: [ToolCallDeltaRef], nullable: true, resolve: (c) => c.toolCalls }),
    finishReason: t.field({ type: FinishReasonEnum, nullable: true, resolve: (c) => c.finishReason }),
    usage: t.field({ type: UsageRef, nullable: true, resolve: (c) => c.usage }),
  }),
});

export const EmbedResultRef = builder.objectRef<EmbedResult>('EmbedResult').implement({
  fields: (t) => ({
    model: t.exposeString('model'),
    provider: t.exposeString('provider'),
    vectors: t.field({ type: t.listRef(t.listRef('Float')), resolve: (r) => r.vectors }),
    usage: t.field({ type: UsageRef, resolve: (r) => r.usage }),
  }),
});

export const invocationOptions = (ctx: Context) => ({ principal: ctx.principal!, signal: ctx.signal, warnings: ctx.warnings, requestId: ctx.requestId });

/**
 * The `invoke` scope of the unary invocation fields, checked inline with scope-auth's own errors (builder.ts).
 * scope-auth builds a per-request cache (several Maps) for its first check: on a chat, the hottest call there
 * is, that was a tenth of the GraphQL layer's allocations. The gateway core checks INVOKE again anyway.
 */
function invokeOptions(ctx: Context, field: string) {
  const p = ctx.principal;
  if (!p) throw unauthenticated();
  requireInvoke(p, `Mutation.${field}`);
  return invocationOptions(ctx);
}

builder.mutationFields((t) => ({
  chat: t.field({
    type: ChatResultRef,
    args: { input: t.arg({ type: ChatInput, required: true }) },
    resolve: (_, { input }, ctx) => ctx.gateway.chat(input, invokeOptions(ctx, 'chat')),
  }),
  embed: t.field({
    type: EmbedResultRef,
    args: { input: t.arg({ type: EmbedInput, required: true }) },
    resolve: (_, { input }, ctx) => ctx.gateway.embed(input, invokeOptions(ctx, 'embed')),
  }),
}));

builder.subscriptionFields((t) => ({
  chatStream: t.field({
    type: ChatChunkRef,
    description: 'Tokens as the model produces them; ending the subscription cancels the upstream request',
    authScopes: { invoke: true },
    args: { input: t.arg({ type: ChatInput, required: true }) },
    // the gateway returns its stream channel: never wrap it in another generator, or cancellation waits for the next token
    subscribe: (_, { input }, ctx) => ctx.gateway.stream(input, invocationOptions(ctx)),
    resolve: (chunk) => chunk,
  }),
}));
