/*
 * POST /v1/chat/completions: an OpenAI request body → the gateway's ChatInput → gateway.chat / gateway.stream
 * → a `chat.completion` object or `chat.completion.chunk` server-sent events.
 * @see https://platform.openai.com/docs/api-reference/chat/create
 * @see https://platform.openai.com/docs/api-reference/chat-streaming
 */
import { completionUsage } from './completion-usage.js';
import type { ChatInput } from '../../gateway/chat-input.js';
import type { ChatChunk, ChatResult, InvocationOptions } from '../../gateway/gateway.js';
import type { FinishReason, ToolCallDelta } from '../../providers/types.js';
import type { Principal } from '../../services/keys.js';
import { errorResponse, parseBody, readJson, requirePrincipal, sendError, sendJson, warningHeaders, type RestContext } from './http.js';
import { ChatCompletionRequest, restEndUser, type ChatCompletion, type ChatCompletionChunk } from './schemas.js';
import { relayStream } from './stream-relay.js';
import { CACHE_HEADER, cacheOptionsOf } from './cache-headers.js';
import { withParam } from './param.js';

type Part = NonNullable<ChatInput['messages'][number]['parts']>[number];

function textParts(content: string | Array<{ type: 'text'; text: string }>): Pick<ChatInput['messages'][number], 'content' | 'parts'> {
  if (typeof content === 'string') return { content };
  return { content: null, parts: content.map((p): Part => ({ kind: 'TEXT', text: p.text })) };
}

/** The OpenAI request body as the gateway's unified ChatInput. */
function toChatInput(b: ChatCompletionRequest): ChatInput {
  const messages = b.messages.map((m): ChatInput['messages'][number] => {
    const name = 'name' in m && m.name ? { name: m.name } : {};
    switch (m.role) {
      case 'system':
      case 'developer':
        return { role: 'SYSTEM', ...textParts(m.content), ...name };
      case 'user':
        if (typeof m.content === 'string') return { role: 'USER', content: m.content, ...name };
        return {
          role: 'USER',
          content: null,
          parts: m.content.map((p): Part => (p.type === 'text' ? { kind: 'TEXT', text: p.text } : { kind: 'IMAGE_URL', imageUrl: p.image_url.url })),
          ...name,
        };
      case 'assistant':
        return {
          role: 'ASSISTANT',
          ...(m.content == null ? { content: null } : textParts(m.content)),
          ...(m.tool_calls?.length ? { toolCalls: m.tool_calls.map((c) => ({ id: c.id, name: c.function.name, arguments: c.function.arguments })) } : {}),
          ...name,
        };
      case 'tool':
        return { role: 'TOOL', ...textParts(m.content), toolCallId: m.tool_call_id };
    }
  });
  const input: ChatInput = { model: b.model, messages };
  if (b.temperature != null) input.temperature = b.temperature;
  if (b.top_p != null) input.topP = b.top_p;
  const maxTokens = b.max_completion_tokens ?? b.max_tokens;
  if (maxTokens != null) input.maxTokens = maxTokens;
  if (b.stop != null) input.stop = typeof b.stop === 'string' ? [b.stop] : b.stop;
  if (b.seed != null) input.seed = b.seed;
  if (b.tools?.length) {
    input.tools = b.tools.map((t) => ({ name: t.function.name, description: t.function.description ?? null, parameters: t.function.parameters ?? null }));
  }
  if (typeof b.tool_choice === 'string') input.toolChoiceMode = b.tool_choice.toUpperCase() as 'AUTO' | 'NONE' | 'REQUIRED';
  else if (b.tool_choice != null) input.forcedTool = b.tool_choice.function.name;
  if (b.response_format?.type === 'json_object') input.jsonMode = true;
  if (b.metadata) input.metadata = b.metadata;
  const user = restEndUser(b.user);
  if (user != null) input.user = user;
  return input;
}

/**
 * The core validates ChatInput with GraphQL field names (`input.messages[0].toolCalls`); a REST
 * client should see the names it sent (`messages[0].tool_calls`).
 */
function restParam(field: string): string {
  return field
    .replace(/^input\./, '')
    .replace(/\.toolCalls\[(\d+)\]\.(name|arguments)/g, '.tool_calls[$1].function.$2')
    .replace(/\.toolCalls/g, '.tool_calls')
    .replace(/\.toolCallId/g, '.tool_call_id')
    .replace(/\.parts\[(\d+)\]\.imageUrl/g, '.content[$1].image_url.url')
    .replace(/\.parts/g, '.content')
    .replace(/^tools\[(\d+)\]\.(name|description|parameters)/, 'tools[$1].function.$2')
    .replace(/^topP$/, 'top_p')
    .replace(/^maxTokens$/, 'max_completion_tokens')
    .replace(/^(toolChoice|toolChoiceMode|forcedTool)$/, 'tool_choice')
    .replace(/^jsonMode$/, 'response_format');
}

/** Renames the field of a BAD_USER_INPUT raised by the core; other errors pass unchanged. */
export const withRestParam = (err: unknown): unknown => withParam(err, restParam);

const FINISH: Record<FinishReason, ChatCompletion['choices'][number]['finish_reason']> = {
  STOP: 'stop',
  LENGTH: 'length',
  TOOL_CALLS: 'tool_calls',
  CONTENT_FILTER: 'content_filter',
  // only a failed stream ends with ERROR, and that becomes an error event instead
  ERROR: 'stop',
};

