/* Enums shared by several domains. */
import { builder } from './builder.js';

export const RoleEnum = builder.enumType('Role', { values: ['SYSTEM', 'USER', 'ASSISTANT', 'TOOL'] as const });
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
  values: ['STOP', 'LENGTH', 'TOOL_CALLS', 'CONTENT_FILTER', 'ERROR'] as const,
});
export const ProviderKindEnum = builder.enumType('ProviderKind', {
  values: {
    OPENAI: { description: "OpenAI's API" },
    ANTHROPIC: { description: "Anthropic's Messages API" },
    GEMINI: { description: "Google's Gemini API" },
    OPENAI_COMPATIBLE: { description: "Any server speaking OpenAI's chat completions API (Mistral, Groq, DeepSeek, Ollama, vLLM, ...)" },
    ECHO: { description: 'Built-in offline provider that echoes the last user message; needs no network or credential' },
  } as const,
});
export const ModelStatusEnum = builder.enumType('ModelStatus', {
  values: {
    ACTIVE: {},
    DEPRECATED: { description: 'Still served; every answer carries a deprecation warning in extensions.warnings' },
    RETIRED: { description: 'No longer served: invocations fail with MODEL_RETIRED' },
  } as const,
});
export const RoutingStrategyEnum = builder.enumType('RoutingStrategy', {
  values: {
    PRIORITY: { description: 'Targets in priority order; the next one only when the one before fails' },
    WEIGHTED: { description: 'Random by weight' },
    ROUND_ROBIN: {},
    LEAST_BUSY: { description: 'The target with the fewest requests in flight' },
    LOWEST_LATENCY: { description: 'The target with the lowest recent latency' },
  } as const,
});
export const ScopeEnum = builder.enumType('Scope', {
  values: {
    INVOKE: { description: 'Call chat, chatStream, embed, runPrompt' },
    READ_USAGE: { description: 'Read its own usage records and summaries' },
    ADMIN: { description: 'Everything, including managing providers, models, keys and prompts, and reading all usage' },
  } as const,
});
export const UsageStatusEnum = builder.enumType('UsageStatus', {
  values: ['OK', 'ERROR', 'RATE_LIMITED', 'QUOTA_EXCEEDED', 'CANCELLED'] as const,
});
export const UsageGroupByEnum = builder.enumType('UsageGroupBy', { values: ['MODEL', 'PROVIDER', 'API_KEY', 'DAY', 'HOUR'] as const });
