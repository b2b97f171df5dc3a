/*
 * GET /openapi.json: the OpenAPI 3.1 document of the REST routes, generated from the zod schemas in
 * schemas.ts, the same objects that validate the requests. Built once, on first use.
 */
import { OpenAPIRegistry, OpenApiGeneratorV31, type ResponseConfig, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import { z, type ZodType } from 'zod';
import {
  ChatCompletion,
  ChatCompletionChunk,
  ChatCompletionRequest,
  EmbeddingsRequest,
  EmbeddingsResponse,
  ErrorResponse,
  Model,
  ModelIdParams,
  ModelList,
  PromptNameParams,
  PromptRunRequest,
  PromptRunResponse,
} from './schemas.js';
import { CreateResponseRequest, DeletedResponseDoc, ResponseIdParams, ResponseObjectDoc, ResponseStreamEventDoc } from './responses/schemas.js';
import {
  AnthropicErrorResponseDoc,
  AnthropicMessageDoc,
  CountMessageTokensRequestDoc,
  CreateMessageRequestDoc,
  MessageStreamEventDoc,
  MessageTokensCountDoc,
} from './messages/docs.js';

const json = (schema: ZodType) => ({ 'application/json': { schema } });

const error = (description: string, headers?: ResponseConfig['headers']): ResponseConfig => ({ description, content: json(ErrorResponse), ...(headers ? { headers } : {}) });

const retryAfter = { 'retry-after': { description: 'Seconds to wait before retrying (RATE_LIMITED)', schema: { type: 'integer' as const, minimum: 1 } } };

/** The failures every authenticated route can answer. */
const common: RouteConfig['responses'] = {
  400: error('BAD_USER_INPUT: the body is not valid JSON, or a field or path parameter is invalid; `param` names it'),
  401: error('UNAUTHENTICATED: missing, unknown, revoked or expired key'),
  500: error('Unexpected error (details are logged, never returned)'),
};

const bodyErrors: RouteConfig['responses'] = {
  413: error('The request body is larger than the limit (2 MiB by default)'),
};

/** The failures of an invocation. */
const invocation: RouteConfig['responses'] = {
  ...common,
  403: error('FORBIDDEN: the key lacks the INVOKE scope or may not use this model'),
  ...bodyErrors,
  404: error('MODEL_NOT_FOUND (or NOT_FOUND for an unknown prompt)'),
  410: error('MODEL_RETIRED: the model is retired and no longer served'),
  429: error('RATE_LIMITED or QUOTA_EXCEEDED', retryAfter),
  502: error('UPSTREAM_ERROR: every target failed, after retries and fallbacks'),
  504: error('UPSTREAM_TIMEOUT: every attempt timed out'),
};

/** /v1/messages answers every failure in Anthropic's shape, with Anthropic's error type for each status. */
const anthropicError = (description: string, headers?: ResponseConfig['headers']): ResponseConfig => ({
  description,
  content: json(AnthropicErrorResponseDoc),
  ...(headers ? { headers } : {}),
});

const anthropicCommon: RouteConfig['responses'] = {
  400: anthropicError('invalid_request_error (BAD_USER_INPUT): the body is not valid JSON, or a field is invalid; the message names it'),
  401: anthropicError('authentication_error: missing, unknown, revoked or expired key'),
  403: anthropicError('permission_error: the key lacks the INVOKE scope or may not use this model'),
  413: anthropicError('request_too_large: the request body is larger than the limit (2 MiB by default)'),
  500: anthropicError('api_error: unexpected error (details are logged, never returned)'),
};

/** Either of Anthropic's ways to send the key (its SDKs send `x-api-key`; with an auth token, Bearer). */
const anthropicSecurity: Array<Record<string, string[]>> = [{ apiKeyAuth: [] }, { bearerAuth: [] }];

const lifecycleHeaders = {
  deprecation: { description: 'Present (`true`) when the model is DEPRECATED: it still answers, but will be retired', schema: { type: 'string' as const } },
  'x-gateway-warning': { description: 'Warnings of the invocation, e.g. the deprecation notice', schema: { type: 'string' as const } },
};

/** The response cache's request headers (over the key's and the model's policies; see the README's Caching section). */
const cacheRequestHeaders = z.object({
  'x-gateway-cache': z
    .enum(['off', 'exact', 'semantic'])
    .optional()
    .meta({ description: "This call's cache mode, over the key's and the model's (default: theirs, else off); any other value is a 400 naming the header" }),
  'x-gateway-cache-ttl': z
    .string()
    .regex(/^\d+$/)
    .optional()
    .meta({ description: "How long this call's answer is kept in the cache, 1 to 2592000 seconds; any other value is a 400 naming the header" }),
});

const chatHeaders = {
  ...lifecycleHeaders,
  'x-gateway-cache': {
    description: 'Whether the response cache answered: HIT-EXACT, HIT-SEMANTIC or MISS; absent when the cache was not consulted (mode off)',
    schema: { type: 'string' as const, enum: ['HIT-EXACT', 'HIT-SEMANTIC', 'MISS'] },
  },
};

const chatAnswer = (description: string, schema: ZodType): ResponseConfig => ({
  description,
  headers: chatHeaders,
  content: {
    'application/json': { schema },
    // as OpenAI's own document does: the schema of each event's `data:` JSON (the stream ends with `data: [DONE]`)
    'text/event-stream': { schema: ChatCompletionChunk },
  },
});

function build() {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description: 'A gateway API key: `Authorization: Bearer gw_…`',
  });
  registry.registerComponent('securitySchemes', 'apiKeyAuth', {
    type: 'apiKey',
    in: 'header',
    name: 'x-api-key',
    description: 'A gateway API key as Anthropic clients send theirs: `x-api-key: gw_…` (the /v1/messages routes only)',
  });

  registry.registerPath({
    method: 'post',
    path: '/v1/chat/completions',
    operationId: 'createChatCompletion',
    tags: ['Chat'],
    summary: 'Create a chat completion (OpenAI-compatible)',
    description:
      'Same keys, limits, routing and usage records as the GraphQL `chat` and `chatStream`. ' +
      'With `stream: true` the answer is server-sent ChatCompletionChunk events; a client disconnect aborts the upstream call.',
    request: { headers: cacheRequestHeaders, body: { required: true, content: json(ChatCompletionRequest) } },
    responses: { 200: chatAnswer('A chat.completion object, or a stream of chat.completion.chunk events', ChatCompletion), ...invocation },
  });

  registry.registerPath({
    method: 'post',
    path: '/v1/embeddings',
    operationId: 'createEmbedding',
    tags: ['Embeddings'],
    summary: 'Create embeddings (OpenAI-compatible)',
    request: { body: { required: true, content: json(EmbeddingsRequest) } },
    responses: { 200: { description: 'One embedding per input string', headers: lifecycleHeaders, content: json(EmbeddingsResponse) }, ...invocation },
  });

  registry.registerPath({
    method: 'get',
    path: '/v1/models',
    operationId: 'listModels',
    tags: ['Models'],
    summary: 'List the models this key may invoke',
    description: 'The same models as the GraphQL `models` query: retired models and models outside the key\'s allow-list are left out, and a key without the INVOKE scope gets an empty list.',
    responses: { 200: { description: 'The models', content: json(ModelList) }, ...common },
  });

  registry.registerPath({
    method: 'get',
    path: '/v1/models/{model}',
    operationId: 'retrieveModel',
    tags: ['Models'],
    summary: 'Retrieve one model this key may invoke',
    request: { params: ModelIdParams },
    responses: {
      200: { description: 'The model', content: json(Model) },
      ...common,
      404: error('MODEL_NOT_FOUND: unknown, or not invocable with this key (a key without INVOKE invokes none)'),
      410: error('MODEL_RETIRED'),
    },
  });

  registry.registerPath({
    method: 'post',
    path: '/v1/prompts/{name}/run',
    operationId: 'runPrompt',
    tags: ['Prompts'],
    summary: 'Run a stored prompt template',
    description:
      "Fills the prompt's {{variable}} placeholders and invokes its model, like the GraphQL `runPrompt`. " +
      'A missing or unknown variable is a 400 whose `param` is `variables.<name>`. The usage record carries `{prompt, promptVersion}` in its metadata. ' +
      'A prompt whose model the key may not invoke is answered as unknown (404), as GraphQL `prompt` answers null for it.',
    request: { params: PromptNameParams, headers: cacheRequestHeaders, body: { required: true, content: json(PromptRunRequest) } },
    responses: { 200: chatAnswer('A chat.completion object plus `prompt`, or (stream: true) chat.completion.chunk events', PromptRunResponse), ...invocation },
  });

  registry.registerPath({
    method: 'post',
    path: '/v1/responses',
    operationId: 'createResponse',
    tags: ['Responses'],
    summary: 'Create a response (OpenAI Responses API)',
    description:
      'Same keys, limits, routing and usage records as chat completions, over any provider kind. Function tools only; ' +
      '`text.format` text or json_object. With `stream: true` the answer is named server-sent events (ResponseStreamEvent). ' +
      'Stored (`store`, the default) for GET /v1/responses/{id} and `previous_response_id` for RESPONSES_TTL_SECONDS.',
    request: { headers: cacheRequestHeaders, body: { required: true, content: json(CreateResponseRequest) } },
    responses: {
      200: {
        description: 'A Response object, or a stream of ResponseStreamEvent',
        headers: chatHeaders,
        content: { 'application/json': { schema: ResponseObjectDoc }, 'text/event-stream': { schema: ResponseStreamEventDoc } },
      },
      ...invocation,
      404: error('MODEL_NOT_FOUND, or NOT_FOUND for a previous_response_id that is unknown, expired or another key\'s (`param` names it)'),
    },
  });

  registry.registerPath({
    method: 'get',
    path: '/v1/responses/{id}',
    operationId: 'retrieveResponse',
    tags: ['Responses'],
    summary: 'Retrieve a stored response',
    description: 'Only the key that created it, or an ADMIN key; to any other key it does not exist (404), as OpenAI answers.',
    request: { params: ResponseIdParams },
    responses: { 200: { description: 'The Response as it was returned', content: json(ResponseObjectDoc) }, ...common, 404: error('NOT_FOUND: unknown, expired, or another key\'s') },
  });

  registry.registerPath({
    method: 'delete',
    path: '/v1/responses/{id}',
    operationId: 'deleteResponse',
    tags: ['Responses'],
    summary: 'Delete a stored response',
    request: { params: ResponseIdParams },
    responses: { 200: { description: 'Deleted', content: json(DeletedResponseDoc) }, ...common, 404: error('NOT_FOUND: unknown, expired, or another key\'s') },
  });

  registry.registerPath({
    method: 'post',
    path: '/v1/messages',
    operationId: 'createMessage',
    tags: ['Messages'],
    summary: "Create a message (Anthropic's Messages API)",
    description:
      'Same keys, limits, routing and usage records as chat completions, over any provider kind; the key goes in `x-api-key` ' +
      "or `Authorization: Bearer`. Errors use Anthropic's shape `{\"type\": \"error\", \"error\": {type, message}}`. " +
      'With `stream: true` the answer is named server-sent events (MessageStreamEvent).',
    security: anthropicSecurity,
    request: { headers: cacheRequestHeaders, body: { required: true, content: json(CreateMessageRequestDoc) } },
    responses: {
      200: {
        description: 'A Message object, or a stream of MessageStreamEvent',
        headers: chatHeaders,
        content: { 'application/json': { schema: AnthropicMessageDoc }, 'text/event-stream': { schema: MessageStreamEventDoc } },
      },
      ...anthropicCommon,
      404: anthropicError('not_found_error: MODEL_NOT_FOUND'),
      410: anthropicError('not_found_error: MODEL_RETIRED, the model is retired and no longer served'),
      429: anthropicError('rate_limit_error: RATE_LIMITED or QUOTA_EXCEEDED', retryAfter),
      502: anthropicError('api_error: UPSTREAM_ERROR, every target failed, after retries and fallbacks'),
      504: anthropicError('timeout_error: UPSTREAM_TIMEOUT, every attempt timed out'),
      529: anthropicError('overloaded_error: SERVICE_UNAVAILABLE'),
    },
  });

  registry.registerPath({
    method: 'post',
    path: '/v1/messages/count_tokens',
    operationId: 'countMessageTokens',
    tags: ['Messages'],
    summary: 'Count the input tokens of a Messages request',
    description: "Counted by the gateway's own tokenizer (an estimate, since any provider may answer); nothing is sent upstream and no usage is recorded.",
    security: anthropicSecurity,
    request: { body: { required: true, content: json(CountMessageTokensRequestDoc) } },
    responses: { 200: { description: 'The input token count', content: json(MessageTokensCountDoc) }, ...anthropicCommon },
  });

  registry.registerPath({
    method: 'get',
    path: '/openapi.json',
    operationId: 'getOpenApiDocument',
    tags: ['Meta'],
    summary: 'This document',
    security: [],
    responses: { 200: { description: 'The OpenAPI 3.1 document', content: { 'application/json': { schema: { type: 'object' } } } } },
  });

  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'GraphQL AI Gateway: OpenAI- and Anthropic-compatible REST',
      version: '1.0.0',
      description:
        'OpenAI-compatible (and Anthropic-compatible) routes in front of the same gateway core as the GraphQL API (/graphql). ' +
        'Errors use OpenAI\'s envelope `{"error": {message, type, param, code}}`, with the gateway error code in `code`; ' +
        'the Anthropic-compatible /v1/messages routes answer in Anthropic\'s shape instead.',
    },
    security: [{ bearerAuth: [] }],
    tags: [{ name: 'Chat' }, { name: 'Responses' }, { name: 'Messages' }, { name: 'Embeddings' }, { name: 'Models' }, { name: 'Prompts' }, { name: 'Meta' }],
  });
}

let cached: string | undefined;

/** The document as JSON text (generated once per process). */
export function openApiJson(): string {
  cached ??= JSON.stringify(build());
  return cached;
}
