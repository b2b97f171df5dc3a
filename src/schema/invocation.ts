/* chat, embed and chatStream: each resolver is one call into the gateway core. */
import type { ChatChunk, ChatResult, EmbedResult, UsageOut } from '../gateway/gateway.js';
import type { ToolCall, ToolCallDelta } from '../providers/types.js';
import type { Context } from '../context.js';
import { unauthenticated } from '../errors.js';
import { requireInvoke } from '../services/access.js';
import { builder } from './builder.js';
import { CacheOptionsInput } from './cache-policy.js';
import { SUBSCRIPTION_SCOPES } from './subscription-access.js';
import { FinishReasonEnum, RoleEnum, ContentPartTypeEnum, ToolChoiceModeEnum } from './enums.js';

const ContentPartInput = builder.inputType('ContentPartInput', {
  description: 'One part of a multimodal message: a piece of text or an image',
  fields: (t) => ({
    kind: t.field({ type: ContentPartTypeEnum, description: 'What this part holds. Give `kind` (or, until the next release, `type`).' }),
    type: t.string({ description: 'TEXT or IMAGE_URL, as a string', deprecationReason: 'Use `kind` (the ContentPartType enum); the string form is accepted until the next release.' }),
    text: t.string({ description: 'The text of a TEXT part' }),
    imageUrl: t.string({ description: 'The image of an IMAGE_URL part: an http(s) URL or a data:image/… URL' }),
  }),
});

const ToolCallInput = builder.inputType('ToolCallInput', {
  description: 'A tool call the model made earlier, sent back as part of an ASSISTANT message',
  fields: (t) => ({
    id: t.string({ required: true, description: "The call's id, as the model gave it (a TOOL message answers it by this id)" }),
    name: t.string({ required: true, description: 'The name of the tool called (1-64 letters, digits, _ or -)' }),
    arguments: t.string({ required: true, description: 'JSON-encoded arguments, as the model produced them' }),
  }),
});

const MessageInput = builder.inputType('MessageInput', {
  description: 'One message of the conversation; it needs content, parts or toolCalls',
  fields: (t) => ({
    role: t.field({ type: RoleEnum, required: true, description: 'Who speaks' }),
    content: t.string({ description: 'Plain text content. Use parts for multimodal content.' }),
    parts: t.field({ type: [ContentPartInput], description: 'Multimodal content: text and image parts, in order (image parts on USER messages only)' }),
    toolCalls: t.field({ type: [ToolCallInput], description: 'On ASSISTANT messages: the tool calls the model made.' }),
    toolCallId: t.string({ description: 'On TOOL messages: which call this message answers.' }),
    name: t.string({ description: 'An optional name for the speaker, passed to providers that support it' }),
  }),
});

const ToolInput = builder.inputType('ToolInput', {
  description: 'A function the model may call',
  fields: (t) => ({
    name: t.string({ required: true, description: 'The tool\'s name, unique among the tools of a request (1-64 letters, digits, _ or -)' }),
    description: t.string({ description: 'What the tool does, for the model to decide when to call it' }),
    parameters: t.field({ type: 'JSON', description: 'JSON Schema of the arguments' }),
  }),
});

const ChatInput = builder.inputType('ChatInput', {
  description: 'A chat completion request',
  fields: (t) => ({
    model: t.string({ required: true, description: 'Public model name (an alias the gateway routes)' }),
    messages: t.field({ type: [MessageInput], required: true, description: 'The conversation so far, oldest first (at least one message)' }),
    temperature: t.float({ description: "Sampling temperature, 0 to 2: higher is more random (default: the provider's)" }),
    topP: t.float({ description: "Nucleus sampling: only tokens within this top probability mass, above 0 and at most 1 (default: the provider's)" }),
    maxTokens: t.int({ description: 'The most completion tokens the model may produce; token limits reserve this many for the call (1024 when not given)' }),
    stop: t.stringList({ description: 'Up to 16 non-empty sequences at which the model stops (not included in the answer)' }),
    seed: t.int({ description: 'Asks for deterministic sampling where the provider supports it' }),
    tools: t.field({ type: [ToolInput], description: 'Functions the model may call; their calls come back in message.toolCalls' }),
    toolChoiceMode: t.field({ type: ToolChoiceModeEnum, description: 'Whether the model may, must or must not call a tool (default: the provider decides, usually AUTO)' }),
    forcedTool: t.string({ description: 'The name of one of `tools` the model must call; excludes toolChoiceMode NONE' }),
    toolChoice: t.string({
      description: 'AUTO, NONE, REQUIRED, or the name of one tool, as a string',
      deprecationReason: 'Use `toolChoiceMode` (an enum) or `forcedTool`; the string form is accepted until the next release.',
    }),
    jsonMode: t.boolean({ description: 'Ask for a JSON object answer (JSON mode) where the provider supports it' }),
    metadata: t.field({ type: 'JSON', description: 'Free-form tags stored with the usage record' }),
    cache: t.field({ type: CacheOptionsInput, description: "This call's use of the response cache (default: the key's policy, else the model's, else OFF)" }),
    user: t.string({ description: "The end user this call serves (1-256 characters, OpenAI's `user`): recorded on its usage record and limited by the key's and team's end-user limits. Leave it out for none: an empty or blank value is refused (BAD_USER_INPUT), unlike REST's `user`" }),
  }),
});

