/* Unified ChatRequest → Anthropic Messages API request body. */
import type { CacheControl, ChatMessage, ChatRequest, ReasoningBlock, ToolChoice, ToolDefinition } from '../types.js';
import { argumentsObject, parseDataUrl, partsOf, textOf } from '../content.js';
import { claudeThinking, replayableReasoning } from '../thinking.js';

/** Anthropic requires max_tokens on every request; used when the caller sets none. */
export const DEFAULT_MAX_TOKENS = 4096;

/** Anthropic has no JSON-mode flag, so JSON mode is asked for in the system prompt. */
export const JSON_MODE_INSTRUCTION =
  'Respond only with a single valid JSON object. Do not add any text before or after it and do not wrap it in Markdown code fences.';

/** Every block that can carry a prompt-caching breakpoint. */
interface Cacheable {
  cache_control?: CacheControl;
}

interface AnthropicTextBlock extends Cacheable {
  type: 'text';
  text: string;
}

interface AnthropicImageBlock extends Cacheable {
  type: 'image';
  source: { type: 'url'; url: string } | { type: 'base64'; media_type: string; data: string };
}

interface AnthropicToolUseBlock extends Cacheable {
  type: 'tool_use';
  id: string;
  name: string;
  input: Record<string, unknown>;
}

interface AnthropicToolResultBlock extends Cacheable {
  type: 'tool_result';
  tool_use_id: string;
  content: string | Array<AnthropicTextBlock | AnthropicImageBlock>;
  is_error?: boolean;
}

/** A thinking block sent back unchanged (its signature lets Anthropic check it is the model's own). */
interface AnthropicThinkingBlock {
  type: 'thinking';
  thinking: string;
  signature: string;
}

interface AnthropicRedactedThinkingBlock {
  type: 'redacted_thinking';
  data: string;
}

type AnthropicRequestBlock =
  | AnthropicTextBlock
  | AnthropicImageBlock
  | AnthropicToolUseBlock
  | AnthropicToolResultBlock
  | AnthropicThinkingBlock
  | AnthropicRedactedThinkingBlock;

interface AnthropicMessageParam {
  role: 'user' | 'assistant';
  content: AnthropicRequestBlock[];
}

interface AnthropicTool extends Cacheable {
  name: string;
  description?: string;
  input_schema: Record<string, unknown>;
}

type AnthropicToolChoice = { type: 'auto' } | { type: 'any' } | { type: 'none' } | { type: 'tool'; name: string };

export interface AnthropicRequestBody {
  model: string;
  max_tokens: number;
  messages: AnthropicMessageParam[];
  system?: string | AnthropicTextBlock[];
  temperature?: number;
  top_p?: number;
  stop_sequences?: string[];
  tools?: AnthropicTool[];
  tool_choice?: AnthropicToolChoice;
  stream?: boolean;
  thinking?: { type: 'enabled'; budget_tokens: number };
}

/**
 * Builds the Messages API body. `seed` has no Anthropic equivalent and is dropped.
 * @see https://docs.anthropic.com/en/api/messages
 */
export function buildAnthropicRequest(req: ChatRequest, stream = false): AnthropicRequestBody {
  // extended thinking: budget fitted under max_tokens, off with a forced tool choice (see thinking.ts)
  const thinking = claudeThinking(req);
  const body: AnthropicRequestBody = {
    model: req.model,
    max_tokens: thinking ? thinking.maxTokens : (req.maxTokens ?? DEFAULT_MAX_TOKENS),
    messages: mapMessages(req.messages),
  };
  const system = mapSystem(req);
  if (system) body.system = system;
  // Anthropic accepts 0..1 while OpenAI-style callers may send up to 2; clamping keeps fallbacks from failing.
  // With thinking on, Anthropic refuses any temperature but the default, so it is left out.
  if (req.temperature !== undefined && !thinking) body.temperature = Math.min(1, Math.max(0, req.temperature));
  const topP = thinking ? thinking.topP : req.topP;
  if (topP !== undefined) body.top_p = topP;
  if (req.stop?.length) body.stop_sequences = req.stop;
  if (req.tools?.length) {
    body.tools = req.tools.map(mapTool);
    if (req.toolChoice !== undefined) body.tool_choice = mapToolChoice(req.toolChoice);
  }
  if (thinking) body.thinking = { type: 'enabled', budget_tokens: thinking.budget };
  if (stream) body.stream = true;
  return body;
}

