/*
 * The request body of POST /v1/responses (OpenAI Responses API), as zod validates it. Fields OpenAI defines that
 * the gateway does not use (include, parallel_tool_calls, truncation, service_tier…) are accepted and ignored, as
 * the SDKs send some of them; fields whose meaning the gateway cannot honour (non-function tools, json_schema,
 * background) are refused with their `param` named rather than silently dropped.
 * @see https://platform.openai.com/docs/api-reference/responses/create
 */
import { z } from 'zod';
import { JSON_DEPTH_RULE, TEXT_RULE, isStorableText, nestsDeeperThan } from '../../../util/input-rules.js';

const text = () => z.string().refine(isStorableText, TEXT_RULE);
const jsonObject = () => z.record(z.string(), z.unknown()).refine((v) => !nestsDeeperThan(v), JSON_DEPTH_RULE);

const InputText = z.object({ type: z.literal('input_text'), text: text() });
const InputImage = z.object({
  type: z.literal('input_image'),
  image_url: text().min(1, 'an http(s) or data: URL is required (file_id is not supported)'),
  detail: z.enum(['auto', 'low', 'high']).nullish(),
  file_id: z.null().optional(),
});
/** Text an assistant message carries when a client sends earlier output back as input. */
const OutputText = z.object({ type: z.literal('output_text'), text: text(), annotations: z.array(z.unknown()).optional() });
const Refusal = z.object({ type: z.literal('refusal'), refusal: text() });

const ContentPart = z.discriminatedUnion('type', [InputText, InputImage, OutputText, Refusal]);
export type ContentPart = z.infer<typeof ContentPart>;

const MessageItem = z.object({
  type: z.literal('message'),
  role: z.enum(['user', 'assistant', 'system', 'developer']),
  content: z.union([text(), z.array(ContentPart)]),
  id: z.string().nullish(),
  status: z.string().nullish(),
});

const FunctionCallItem = z.object({
  type: z.literal('function_call'),
  call_id: text().min(1),
  name: text().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, _ or -'),
  arguments: text(),
  id: z.string().nullish(),
  status: z.string().nullish(),
});

const FunctionCallOutputItem = z.object({
  type: z.literal('function_call_output'),
  call_id: text().min(1),
  output: z.union([text(), z.array(z.discriminatedUnion('type', [InputText, InputImage]))]),
  id: z.string().nullish(),
  status: z.string().nullish(),
});

/** Reasoning items come back when a client sends a previous output as input; the gateway has none to replay. */
const ReasoningItem = z.object({ type: z.literal('reasoning') }).loose();

const Item = z.discriminatedUnion('type', [MessageItem, FunctionCallItem, FunctionCallOutputItem, ReasoningItem]);

/** OpenAI's "easy input message" leaves `type` out: a role alone makes it a message. */
const InputItem = z.preprocess(
  (v) => (v && typeof v === 'object' && !Array.isArray(v) && !('type' in v) && 'role' in v ? { ...v, type: 'message' } : v),
  Item,
);
export type InputItem = z.infer<typeof Item>;

const FunctionTool = z.object({
  type: z.literal('function'),
  name: text().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, _ or -'),
  description: text().nullish(),
  parameters: jsonObject().nullish(),
  strict: z.boolean().nullish(),
});
type FunctionTool = z.infer<typeof FunctionTool>;

const ToolChoice = z.union([z.enum(['none', 'auto', 'required']), z.object({ type: z.literal('function'), name: text().min(1) })]);

const TextFormat = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text') }),
  z.object({ type: z.literal('json_object') }),
]);

