/*
 * zod schemas of the OpenAI-compatible REST routes: the same objects validate requests and generate
 * the OpenAPI document (openapi.ts), so the document cannot drift from what the routes accept.
 * `.meta({ id })` names a schema as an OpenAPI component.
 *
 * Request objects are not strict: fields OpenAI defines that the gateway does not use
 * (frequency_penalty, logprobs, store, parallel_tool_calls…) are accepted and ignored, as OpenAI
 * SDKs send some of them by default.
 * @see https://platform.openai.com/docs/api-reference/chat/create
 */
import { z } from 'zod';
import { JSON_DEPTH_RULE, TEXT_RULE, isStorableText, nestsDeeperThan } from '../../util/input-rules.js';

/** A text field of a request: held to the gateway's text rule (src/util/input-rules.ts), like GraphQL's String. */
const text = () => z.string().refine(isStorableText, TEXT_RULE);

/** A free-form JSON object (prompt variables, tool parameters): any values, bounded in depth. */
const jsonObject = () => z.record(z.string(), z.unknown()).refine((v) => !nestsDeeperThan(v), JSON_DEPTH_RULE);

/** OpenAI's `user`, as the gateway reads it (ChatInput.user in GraphQL). */
const END_USER_NOTE =
  'The end user this call serves (1-256 characters after trimming, no control characters): recorded on the usage record (UsageRecord.user) and limited by the key\'s and team\'s end-user limits. An empty or blank value means none'

/** OpenAI clients send `user: ""` for "no user": over REST an empty or blank `user` is none (GraphQL refuses it). */
export const restEndUser = (user: string | null | undefined): string | null => (user != null && user.trim() !== '' ? user : null);

// ── requests ──────────────────────────────────────────────────────────────────────────────────

const TextPart = z
  .object({ type: z.literal('text'), text: text() })
  .meta({ id: 'TextContentPart', description: 'A text part of a message' });

const ImagePart = z
  .object({
    type: z.literal('image_url'),
    image_url: z.object({
      url: text().meta({ description: 'An http(s) URL or a data:image/… URL' }),
      detail: z.enum(['auto', 'low', 'high']).optional().meta({ description: 'Accepted and ignored' }),
    }),
  })
  .meta({ id: 'ImageContentPart', description: 'An image part; user messages only' });

const TextContent = z.union([text(), z.array(TextPart)]);

const ToolCall = z
  .object({
    id: text().min(1),
    type: z.literal('function'),
    function: z.object({
      name: text().min(1),
      arguments: text().meta({ description: 'JSON-encoded arguments, as the model produced them' }),
    }),
  })
  .meta({ id: 'ToolCall' });

const name = text().optional().meta({ description: 'An optional participant name' });

const SystemMessage = z
  .object({ role: z.enum(['system', 'developer']), content: TextContent, name })
  .meta({ id: 'SystemMessage', description: '`developer` is treated as `system`' });

const UserMessage = z
  .object({ role: z.literal('user'), content: z.union([text(), z.array(z.discriminatedUnion('type', [TextPart, ImagePart]))]), name })
  .meta({ id: 'UserMessage' });

const AssistantMessage = z
  .object({
    role: z.literal('assistant'),
    content: TextContent.nullish(),
    name,
    tool_calls: z.array(ToolCall).optional(),
    refusal: text().nullish().meta({ description: 'Accepted and ignored' }),
  })
  .meta({ id: 'AssistantMessage', description: 'Needs content or tool_calls' });

const ToolMessage = z
  .object({ role: z.literal('tool'), content: TextContent, tool_call_id: text().min(1) })
  .meta({ id: 'ToolMessage', description: 'The result of one tool call' });

const Message = z.discriminatedUnion('role', [SystemMessage, UserMessage, AssistantMessage, ToolMessage]);

const FunctionTool = z
  .object({
    type: z.literal('function'),
    function: z.object({
      name: text().regex(/^[A-Za-z0-9_-]{1,64}$/),
      description: text().optional(),
      parameters: jsonObject().optional().meta({ description: 'JSON Schema of the arguments' }),
      strict: z.boolean().nullish().meta({ description: 'Accepted and ignored' }),
    }),
  })
  .meta({ id: 'FunctionTool' });

