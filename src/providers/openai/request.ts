/* Unified request → OpenAI Chat Completions / Embeddings request bodies. */
import type { ChatMessage, ChatRequest, ContentPart, EmbedRequest, ReasoningOptions, ToolChoice, ToolDefinition } from '../types.js';

interface OpenAITextPart {
  type: 'text';
  text: string;
}

interface OpenAIImagePart {
  type: 'image_url';
  image_url: { url: string };
}

type OpenAIContentPart = OpenAITextPart | OpenAIImagePart;

interface OpenAIToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

type OpenAIMessage =
  | { role: 'system'; content: string; name?: string }
  | { role: 'user'; content: string | OpenAIContentPart[]; name?: string }
  | { role: 'assistant'; content: string | null; name?: string; tool_calls?: OpenAIToolCall[] }
  | { role: 'tool'; content: string; tool_call_id: string };

interface OpenAITool {
  type: 'function';
  function: { name: string; description?: string; parameters?: Record<string, unknown> };
}

type OpenAIToolChoice = 'auto' | 'none' | 'required' | { type: 'function'; function: { name: string } };

export interface OpenAIChatBody {
  model: string;
  messages: OpenAIMessage[];
  temperature?: number;
  top_p?: number;
  max_completion_tokens?: number;
  max_tokens?: number;
  stop?: string[];
  seed?: number;
  response_format?: { type: 'json_object' };
  tools?: OpenAITool[];
  tool_choice?: OpenAIToolChoice;
  stream?: boolean;
  stream_options?: { include_usage: boolean };
  reasoning_effort?: 'low' | 'medium' | 'high';
}

export interface OpenAIEmbeddingsBody {
  model: string;
  input: string[];
}

export interface ChatBodyOptions {
  stream: boolean;
  /**
   * Compatible servers (vLLM, Ollama, llama.cpp, older proxies) often reject or ignore
   * `max_completion_tokens`, so they get the older `max_tokens`.
   * @default false
   */
  compatible?: boolean;
}

/**
 * Maps content parts to the user-message content array (text and image_url parts).
 * @see https://platform.openai.com/docs/guides/images-vision
 */
function mapContentParts(parts: ContentPart[]): OpenAIContentPart[] {
  return parts.map((p) => (p.type === 'TEXT' ? { type: 'text', text: p.text } : { type: 'image_url', image_url: { url: p.imageUrl } }));
}

function textOf(m: ChatMessage): string {
  const texts = m.content ? [m.content] : [];
  for (const p of m.parts ?? []) if (p.type === 'TEXT') texts.push(p.text);
  return texts.join('\n');
}

/**
 * Maps one unified message to its wire form; only user messages may carry images.
 * @see https://platform.openai.com/docs/api-reference/chat/create#chat-create-messages
 */
function mapMessage(m: ChatMessage): OpenAIMessage {
  const name = m.name ? { name: m.name } : {};
  switch (m.role) {
    case 'SYSTEM':
      return { role: 'system', content: textOf(m), ...name };
    case 'USER': {
      if (!m.parts?.length) return { role: 'user', content: m.content ?? '', ...name };
      const lead: OpenAIContentPart[] = m.content ? [{ type: 'text', text: m.content }] : [];
      return { role: 'user', content: [...lead, ...mapContentParts(m.parts)], ...name };
    }
    case 'ASSISTANT': {
      const text = textOf(m);
      const calls = m.toolCalls?.length ? { tool_calls: m.toolCalls.map(mapToolCall) } : {};
      // content is optional beside tool_calls; null is how the API itself returns such a message
      return { role: 'assistant', content: text || (m.toolCalls?.length ? null : ''), ...name, ...calls };
    }
    case 'TOOL':
      return { role: 'tool', content: textOf(m), tool_call_id: m.toolCallId ?? '' };
  }
}

function mapToolCall(c: { id: string; name: string; arguments: string }): OpenAIToolCall {
  return { id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } };
}

/**
 * Maps tool definitions to function tools.
 * @see https://platform.openai.com/docs/api-reference/chat/create#chat-create-tools
 */
function mapTools(tools: ToolDefinition[]): OpenAITool[] {
  return tools.map((t) => ({
    type: 'function',
    function: {
      name: t.name,
      ...(t.description !== undefined ? { description: t.description } : {}),
      ...(t.parameters !== undefined ? { parameters: t.parameters } : {}),
    },
  }));
}

/**
 * Maps the unified tool choice to `tool_choice`.
 * @see https://platform.openai.com/docs/api-reference/chat/create#chat-create-tool_choice
 */
function mapToolChoice(choice: ToolChoice): OpenAIToolChoice {
  if (typeof choice === 'object') return { type: 'function', function: { name: choice.name } };
  return choice === 'AUTO' ? 'auto' : choice === 'NONE' ? 'none' : 'required';
}

/**
 * Builds the Chat Completions request body.
 * @see https://platform.openai.com/docs/api-reference/chat/create
 */
export function toChatBody(req: ChatRequest, opts: ChatBodyOptions): OpenAIChatBody {
  const body: OpenAIChatBody = { model: req.model, messages: req.messages.map(mapMessage) };
  if (req.temperature !== undefined) body.temperature = req.temperature;
  if (req.topP !== undefined) body.top_p = req.topP;
  if (req.maxTokens !== undefined) {
    if (opts.compatible) body.max_tokens = req.maxTokens;
    else body.max_completion_tokens = req.maxTokens;
  }
  if (req.stop?.length) body.stop = req.stop;
  if (req.seed !== undefined) body.seed = req.seed;
  if (req.jsonMode) body.response_format = { type: 'json_object' };
  const effort = reasoningEffort(req.reasoning);
  if (effort) body.reasoning_effort = effort;
  // OpenAI rejects an empty `tools` array, and `tool_choice` without tools
  if (req.tools?.length) {
    body.tools = mapTools(req.tools);
    if (req.toolChoice !== undefined) body.tool_choice = mapToolChoice(req.toolChoice);
  }
  if (opts.stream) {
    body.stream = true;
    // without it OpenAI streams no usage at all
    body.stream_options = { include_usage: true };
  }
  return body;
}

/**
 * OpenAI takes an effort, not a budget. Only an effort the caller gave is sent: a budget (Anthropic's
 * `thinking.budget_tokens`, from /v1/messages) is not turned into one, because OpenAI refuses `reasoning_effort`
 * on models that do not reason (gpt-4o…), and its reasoning models reason by default anyway.
 * @see https://platform.openai.com/docs/api-reference/chat/create#chat-create-reasoning_effort
 */
function reasoningEffort(r: ReasoningOptions | undefined): OpenAIChatBody['reasoning_effort'] {
  if (!r?.effort) return undefined;
  return r.effort === 'LOW' ? 'low' : r.effort === 'MEDIUM' ? 'medium' : 'high';
}

/**
 * Builds the Embeddings request body.
 * @see https://platform.openai.com/docs/api-reference/embeddings/create
 */
export function toEmbeddingsBody(req: EmbedRequest): OpenAIEmbeddingsBody {
  // no encoding_format: float is the documented default, and some compatible servers reject the field
  return { model: req.model, input: req.input };
}
