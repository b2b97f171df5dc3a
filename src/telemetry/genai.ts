/*
 * OpenTelemetry GenAI semantic convention names, copied rather than imported: @opentelemetry/semantic-conventions
 * keeps them in its `incubating` entry, whose names may change in any minor release (ECOSYSTEM.md).
 */
import type { ProviderKind } from '../providers/registry.js';

export const GEN_AI_OPERATION_NAME = 'gen_ai.operation.name';
export const GEN_AI_PROVIDER_NAME = 'gen_ai.provider.name';
export const GEN_AI_REQUEST_MODEL = 'gen_ai.request.model';
export const GEN_AI_REQUEST_TEMPERATURE = 'gen_ai.request.temperature';
export const GEN_AI_REQUEST_MAX_TOKENS = 'gen_ai.request.max_tokens';
export const GEN_AI_REQUEST_TOP_P = 'gen_ai.request.top_p';
export const GEN_AI_RESPONSE_MODEL = 'gen_ai.response.model';
export const GEN_AI_RESPONSE_ID = 'gen_ai.response.id';
export const GEN_AI_RESPONSE_FINISH_REASONS = 'gen_ai.response.finish_reasons';
export const GEN_AI_USAGE_INPUT_TOKENS = 'gen_ai.usage.input_tokens';
export const GEN_AI_USAGE_OUTPUT_TOKENS = 'gen_ai.usage.output_tokens';

/** General conventions the GenAI spans use too. */
export const ERROR_TYPE = 'error.type';
export const SERVER_ADDRESS = 'server.address';
export const SERVER_PORT = 'server.port';
export const HTTP_REQUEST_METHOD = 'http.request.method';
export const HTTP_ROUTE = 'http.route';
export const HTTP_RESPONSE_STATUS_CODE = 'http.response.status_code';
export const GRAPHQL_OPERATION_TYPE = 'graphql.operation.type';
export const GRAPHQL_OPERATION_NAME = 'graphql.operation.name';

/** gen_ai.operation.name well-known values. */
export type GenAiOperation = 'chat' | 'embeddings';

/**
 * gen_ai.provider.name by provider kind: the conventions' well-known values. An OpenAI-compatible server speaks
 * OpenAI's API, so its telemetry has OpenAI's flavour (the conventions say to go by the API used); the echo adapter
 * is the gateway's own and has no well-known value.
 */
export const GEN_AI_PROVIDER_BY_KIND: Readonly<Record<ProviderKind, string>> = {
  OPENAI: 'openai',
  OPENAI_COMPATIBLE: 'openai',
  ANTHROPIC: 'anthropic',
  GEMINI: 'gcp.gemini',
  VERTEX: 'gcp.vertex_ai',
  BEDROCK: 'aws.bedrock',
  AZURE_OPENAI: 'azure.ai.openai',
  ECHO: 'gateway.echo',
};