const EmbedInput = builder.inputType('EmbedInput', {
  description: 'An embeddings request',
  fields: (t) => ({
    model: t.string({ required: true, description: 'Public name of an embedding model' }),
    input: t.stringList({ required: true, description: 'The texts to embed; one vector comes back for each, in the same order' }),
    user: t.string({ description: "The end user this call serves (1-256 characters): recorded and limited as ChatInput.user; empty or blank is refused" }),
  }),
});

const ToolCallRef = builder.objectRef<ToolCall>('ToolCall').implement({
  description: 'A call of one of the request\'s tools, made by the model',
  fields: (t) => ({
    id: t.exposeString('id', { description: "The call's id: a TOOL message with this toolCallId sends back its result" }),
    name: t.exposeString('name', { description: 'The name of the tool called' }),
    arguments: t.exposeString('arguments', { description: 'JSON-encoded arguments' }),
  }),
});

const MessageRef = builder.objectRef<ChatResult['message']>('Message').implement({
  description: "The model's answer",
  fields: (t) => ({
    role: t.field({ type: RoleEnum, description: 'Always ASSISTANT', resolve: (m) => m.role }),
    content: t.exposeString('content', { nullable: true, description: 'The text of the answer; null when the model only called tools' }),
    toolCalls: t.field({ type: [ToolCallRef], description: 'The tools the model called (empty when it called none)', resolve: (m) => m.toolCalls }),
  }),
});

const UsageRef = builder.objectRef<UsageOut>('Usage').implement({
  description: "Tokens and cost of one invocation, as the provider reported them (counted by the gateway's tokenizer where it reported none)",
  fields: (t) => ({
    promptTokens: t.exposeInt('promptTokens', { description: 'Tokens of the prompt (of the input texts, for embeddings)' }),
    completionTokens: t.exposeInt('completionTokens', { description: 'Tokens of the answer (0 for embeddings)' }),
    totalTokens: t.exposeInt('totalTokens', { description: 'promptTokens plus completionTokens' }),
    cachedInputTokens: t.exposeInt('cachedReadTokens', {
      description: "Part of promptTokens read from the provider's prompt cache, priced at the cached input rate (0 when the provider reported none)",
    }),
    cacheWriteTokens: t.exposeInt('cacheWriteTokens', {
      description: "Part of promptTokens written to the provider's prompt cache (Anthropic, Bedrock), priced at the cache write rate; 0 when none",
    }),
    reasoningTokens: t.exposeInt('reasoningTokens', {
      description: 'Part of completionTokens the model spent reasoning, priced at the reasoning rate (0 when the provider reported none)',
    }),
    costUsd: t.exposeFloat('costUsd', {
      description: "Cost in USD, each kind of token at its own rate: the model's operator prices, else the price catalogue's for the provider model that answered; 0 where neither has a price",
    }),
  }),
});

export const ChatResultRef = builder.objectRef<ChatResult>('ChatResult').implement({
  description: 'The answer to a chat (or runPrompt) call',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The invocation id, which is also the id of its usage record' }),
    model: t.exposeString('model', { description: 'The public model name that was asked for' }),
    provider: t.exposeString('provider', { description: 'Name of the provider that answered' }),
    upstreamModel: t.exposeString('upstreamModel', { description: "The provider's own model id that answered" }),
    message: t.field({ type: MessageRef, description: "The model's answer", resolve: (r) => r.message }),
    finishReason: t.field({ type: FinishReasonEnum, description: 'Why the model stopped', resolve: (r) => r.finishReason }),
    usage: t.field({ type: UsageRef, description: 'Tokens and cost of this call', resolve: (r) => r.usage }),
    latencyMs: t.exposeInt('latencyMs', { description: 'Milliseconds from the gateway receiving the call to its answer, retries and fallbacks included' }),
    attempts: t.exposeInt('attempts', {
      description: 'Upstream attempts made, retries and fallbacks included (1 when the first try answered)',
    }),
  }),
});