export const CreateResponseRequest = z
  .object({
  model: text().min(1).optional().meta({ description: 'Public model name (see GET /v1/models); may be left out with previous_response_id (its model is used)', example: 'echo' }),
  input: z
    .union([text(), z.array(InputItem)])
    .optional()
    .meta({ description: 'A user message, or items: messages (input_text, input_image), function_call, function_call_output; reasoning items are ignored' }),
  instructions: text().nullish(),
  previous_response_id: text()
    .min(1)
    .nullish()
    .meta({ description: "A stored response of this key to continue: its conversation (not its instructions) goes before the input; another key's, an expired or an unknown one is a 404" }),
  tools: z.array(FunctionTool).nullish(),
  tool_choice: ToolChoice.nullish(),
  max_output_tokens: z.int().min(1).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  reasoning: z
    .object({ effort: z.enum(['none', 'minimal', 'low', 'medium', 'high', 'xhigh']).nullish(), summary: z.string().nullish() })
    .loose()
    .nullish(),
  text: z.object({ format: TextFormat.optional(), verbosity: z.string().nullish() }).nullish(),
  metadata: z.record(z.string().max(64), z.string().max(512)).nullish(),
  user: text().nullish(),
  store: z.boolean().nullish().meta({ description: 'Keep the response for GET /v1/responses/{id} and previous_response_id (RESPONSES_TTL_SECONDS, default 30 days). Default true' }),
  stream: z.boolean().nullish().meta({ description: 'Answer with named server-sent events (response.created … response.completed), each with sequence_number' }),
  background: z.literal(false, 'background responses are not supported').nullish(),
  parallel_tool_calls: z.boolean().nullish().meta({ description: 'Accepted and ignored' }),
})
  .meta({ id: 'CreateResponseRequest' });
export type CreateResponseRequest = z.infer<typeof CreateResponseRequest>;

// ── answers (documentation: GET /openapi.json) ──────────────────────────────────────────────────

const OutputTextDoc = z.object({ type: z.literal('output_text'), text: z.string(), annotations: z.array(z.unknown()) });
const ItemStatusDoc = z.enum(['in_progress', 'completed', 'incomplete']);

export const ResponseObjectDoc = z
  .object({
    id: z.string().meta({ description: '`resp_…`' }),
    object: z.literal('response'),
    created_at: z.int().meta({ description: 'Unix seconds' }),
    completed_at: z.int().nullable(),
    status: z.enum(['in_progress', 'completed', 'incomplete', 'failed']),
    error: z.object({ code: z.string(), message: z.string() }).nullable(),
    incomplete_details: z.object({ reason: z.enum(['max_output_tokens', 'content_filter']) }).nullable(),
    instructions: z.string().nullable(),
    max_output_tokens: z.int().nullable(),
    model: z.string().meta({ description: 'The public model name' }),
    output: z.array(
      z.discriminatedUnion('type', [
        z.object({ id: z.string(), type: z.literal('message'), status: ItemStatusDoc, role: z.literal('assistant'), content: z.array(OutputTextDoc) }),
        z.object({ id: z.string(), type: z.literal('function_call'), status: ItemStatusDoc, call_id: z.string(), name: z.string(), arguments: z.string() }),
      ]),
    ),
    parallel_tool_calls: z.boolean(),
    previous_response_id: z.string().nullable(),
    reasoning: z.object({ effort: z.string().nullable(), summary: z.string().nullable() }),
    store: z.boolean(),
    temperature: z.number().nullable(),
    text: z.object({ format: z.object({ type: z.string() }) }),
    tool_choice: z.unknown(),
    tools: z.array(z.unknown()),
    top_p: z.number().nullable(),
    truncation: z.literal('disabled'),
    usage: z
      .object({
        input_tokens: z.int(),
        input_tokens_details: z.object({ cached_tokens: z.int() }),
        output_tokens: z.int(),
        output_tokens_details: z.object({ reasoning_tokens: z.int() }),
        total_tokens: z.int(),
      })
      .nullable(),
    user: z.string().nullable(),
    metadata: z.record(z.string(), z.string()),
  })
  .meta({ id: 'Response' });

export const ResponseStreamEventDoc = z
  .object({
    type: z.string().meta({ description: 'Also the SSE `event:` name' }),
    sequence_number: z.int().meta({ description: '0, 1, 2… in the order sent' }),
  })
  .loose()
  .meta({
    id: 'ResponseStreamEvent',
    description:
      'One event of a streamed response: response.created, response.in_progress, per output item response.output_item.added, ' +
      '(message) response.content_part.added, response.output_text.delta…, response.output_text.done, response.content_part.done, ' +
      '(function call) response.function_call_arguments.delta…, response.function_call_arguments.done, then response.output_item.done; ' +
      'last response.completed, response.incomplete, or response.failed for a failure after the stream started.',
  });

export const ResponseIdParams = z.object({ id: z.string().meta({ description: 'A response id (`resp_…`)', example: 'resp_0123' }) });

export const DeletedResponseDoc = z
  .object({ id: z.string(), object: z.literal('response.deleted'), deleted: z.literal(true) })
  .meta({ id: 'DeletedResponse' });
