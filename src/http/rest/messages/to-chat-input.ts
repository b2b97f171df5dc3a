/*
 * An Anthropic Messages request → the gateway's unified ChatInput, so any model of the gateway can answer it.
 * @see https://docs.anthropic.com/en/api/messages
 */
import type { ChatInput } from '../../../gateway/chat-input.js';
import type { CacheControl, ReasoningBlock } from '../../../providers/types.js';
import { restEndUser } from '../schemas.js';
import type { Block, ImageBlock, MessagesRequest } from './schema.js';

type InputMessage = ChatInput['messages'][number];
type Part = NonNullable<InputMessage['parts']>[number];

/** `null` in a request means "no breakpoint"; the unified types only know present or absent. */
const cacheOf = (c: CacheControl | null | undefined): CacheControl | undefined => (c ? c : undefined);

/** A base64 source as a data: URL (the unified image form); a URL source as it is. */
function imageUrl(b: ImageBlock): string {
  return b.source.type === 'base64' ? `data:${b.source.media_type};base64,${b.source.data}` : b.source.url;
}

function part(b: Extract<Block, { type: 'text' | 'image' }>): Part {
  const cacheControl = cacheOf(b.cache_control);
  const p: Part = b.type === 'text' ? { kind: 'TEXT', text: b.text } : { kind: 'IMAGE_URL', imageUrl: imageUrl(b) };
  if (cacheControl) p.cacheControl = cacheControl;
  return p;
}

/**
 * A user turn: each tool_result becomes a TOOL message (they come first, as Anthropic requires), the other blocks
 * one USER message after them. Images inside a tool result go to that USER message, as the unified TOOL message
 * carries text only.
 */
function userTurn(content: Block[]): InputMessage[] {
  const out: InputMessage[] = [];
  const parts: Part[] = [];
  for (const b of content) {
    if (b.type === 'tool_result') {
      const texts: string[] = [];
      for (const c of typeof b.content === 'string' ? [{ type: 'text' as const, text: b.content }] : (b.content ?? [])) {
        if (c.type === 'text') texts.push(c.text);
        else parts.push(part(c));
      }
      const msg: InputMessage = { role: 'TOOL', toolCallId: b.tool_use_id, content: texts.join('') };
      const cacheControl = cacheOf(b.cache_control);
      if (cacheControl) msg.cacheControl = cacheControl;
      out.push(msg);
    } else if (b.type === 'text' || b.type === 'image') {
      parts.push(part(b));
    }
    // tool_use and thinking blocks belong to assistant turns; Anthropic refuses them here, the gateway drops them
  }
  if (parts.length) out.push({ role: 'USER', content: null, parts });
  return out;
}

/** An assistant turn: its text, its tool calls and the reasoning blocks it carries back. */
function assistantTurn(content: Block[]): InputMessage {
  const parts: Part[] = [];
  const toolCalls: NonNullable<InputMessage['toolCalls']> = [];
  const reasoning: ReasoningBlock[] = [];
  let cacheControl: CacheControl | undefined;
  for (const b of content) {
    if (b.type === 'text') parts.push(part(b));
    else if (b.type === 'tool_use') {
      toolCalls.push({ id: b.id, name: b.name, arguments: JSON.stringify(b.input) });
      // a breakpoint on a tool_use block: the turn's, which the Anthropic adapter puts on its last block
      cacheControl = cacheOf(b.cache_control) ?? cacheControl;
    } else if (b.type === 'thinking') reasoning.push({ text: b.thinking, signature: b.signature });
    else if (b.type === 'redacted_thinking') reasoning.push({ text: '', redactedData: b.data });
  }
  const msg: InputMessage = { role: 'ASSISTANT', content: parts.length ? null : '' };
  if (parts.length) msg.parts = parts;
  if (toolCalls.length) msg.toolCalls = toolCalls;
  if (reasoning.length) msg.reasoning = reasoning;
  if (cacheControl) msg.cacheControl = cacheControl;
  return msg;
}

function system(s: MessagesRequest['system']): InputMessage[] {
  if (s === undefined) return [];
  if (typeof s === 'string') return s ? [{ role: 'SYSTEM', content: s }] : [];
  return s.length ? [{ role: 'SYSTEM', content: null, parts: s.map(part) }] : [];
}

/** `warnings` collects what was accepted but has no effect (sent back in x-gateway-warning). */
export function toChatInput(b: MessagesRequest, warnings: string[]): ChatInput {
  const messages: InputMessage[] = system(b.system);
  for (const m of b.messages) {
    if (typeof m.content === 'string') messages.push({ role: m.role === 'user' ? 'USER' : 'ASSISTANT', content: m.content });
    else if (m.role === 'user') messages.push(...userTurn(m.content));
    else messages.push(assistantTurn(m.content));
  }
  const input: ChatInput = { model: b.model, messages, maxTokens: b.max_tokens };
  if (b.temperature !== undefined) input.temperature = b.temperature;
  if (b.top_p !== undefined) input.topP = b.top_p;
  if (b.top_k !== undefined) warnings.push('top_k is not supported by the gateway and was ignored');
  if (b.stop_sequences?.length) input.stop = b.stop_sequences;
  if (b.tools?.length) {
    input.tools = b.tools.map((t) => {
      const tool: NonNullable<ChatInput['tools']>[number] = { name: t.name, description: t.description ?? null, parameters: t.input_schema };
      const cacheControl = cacheOf(t.cache_control);
      if (cacheControl) tool.cacheControl = cacheControl;
      return tool;
    });
  }
  if (b.tool_choice) {
    const c = b.tool_choice;
    if (c.type === 'tool') input.forcedTool = c.name;
    else input.toolChoiceMode = c.type === 'any' ? 'REQUIRED' : c.type === 'none' ? 'NONE' : 'AUTO';
  }
  if (b.thinking?.type === 'enabled') input.reasoning = { budgetTokens: b.thinking.budget_tokens };
  const user = restEndUser(b.metadata?.user_id);
  if (user != null) input.user = user;
  return input;
}

/**
 * The core names fields as GraphQL does (`input.maxTokens`); an Anthropic client should read its own names. The
 * message indices are the unified ones (a system prompt or a tool result shifts them), so only names are mapped.
 */
export function anthropicParam(field: string): string {
  return field
    .replace(/^input\./, '')
    .replace(/^maxTokens$/, 'max_tokens')
    .replace(/^topP$/, 'top_p')
    .replace(/^stop$/, 'stop_sequences')
    .replace(/^reasoning\.budgetTokens$/, 'thinking.budget_tokens')
    .replace(/^(toolChoice|toolChoiceMode|forcedTool)$/, 'tool_choice')
    .replace(/^tools\[(\d+)\]\.parameters$/, 'tools[$1].input_schema')
    .replace(/^user$/, 'metadata.user_id')
    .replace(/\.toolCalls/g, '.content')
    .replace(/\.toolCallId/g, '.tool_use_id')
    .replace(/\.parts/g, '.content');
}