const ToolCallDeltaRef = builder.objectRef<ToolCallDelta>('ToolCallDelta').implement({
  description: 'A piece of a tool call in a stream: concatenate the pieces with the same index to get the whole call',
  fields: (t) => ({
    index: t.exposeInt('index', { description: 'Which tool call of the answer this piece belongs to, from 0' }),
    id: t.string({ nullable: true, description: "The call's id; on the call's first piece only", resolve: (d) => d.id ?? null }),
    name: t.string({ nullable: true, description: 'The name of the tool called; on the call\'s first piece only', resolve: (d) => d.name ?? null }),
    argumentsDelta: t.string({ nullable: true, description: 'The next characters of the JSON-encoded arguments', resolve: (d) => d.argumentsDelta ?? null }),
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
    model: t.exposeString('model', { description: 'The public model name that was asked for' }),
    delta: t.exposeString('delta', { description: 'Text added by this event; empty on the final event' }),
    toolCalls: t.field({ type: [ToolCallDeltaRef], nullable: true, description: 'Pieces of tool calls added by this event; null or empty when it adds none', resolve: (c) => c.toolCalls }),
    finishReason: t.field({ type: FinishReasonEnum, nullable: true, description: 'Why the model stopped; set on the final event only', resolve: (c) => c.finishReason }),
    usage: t.field({ type: UsageRef, nullable: true, description: 'Tokens and cost of the whole stream; set on the final event only', resolve: (c) => c.usage }),
  }),
});

const EmbedResultRef = builder.objectRef<EmbedResult>('EmbedResult').implement({
  description: 'The answer to an embed call',
  fields: (t) => ({
    model: t.exposeString('model', { description: 'The public model name that was asked for' }),
    provider: t.exposeString('provider', { description: 'Name of the provider that answered' }),
    vectors: t.field({ type: t.listRef(t.listRef('Float')), description: 'One embedding vector for each input text, in the same order', resolve: (r) => r.vectors }),
    usage: t.field({ type: UsageRef, description: 'Tokens and cost of this call', resolve: (r) => r.usage }),
  }),
});

export const invocationOptions = (ctx: Context) => ({ principal: ctx.principal!, signal: ctx.signal, warnings: ctx.warnings, requestId: ctx.requestId, trace: ctx.trace });

/**
 * The `invoke` scope of the unary invocation fields, checked inline with scope-auth's own errors (builder.ts).
 * scope-auth builds a per-request cache (several Maps) for its first check: on a chat, the hottest call there
 * is, that was a large share of the GraphQL layer's allocations (bench/README.md). The gateway core checks INVOKE
 * again anyway.
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
    description: 'Invoke a model with a conversation and wait for the whole answer (INVOKE scope)',
    args: { input: t.arg({ type: ChatInput, required: true, description: 'The model, the messages and the sampling options' }) },
    resolve: (_, { input }, ctx) => ctx.gateway.chat(input, invokeOptions(ctx, 'chat')),
  }),
  embed: t.field({
    type: EmbedResultRef,
    description: 'Turn texts into embedding vectors (INVOKE scope)',
    args: { input: t.arg({ type: EmbedInput, required: true, description: 'The embedding model and the texts' }) },
    resolve: (_, { input }, ctx) => ctx.gateway.embed(input, invokeOptions(ctx, 'embed')),
  }),
}));

builder.subscriptionFields((t) => ({
  chatStream: t.field({
    type: ChatChunkRef,
    description: 'Tokens as the model produces them; ending the subscription cancels the upstream request',
    authScopes: SUBSCRIPTION_SCOPES.chatStream,
    args: { input: t.arg({ type: ChatInput, required: true, description: 'The model, the messages and the sampling options' }) },
    // the gateway returns its stream channel: never wrap it in another generator, or cancellation waits for the next token
    subscribe: (_, { input }, ctx) => ctx.gateway.stream(input, invocationOptions(ctx)),
    resolve: (chunk) => chunk,
  }),
}));
