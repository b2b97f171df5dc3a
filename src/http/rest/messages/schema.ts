/*
 * zod schema of POST /v1/messages (Anthropic's Messages API request). Like the OpenAI routes' schemas it is not
 * strict: fields Anthropic defines that the gateway does not use (service_tier, container…) are accepted and
 * ignored, as SDKs send some of them. Block types the gateway cannot carry (documents, server tools) are refused
 * with the field named rather than silently dropped.
 * @see https://docs.anthropic.com/en/api/messages
 */
import { z } from 'zod';
import { JSON_DEPTH_RULE, TEXT_RULE, isStorableText, nestsDeeperThan } from '../../../util/input-rules.js';

const text = () => z.string().refine(isStorableText, TEXT_RULE);
const jsonObject = () => z.record(z.string(), z.unknown()).refine((v) => !nestsDeeperThan(v), JSON_DEPTH_RULE);

/** @see https://docs.anthropic.com/en/docs/build-with-claude/prompt-caching */
const CacheControl = z.object({ type: z.literal('ephemeral'), ttl: z.enum(['5m', '1h']).optional() }).nullish();

const TextBlock = z.object({ type: z.literal('text'), text: text(), cache_control: CacheControl, citations: z.unknown().optional() });

/** @see https://docs.anthropic.com/en/docs/build-with-claude/vision */
const ImageBlock = z.object({
  type: z.literal('image'),
  source: z.discriminatedUnion('type', [
    z.object({ type: z.literal('base64'), media_type: z.enum(['image/jpeg', 'image/png', 'image/gif', 'image/webp']), data: z.string().min(1) }),
    z.object({ type: z.literal('url'), url: text().regex(/^https?:\/\//, 'must be an http(s) URL') }),
  ]),
  cache_control: CacheControl,
});

const ToolUseBlock = z.object({
  type: z.literal('tool_use'),
  id: text().min(1),
  name: text().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, _ or -'),
  input: jsonObject(),
  cache_control: CacheControl,
});

const ToolResultBlock = z.object({
  type: z.literal('tool_result'),
  tool_use_id: text().min(1),
  content: z.union([text(), z.array(z.discriminatedUnion('type', [TextBlock, ImageBlock]))]).optional(),
  is_error: z.boolean().optional(),
  cache_control: CacheControl,
});

/** @see https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking#preserving-thinking-blocks */
const ThinkingBlock = z.object({ type: z.literal('thinking'), thinking: z.string(), signature: z.string() });
const RedactedThinkingBlock = z.object({ type: z.literal('redacted_thinking'), data: z.string() });

const Block = z.discriminatedUnion('type', [TextBlock, ImageBlock, ToolUseBlock, ToolResultBlock, ThinkingBlock, RedactedThinkingBlock]);
export type Block = z.infer<typeof Block>;
export type ImageBlock = z.infer<typeof ImageBlock>;

const Message = z.object({ role: z.enum(['user', 'assistant']), content: z.union([text(), z.array(Block)]) });

const Tool = z.object({
  // custom (client) tools only: server tools (web_search_…, bash_…) run at Anthropic and have no counterpart here
  type: z.literal('custom').nullish(),
  name: text().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, _ or -'),
  description: text().optional(),
  input_schema: jsonObject(),
  cache_control: CacheControl,
});

const ToolChoice = z.discriminatedUnion('type', [
  z.object({ type: z.literal('auto'), disable_parallel_tool_use: z.boolean().optional() }),
  z.object({ type: z.literal('any'), disable_parallel_tool_use: z.boolean().optional() }),
  z.object({ type: z.literal('none') }),
  z.object({ type: z.literal('tool'), name: text().min(1), disable_parallel_tool_use: z.boolean().optional() }),
]);

/** @see https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking */
const Thinking = z.discriminatedUnion('type', [
  z.object({ type: z.literal('enabled'), budget_tokens: z.int().min(1024) }),
  z.object({ type: z.literal('disabled') }),
  z.object({ type: z.literal('adaptive') }),
]);

export const MessagesRequest = z.object({
  model: text().min(1),
  max_tokens: z.int().min(1),
  messages: z.array(Message).min(1),
  system: z.union([text(), z.array(TextBlock)]).optional(),
  temperature: z.number().min(0).max(1).optional(),
  top_p: z.number().gt(0).max(1).optional(),
  top_k: z.int().min(0).optional(),
  stop_sequences: z.array(text().min(1)).max(16).optional(),
  stream: z.boolean().optional(),
  tools: z.array(Tool).optional(),
  tool_choice: ToolChoice.optional(),
  thinking: Thinking.optional(),
  metadata: z.object({ user_id: text().nullish() }).optional(),
});
export type MessagesRequest = z.infer<typeof MessagesRequest>;