const NamedToolChoice = z
  .object({ type: z.literal('function'), function: z.object({ name: text().min(1) }) })
  .meta({ id: 'NamedToolChoice' });

export const ChatCompletionRequest = z
  .object({
    model: text().min(1).meta({ description: 'Public model name (see GET /v1/models)', example: 'echo' }),
    messages: z.array(Message).min(1),
    temperature: z.number().min(0).max(2).nullish(),
    top_p: z.number().gt(0).max(1).nullish(),
    max_tokens: z.int().min(1).nullish().meta({ description: 'Older name of max_completion_tokens' }),
    max_completion_tokens: z.int().min(1).nullish().meta({ description: 'Wins over max_tokens when both are given' }),
    stop: z.union([text().min(1), z.array(text().min(1)).max(16)]).nullish(),
    seed: z.int().nullish(),
    n: z.literal(1).nullish().meta({ description: 'Only one choice is supported' }),
    tools: z.array(FunctionTool).nullish(),
    tool_choice: z.union([z.enum(['auto', 'none', 'required']), NamedToolChoice]).nullish(),
    response_format: z
      .discriminatedUnion('type', [z.object({ type: z.literal('text') }), z.object({ type: z.literal('json_object') })])
      .nullish()
      .meta({ description: '`json_object` asks for JSON mode where the provider supports it; `json_schema` is not supported' }),
    stream: z.boolean().nullish().meta({ description: 'Answer with server-sent `chat.completion.chunk` events ending with `data: [DONE]`' }),
    stream_options: z
      .object({ include_usage: z.boolean().optional() })
      .nullish()
      .meta({ description: 'With include_usage, a last chunk with empty `choices` carries the usage' }),
    metadata: z
      .record(z.string(), z.string())
      .nullish()
      .meta({ description: 'Stored with the usage record' }),
    user: text().nullish().meta({ description: END_USER_NOTE, example: 'user-1234' }),
  })
  .meta({ id: 'CreateChatCompletionRequest' });
export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequest>;

export const EmbeddingsRequest = z
  .object({
    model: text().min(1),
    input: z.union([text(), z.array(text()).min(1).max(2048)]).meta({ description: 'One string or a list of strings (token arrays are not supported)' }),
    encoding_format: z.enum(['float', 'base64']).optional().meta({ description: '`base64`: little-endian float32 bytes, as OpenAI sends them' }),
    user: text().nullish().meta({ description: END_USER_NOTE, example: 'user-1234' }),
  })
  .meta({ id: 'CreateEmbeddingRequest' });
export type EmbeddingsRequest = z.infer<typeof EmbeddingsRequest>;

export const PromptRunRequest = z
  .object({
    version: z.int().min(1).nullish().meta({ description: 'Latest version when left out' }),
    variables: jsonObject()
      .nullish()
      .meta({ description: 'A value for every {{variable}} of the prompt; strings go in as they are, other values as JSON' }),
    stream: z.boolean().nullish(),
    stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
    user: text().nullish().meta({ description: END_USER_NOTE, example: 'user-1234' }),
  })
  .meta({ id: 'RunPromptRequest' });
export type PromptRunRequest = z.infer<typeof PromptRunRequest>;

export const PromptNameParams = z.object({
  name: text().meta({ description: 'Prompt name; percent-encode a `/` in it', example: 'summarise' }),
});

export const ModelIdParams = z.object({
  model: text().meta({ description: 'Public model name; percent-encode a `/` in it', example: 'echo' }),
});

// ── responses ─────────────────────────────────────────────────────────────────────────────────

const Usage = z
  .object({
    prompt_tokens: z.int(),
    completion_tokens: z.int(),
    total_tokens: z.int(),
    prompt_tokens_details: z.object({ cached_tokens: z.int().meta({ description: "Part of prompt_tokens read from the provider's prompt cache" }) }),
    completion_tokens_details: z.object({ reasoning_tokens: z.int().meta({ description: 'Part of completion_tokens spent reasoning' }) }),
  })
  .meta({ id: 'CompletionUsage' });

const FinishReason = z.enum(['stop', 'length', 'tool_calls', 'content_filter']);

