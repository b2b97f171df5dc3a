/* Enums shared by several domains. */
import { builder } from './builder.js';

export const RoleEnum = builder.enumType('Role', {
  description: 'Who speaks in a message of a conversation',
  values: {
    SYSTEM: { description: 'Instructions that steer the model (the system prompt)' },
    USER: { description: 'The end user; the only role that may carry image parts' },
    ASSISTANT: { description: "The model's own earlier answers, with the tool calls it made" },
    TOOL: { description: 'The result of a tool call, sent back to the model (toolCallId names the call)' },
  } as const,
});
export const ContentPartTypeEnum = builder.enumType('ContentPartType', {
  description: 'What a content part holds',
  values: {
    TEXT: { description: 'Text, in `text`' },
    IMAGE_URL: { description: 'An image, by an http(s) or data:image/… URL in `imageUrl` (USER messages only)' },
  } as const,
});
export const ToolChoiceModeEnum = builder.enumType('ToolChoiceMode', {
  description: 'Whether the model may, must or must not call one of the tools',
  values: {
    AUTO: { description: 'The model decides' },
    NONE: { description: 'The model answers in text and calls no tool' },
    REQUIRED: { description: 'The model calls at least one tool' },
  } as const,
});
export const FinishReasonEnum = builder.enumType('FinishReason', {
  description: 'Why the model stopped producing output',
  values: {
    STOP: { description: 'The answer is complete, or a stop sequence was reached' },
    LENGTH: { description: "The answer was cut at maxTokens or at the model's context window" },
    TOOL_CALLS: { description: 'The model stopped to call one or more tools (see toolCalls)' },
    CONTENT_FILTER: { description: "The provider's content filter withheld (part of) the answer" },
    ERROR: { description: 'A stream broke after some output: the last event of a failed stream, followed by the error' },
  } as const,
});
export const ProviderKindEnum = builder.enumType('ProviderKind', {
  description: 'The wire protocol the gateway speaks to a provider',
  values: {
    OPENAI: { description: "OpenAI's API" },
    ANTHROPIC: { description: "Anthropic's Messages API" },
    GEMINI: { description: "Google's Gemini API" },
    OPENAI_COMPATIBLE: { description: "Any server speaking OpenAI's chat completions API (Mistral, Groq, DeepSeek, Ollama, vLLM, ...)" },
    ECHO: { description: 'Built-in offline provider that echoes the last user message; needs no network or credential' },
    AZURE_OPENAI: {
      description: "Azure OpenAI: OpenAI's API on Azure deployments (target upstreamModel = deployment name); settings.apiVersion, api-key or Entra ID token",
    },
    BEDROCK: { description: 'AWS Bedrock Converse API, SigV4-signed; settings.region, credential accessKeyId:secretAccessKey[:sessionToken]' },
    VERTEX: { description: 'Google Vertex AI (Gemini and Claude models); settings.project and region, credential a service-account key (JSON)' },
  } as const,
});
export const ModelStatusEnum = builder.enumType('ModelStatus', {
  description: 'Where a model is in its lifecycle',
  values: {
    ACTIVE: { description: 'Served normally' },
    DEPRECATED: { description: 'Still served; every answer carries a deprecation warning in extensions.warnings' },
    RETIRED: { description: 'No longer served: invocations fail with MODEL_RETIRED' },
  } as const,
});
export const RoutingStrategyEnum = builder.enumType('RoutingStrategy', {
  description: "How a model's targets are ordered for each call (the next one is tried when one fails)",
  values: {
    PRIORITY: { description: 'Targets in priority order; the next one only when the one before fails' },
    WEIGHTED: { description: 'Random by weight' },
    ROUND_ROBIN: { description: 'Each call starts at the next target in turn' },
    LEAST_BUSY: { description: 'The target with the fewest requests in flight' },
    LOWEST_LATENCY: { description: 'The target with the lowest recent latency' },
  } as const,
});
export const ScopeEnum = builder.enumType('Scope', {
  description: 'What an API key may do',
  values: {
    INVOKE: { description: 'Call chat, chatStream, embed, runPrompt, promptStream' },
    READ_USAGE: { description: 'Read its own usage records and summaries' },
    TEAM_ADMIN: {
      description: "On a key of a team: manage that team's keys (limits up to the team's own), prompts and usage, and request access to models; nothing of any other team",
    },
    ADMIN: { description: 'Everything, including managing providers, models, keys and prompts, and reading all usage' },
  } as const,
});
export const UsageStatusEnum = builder.enumType('UsageStatus', {
  description: 'How an invocation ended',
  values: {
    OK: { description: 'Answered' },
    ERROR: { description: 'Failed; errorCode says why (an error code of the API, e.g. UPSTREAM_ERROR)' },
    RATE_LIMITED: { description: "Refused by the key's requestsPerMinute or tokensPerMinute limit" },
    QUOTA_EXCEEDED: { description: "Refused by the key's tokensPerDay or monthlyBudgetUsd limit" },
    CANCELLED: { description: 'The client went away (closed the request or ended the subscription) before the answer was complete' },
  } as const,
});
export const UsageGroupByEnum = builder.enumType('UsageGroupBy', {
  description: "What usage summaries are grouped by; each bucket's key holds the group's value",
  values: {
    MODEL: { description: 'The public model name asked for' },
    PROVIDER: { description: 'The name of the provider that answered (empty when no provider was called)' },
    API_KEY: { description: "The calling key's id" },
    TEAM: { description: "The team of the calling key, by the Team's global id (empty for keys without team); counted from the records, not the rollups" },
    USER: { description: 'The end user (UsageRecord.user; empty when the call named none); counted from the records, not the rollups' },
    DAY: { description: 'The UTC day, as YYYY-MM-DD' },
    HOUR: { description: 'The UTC hour, as YYYY-MM-DDTHH:00:00Z' },
  } as const,
});
export const UsageIntervalEnum = builder.enumType('UsageInterval', {
  description: 'The width of the points of a usage series (UTC)',
  values: {
    MINUTE: { description: 'One point per minute; a range of at most 6 hours' },
    HOUR: { description: 'One point per hour; a range of at most 90 days' },
    DAY: { description: 'One point per UTC day; any range' },
  } as const,
});
export const CacheHitKindEnum = builder.enumType('CacheHitKind', {
  description: 'How the response cache answered a call',
  values: {
    EXACT: { description: 'The same model, messages, tools and parameters were answered before in the same scope' },
    SEMANTIC: { description: 'A close enough prompt (by embedding similarity) with the same context was answered before in the same scope' },
  } as const,
});
export const GuardrailStageEnum = builder.enumType('GuardrailStage', {
  description: 'Which side of a call a guardrail rule acted on',
  values: {
    INPUT: { description: 'The request, before any upstream was asked' },
    OUTPUT: { description: 'The answer (for streams: as it streamed)' },
  } as const,
});
export const GuardrailRuleKindEnum = builder.enumType('GuardrailRuleKind', {
  description: 'Which rule of a guardrail policy acted',
  values: {
    PII: { description: 'Personal data or secrets were found' },
    DENY_LIST: { description: 'A denied word or pattern was found' },
    INPUT_TOKENS: { description: 'The input was larger than the policy allows' },
    JSON_SCHEMA: { description: 'The answer did not match the JSON schema' },
  } as const,
});
export const GuardrailOutcomeEnum = builder.enumType('GuardrailOutcome', {
  description: 'What a guardrail rule did',
  values: {
    REDACTED: { description: 'The matched text was replaced by placeholders' },
    BLOCKED: { description: 'The call was refused with GUARDRAIL_BLOCKED' },
    RESTORED: { description: 'Placeholders the model echoed were given their original values back' },
    RETRIED: { description: 'The upstream was asked once more because the answer did not match the JSON schema' },
  } as const,
});
export const LogBodiesEnum = builder.enumType('LogBodies', {
  description:
    "How much of each call the call log keeps. Set on a key, its team and a model, the lowest of those set applies (any one caps it for privacy); none set: NONE",
  values: {
    NONE: { description: 'Nothing: the call is not logged (its usage record is still written)' },
    METADATA: { description: 'Ids, model, status, parameters without any text (temperature, tool names, message count and roles…), the attempts timeline and trace id' },
    FULL: { description: 'METADATA plus the request as the upstream got it (after guardrail redaction) and the answer; found by Query.invocations(filter: {search})' },
  } as const,
});
/** A stored log_bodies column as the enum answers it: null when not set (or not a level this version knows). */
export const logBodiesOf = (stored: string | null): typeof LogBodiesEnum.$inferType | null =>
  stored === 'NONE' || stored === 'METADATA' || stored === 'FULL' ? stored : null;
