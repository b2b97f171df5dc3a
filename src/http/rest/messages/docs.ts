/*
 * zod schemas of what POST /v1/messages answers, for the OpenAPI document only (openapi.ts): the answers are built
 * by to-message.ts, stream-writer.ts and errors.ts, typed there; these describe the same shapes so clients and the
 * routes test can check them. The request schemas are the ones that validate (schema.ts, count-tokens.ts).
 * @see https://docs.anthropic.com/en/api/messages
 */
import { z } from 'zod';
import { CountTokensRequest } from './count-tokens.js';
import { MessagesRequest } from './schema.js';

/** The request schemas under the component names of the document (the same objects' shapes, named). */
export const CreateMessageRequestDoc = MessagesRequest.meta({ id: 'CreateMessageRequest' });
export const CountMessageTokensRequestDoc = CountTokensRequest.meta({
  id: 'CountMessageTokensRequest',
  description: 'A Messages request; max_tokens is not needed',
});

const AnthropicUsageDoc = z
  .object({
    input_tokens: z.int().meta({ description: 'Input tokens neither read from nor written to the prompt cache' }),
    output_tokens: z.int().meta({ description: 'All output tokens, thinking included' }),
    cache_creation_input_tokens: z.int(),
    cache_read_input_tokens: z.int(),
  })
  .meta({ id: 'AnthropicUsage' });

const ContentBlockDoc = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text'), text: z.string(), citations: z.null().optional() }),
  z.object({ type: z.literal('thinking'), thinking: z.string(), signature: z.string() }),
  z.object({ type: z.literal('redacted_thinking'), data: z.string() }),
  z.object({ type: z.literal('tool_use'), id: z.string(), name: z.string(), input: z.record(z.string(), z.unknown()) }),
]);

const StopReasonDoc = z.enum(['end_turn', 'max_tokens', 'stop_sequence', 'tool_use', 'refusal']);

export const AnthropicMessageDoc = z
  .object({
    id: z.string().meta({ description: '`msg_` and the invocation id of the usage record' }),
    type: z.literal('message'),
    role: z.literal('assistant'),
    model: z.string().meta({ description: 'The public model name that was asked for' }),
    content: z.array(ContentBlockDoc),
    stop_reason: StopReasonDoc.nullable(),
    stop_sequence: z.string().nullable(),
    usage: AnthropicUsageDoc,
  })
  .meta({ id: 'AnthropicMessage' });

export const MessageStreamEventDoc = z
  .object({ type: z.string().meta({ description: 'Also the SSE `event:` name' }) })
  .loose()
  .meta({
    id: 'MessageStreamEvent',
    description:
      'One event of a streamed message: message_start, ping, per content block content_block_start, its deltas ' +
      '(text_delta, thinking_delta, signature_delta, input_json_delta) and content_block_stop, then message_delta ' +
      '(stop_reason and usage) and message_stop; a failure after the stream started is an `error` event (AnthropicErrorResponse).',
  });

export const MessageTokensCountDoc = z
  .object({ input_tokens: z.int().meta({ description: "An estimate by the gateway's own tokenizer, whatever model would answer" }) })
  .meta({ id: 'MessageTokensCount' });

export const AnthropicErrorResponseDoc = z
  .object({
    type: z.literal('error'),
    error: z.object({
      type: z.enum([
        'invalid_request_error',
        'authentication_error',
        'permission_error',
        'not_found_error',
        'request_too_large',
        'rate_limit_error',
        'api_error',
        'timeout_error',
        'overloaded_error',
      ]),
      message: z.string(),
    }),
  })
  .meta({ id: 'AnthropicErrorResponse', description: "Anthropic's error shape (https://docs.anthropic.com/en/api/errors)" });