/**
 * System messages become the top-level `system` prompt (Anthropic has no system role in `messages`).
 * @see https://docs.anthropic.com/en/docs/build-with-claude/prompt-engineering/system-prompts
 */
function mapSystem(req: ChatRequest): AnthropicRequestBody['system'] {
  const system = req.messages.filter((m) => m.role === 'SYSTEM');
  const cached = system.some((m) => m.cacheControl || m.parts?.some((p) => p.cacheControl));
  if (cached) {
    // a cache breakpoint needs the block form: one text block per message (or part), the breakpoints where given
    const blocks: AnthropicTextBlock[] = system.flatMap((m) => withMessageCache(mapContent(m), m.cacheControl) as AnthropicTextBlock[]);
    if (req.jsonMode) blocks.push({ type: 'text', text: JSON_MODE_INSTRUCTION });
    return blocks.length ? blocks : undefined;
  }
  const texts = system.map(textOf).filter((t) => t !== '');
  if (req.jsonMode) texts.push(JSON_MODE_INSTRUCTION);
  return texts.length ? texts.join('\n\n') : undefined;
}

/** A message's breakpoint goes on its last block, which is where Anthropic reads it. */
function withMessageCache<B extends Cacheable>(blocks: B[], cacheControl: CacheControl | undefined): B[] {
  const last = blocks[blocks.length - 1];
  if (cacheControl && last) last.cache_control = cacheControl;
  return blocks;
}

/**
 * An assistant turn's reasoning, sent back first in the turn as Anthropic requires; only blocks Anthropic can
 * verify (see replayableReasoning).
 * @see https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking#preserving-thinking-blocks
 */
function mapReasoning(blocks: ReasoningBlock[] | undefined): Array<AnthropicThinkingBlock | AnthropicRedactedThinkingBlock> {
  return replayableReasoning(blocks).map((b) =>
    b.redactedData ? { type: 'redacted_thinking', data: b.redactedData } : { type: 'thinking', thinking: b.text, signature: b.signature ?? '' },
  );
}

/**
 * Maps the conversation to alternating user/assistant turns: tool results travel in user turns,
 * and consecutive same-role messages are merged into one turn.
 * @see https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/implement-tool-use#handling-tool-use-and-tool-result-content-blocks
 */
function mapMessages(messages: ChatMessage[]): AnthropicMessageParam[] {
  const out: AnthropicMessageParam[] = [];
  for (const m of messages) {
    if (m.role === 'SYSTEM') continue;
    const role = m.role === 'ASSISTANT' ? 'assistant' : 'user';
    const blocks: AnthropicRequestBlock[] = m.role === 'TOOL' ? [mapToolResult(m)] : mapContent(m);
    if (m.role === 'ASSISTANT') for (const c of m.toolCalls ?? []) blocks.push(mapToolCall(c));
    withMessageCache(blocks as Cacheable[], m.cacheControl);
    if (m.role === 'ASSISTANT') blocks.unshift(...mapReasoning(m.reasoning));
    if (!blocks.length) continue;
    const prev = out[out.length - 1];
    if (prev && prev.role === role) prev.content.push(...blocks);
    else out.push({ role, content: blocks });
  }
  // Anthropic rejects a user turn whose tool_result blocks do not come first
  for (const m of out) {
    if (m.role !== 'user') continue;
    m.content = [...m.content.filter((b) => b.type === 'tool_result'), ...m.content.filter((b) => b.type !== 'tool_result')];
  }
  return out;
}