export const ChatCompletion = z
  .object({
    id: z.string(),
    object: z.literal('chat.completion'),
    created: z.int().meta({ description: 'Unix seconds' }),
    model: z.string().meta({ description: 'The public model name that was asked for' }),
    choices: z.array(
      z.object({
        index: z.int(),
        message: z.object({
          role: z.literal('assistant'),
          content: z.string().nullable(),
          refusal: z.null(),
          tool_calls: z.array(ToolCall).optional(),
        }),
        finish_reason: FinishReason,
        logprobs: z.null(),
      }),
    ),
    usage: Usage,
  })
  .meta({ id: 'ChatCompletion' });
export type ChatCompletion = z.infer<typeof ChatCompletion>;

const ToolCallDelta = z
  .object({
    index: z.int(),
    id: z.string().optional(),
    type: z.literal('function').optional(),
    function: z.object({ name: z.string().optional(), arguments: z.string().optional() }).optional(),
  })
  .meta({ id: 'ToolCallDelta' });

export const ChatCompletionChunk = z
  .object({
    id: z.string(),
    object: z.literal('chat.completion.chunk'),
    created: z.int(),
    model: z.string(),
    choices: z
      .array(
        z.object({
          index: z.int(),
          delta: z.object({
            role: z.literal('assistant').optional(),
            content: z.string().nullish(),
            tool_calls: z.array(ToolCallDelta).optional(),
          }),
          finish_reason: FinishReason.nullable(),
          logprobs: z.null(),
        }),
      )
      .meta({ description: 'One choice; empty on the usage chunk' }),
    usage: Usage.nullish().meta({ description: 'With stream_options.include_usage: null on every chunk but the last, which carries it' }),
  })
  .meta({
    id: 'ChatCompletionChunk',
    description:
      'One `data:` event of a streamed answer. The first carries delta.role, then content and tool-call deltas, then a chunk with finish_reason, ' +
      'then (with stream_options.include_usage) a chunk with empty choices and usage, then `data: [DONE]`. ' +
      'A failure after the stream started is sent as a `data: {"error": {…}}` event (see ErrorResponse), after which the stream ends without [DONE].',
  });
export type ChatCompletionChunk = z.infer<typeof ChatCompletionChunk>;

export const PromptRunResponse = ChatCompletion.extend({
  prompt: z.object({ name: z.string(), version: z.int() }).meta({ description: 'The prompt and version that ran' }),
}).meta({ id: 'PromptRunResult', description: 'A chat.completion object plus the prompt that produced it' });
export type PromptRunResponse = z.infer<typeof PromptRunResponse>;

const Embedding = z
  .object({
    object: z.literal('embedding'),
    index: z.int(),
    embedding: z.union([z.array(z.number()), z.string()]).meta({ description: 'Floats, or base64 of little-endian float32 with encoding_format=base64' }),
  })
  .meta({ id: 'Embedding' });

export const EmbeddingsResponse = z
  .object({
    object: z.literal('list'),
    data: z.array(Embedding),
    model: z.string(),
    usage: z.object({ prompt_tokens: z.int(), total_tokens: z.int() }),
  })
  .meta({ id: 'CreateEmbeddingResponse' });
export type EmbeddingsResponse = z.infer<typeof EmbeddingsResponse>;

export const Model = z
  .object({
    id: z.string().meta({ description: 'Public model name' }),
    object: z.literal('model'),
    created: z.int().meta({ description: 'Unix seconds' }),
    owned_by: z.string(),
  })
  .meta({ id: 'Model' });
export type Model = z.infer<typeof Model>;

export const ModelList = z.object({ object: z.literal('list'), data: z.array(Model) }).meta({ id: 'ListModelsResponse' });

export const ErrorResponse = z
  .object({
    error: z.object({
      message: z.string(),
      type: z.string().meta({ description: 'invalid_request_error, authentication_error, permission_error, not_found_error, rate_limit_error, api_error or server_error' }),
      param: z.string().nullable().meta({ description: 'The request field at fault, e.g. `messages[0].content`' }),
      code: z.string().nullable().meta({ description: 'The gateway error code (BAD_USER_INPUT, MODEL_NOT_FOUND, RATE_LIMITED…)' }),
    }),
  })
  .meta({ id: 'ErrorResponse' });
export type ErrorResponse = z.infer<typeof ErrorResponse>;