const completionId = (invocationId: string) => `chatcmpl-${invocationId}`;
const unixNow = () => Math.floor(Date.now() / 1000);

function toChatCompletion(r: ChatResult): ChatCompletion {
  const toolCalls = r.message.toolCalls.map((c) => ({ id: c.id, type: 'function' as const, function: { name: c.name, arguments: c.arguments } }));
  return {
    id: completionId(r.id),
    object: 'chat.completion',
    created: unixNow(),
    model: r.model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: r.message.content, refusal: null, ...(toolCalls.length ? { tool_calls: toolCalls } : {}) },
        finish_reason: FINISH[r.finishReason],
        logprobs: null,
      },
    ],
    usage: completionUsage(r.usage),
  };
}

function toolCallDeltas(deltas: ToolCallDelta[]) {
  return deltas.map((d) => ({
    index: d.index,
    ...(d.id ? { id: d.id, type: 'function' as const } : {}),
    function: { ...(d.name ? { name: d.name } : {}), arguments: d.argumentsDelta ?? '' },
  }));
}

/**
 * Streams the gateway's chunks as `chat.completion.chunk` events (the rules every REST stream shares:
 * stream-relay.ts). After the first event, a failure or a key change that ends the stream is OpenAI's in-stream
 * error object, as it ends a chatStream subscription; `[DONE]` only follows a finished answer.
 */
function streamChatCompletion(
  ctx: RestContext,
  stream: AsyncIterable<ChatChunk>,
  opts: { includeUsage: boolean; headers: Record<string, string>; principal: Principal; model: string },
): Promise<void> {
  return relayStream(ctx, stream, {
    headers: opts.headers,
    principal: opts.principal,
    model: opts.model,
    sendError: (err) => sendError(ctx, err),
    open: (first, sse) => {
      const id = completionId(first.invocationId);
      const created = unixNow();
      const { model } = first;
      const usageNull = opts.includeUsage ? { usage: null } : {};
      // the fixed fields are written out and only the usage part is spread, last: a leading spread followed by
      // more keys builds a new hidden class for every chunk on Node 20's V8 (see withModel)
      const frame = (choices: ChatCompletionChunk['choices'], usagePart: Pick<ChatCompletionChunk, 'usage'> | object): ChatCompletionChunk => ({
        id,
        object: 'chat.completion.chunk',
        created,
        model,
        choices,
        ...usagePart,
      });
      const chunk = (delta: ChatCompletionChunk['choices'][number]['delta'], finish: ChatCompletionChunk['choices'][number]['finish_reason'] = null) =>
        frame([{ index: 0, delta, finish_reason: finish, logprobs: null }], usageNull);
      let usage: ChatChunk['usage'] = null;
      let finished = false;
      return {
        start: async () => void (await sse.send(chunk({ role: 'assistant', content: '' }))),
        async chunk(c) {
          if (c.delta) await sse.send(chunk({ content: c.delta }));
          if (c.toolCalls?.length) await sse.send(chunk({ tool_calls: toolCallDeltas(c.toolCalls) }));
          if (c.finishReason) {
            await sse.send(chunk({}, FINISH[c.finishReason]));
            usage = c.usage;
            finished = true;
          }
        },
        async end(endedBy) {
          if (endedBy && !sse.closed) await sse.send(errorResponse(endedBy).body);
          if (!finished || sse.closed) return;
          if (opts.includeUsage && usage) await sse.send(frame([], { usage: completionUsage(usage) }));
          await sse.send('[DONE]');
        },
        // OpenAI's own in-stream error shape; SDKs raise it as an APIError
        error: async (err) => void (await sse.send(errorResponse(err).body)),
      };
    },
  });
}

/** Runs a ChatInput through the core and answers as Chat Completions does (JSON or SSE). */
export async function respondChat(
  ctx: RestContext,
  input: ChatInput,
  invocation: InvocationOptions & { warnings: string[] },
  mode: { stream: boolean; includeUsage: boolean; extra?: Record<string, unknown> },
): Promise<void> {
  const { gateway } = ctx.services;
  const cache = cacheOptionsOf(ctx.req.headers);
  if (cache) input = { ...input, cache };
  // set by the cache step before any upstream is asked, so it is known when the headers go out (streams too)
  let cacheResult: string | undefined;
  invocation = { ...invocation, onCacheLookup: (r) => (cacheResult = r) };
  const headers = () => ({ ...warningHeaders(invocation.warnings), ...(cacheResult ? { [CACHE_HEADER]: cacheResult } : {}) });
  if (mode.stream) {
    const stream = await gateway.stream(input, invocation).catch((e: unknown) => Promise.reject(withRestParam(e)));
    return streamChatCompletion(ctx, stream, {
      includeUsage: mode.includeUsage,
      headers: headers(),
      principal: invocation.principal,
      model: input.model,
    });
  }
  const result = await gateway.chat(input, invocation).catch((e: unknown) => Promise.reject(withRestParam(e)));
  const completion = toChatCompletion(result);
  sendJson(ctx.res, 200, mode.extra ? Object.assign(completion, mode.extra) : completion, headers());
}

export async function handleChatCompletions(ctx: RestContext): Promise<void> {
  const principal = await requirePrincipal(ctx);
  const body = parseBody(ChatCompletionRequest, await readJson(ctx));
  await respondChat(ctx, toChatInput(body), { principal, signal: ctx.signal, warnings: [], requestId: ctx.requestId, trace: ctx.trace }, {
    stream: body.stream === true,
    includeUsage: body.stream_options?.include_usage === true,
  });
}