/**
 * Text and image parts of one message as content blocks (empty text blocks are rejected upstream).
 * @see https://docs.anthropic.com/en/api/messages#body-messages-content
 */
function mapContent(m: ChatMessage): Array<AnthropicTextBlock | AnthropicImageBlock> {
  const blocks: Array<AnthropicTextBlock | AnthropicImageBlock> = [];
  for (const p of partsOf(m)) {
    if (p.type === 'TEXT') {
      if (p.text !== '') blocks.push(p.cacheControl ? { type: 'text', text: p.text, cache_control: p.cacheControl } : { type: 'text', text: p.text });
    } else {
      const image = mapImage(p.imageUrl);
      if (p.cacheControl) image.cache_control = p.cacheControl;
      blocks.push(image);
    }
  }
  return blocks;
}

/**
 * data: URLs become base64 sources, anything else a URL source.
 * @see https://docs.anthropic.com/en/docs/build-with-claude/vision
 */
function mapImage(imageUrl: string): AnthropicImageBlock {
  const data = parseDataUrl(imageUrl);
  if (data) return { type: 'image', source: { type: 'base64', media_type: data.mimeType, data: data.base64 } };
  return { type: 'image', source: { type: 'url', url: imageUrl } };
}

/**
 * An assistant tool call as a tool_use block; `input` must be an object, so other JSON is wrapped.
 * @see https://docs.anthropic.com/en/api/messages#body-messages-content
 */
function mapToolCall(c: { id: string; name: string; arguments: string }): AnthropicToolUseBlock {
  return { type: 'tool_use', id: toolUseId(c.id), name: c.name, input: argumentsObject(c.arguments) };
}

/**
 * A TOOL message as a tool_result block answering the tool_use with the same id.
 * @see https://docs.anthropic.com/en/docs/agents-and-tools/tool-use/implement-tool-use#handling-results-from-client-tools
 */
function mapToolResult(m: ChatMessage): AnthropicToolResultBlock {
  const blocks = mapContent(m);
  // a breakpoint inside the result moves onto the tool_result block: a plain-string content has no blocks to hold it
  const cacheControl = blocks.find((b) => b.cache_control)?.cache_control;
  const onlyText = blocks.every((b) => b.type === 'text');
  const isError = m.isError ? { is_error: true } : {};
  if (onlyText && cacheControl) {
    return { type: 'tool_result', tool_use_id: toolUseId(m.toolCallId ?? ''), content: blocks.map((b) => (b as AnthropicTextBlock).text).join(''), cache_control: cacheControl, ...isError };
  }
  return {
    type: 'tool_result',
    tool_use_id: toolUseId(m.toolCallId ?? ''),
    content: onlyText ? blocks.map((b) => (b as AnthropicTextBlock).text).join('') : blocks,
    ...isError,
  };
}

/**
 * @see https://docs.anthropic.com/en/api/messages#body-tools
 */
function mapTool(t: ToolDefinition): AnthropicTool {
  const tool: AnthropicTool = { name: t.name, input_schema: t.parameters ?? { type: 'object', properties: {} } };
  if (t.description) tool.description = t.description;
  if (t.cacheControl) tool.cache_control = t.cacheControl;
  return tool;
}

/**
 * @see https://docs.anthropic.com/en/api/messages#body-tool-choice
 */
function mapToolChoice(choice: ToolChoice): AnthropicToolChoice {
  if (typeof choice === 'object') return { type: 'tool', name: choice.name };
  if (choice === 'REQUIRED') return { type: 'any' };
  if (choice === 'NONE') return { type: 'none' };
  return { type: 'auto' };
}

/** Tool ids from other providers may hold characters Anthropic's `^[a-zA-Z0-9_-]+$` id pattern rejects. */
function toolUseId(id: string): string {
  return id.replace(/[^a-zA-Z0-9_-]/g, '_') || 'toolu_unknown';
}

