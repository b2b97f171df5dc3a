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

/**
 * Where one unified message came from in the Anthropic request, to name it in an error: the message (or `system`),
 * and for each of its parts and tool calls the block it was made of.
 */
export interface MessageOrigin {
  at: string;
  parts: string[];
  toolCalls: string[];
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
function userTurn(content: Block[], at: string, origins: MessageOrigin[]): InputMessage[] {
  const out: InputMessage[] = [];
  const parts: Part[] = [];
  const partOrigins: string[] = [];
  content.forEach((b, k) => {
    if (b.type === 'tool_result') {
      const texts: string[] = [];
      const inner = typeof b.content === 'string' ? [{ type: 'text' as const, text: b.content }] : (b.content ?? []);
      inner.forEach((c, j) => {
        if (c.type === 'text') texts.push(c.text);
        else {
          parts.push(part(c));
          partOrigins.push(`${at}.content[${k}].content[${j}]`);
        }
      });
      const msg: InputMessage = { role: 'TOOL', toolCallId: b.tool_use_id, content: texts.join('') };
      if (b.is_error) msg.isError = true;
      const cacheControl = cacheOf(b.cache_control);
      if (cacheControl) msg.cacheControl = cacheControl;
      out.push(msg);
      origins.push({ at: `${at}.content[${k}]`, parts: [], toolCalls: [] });
    } else if (b.type === 'text' || b.type === 'image') {
      parts.push(part(b));
      partOrigins.push(`${at}.content[${k}]`);
    }
    // tool_use and thinking blocks belong to assistant turns; Anthropic refuses them here, the gateway drops them
  });
  if (parts.length) {
    out.push({ role: 'USER', content: null, parts });
    origins.push({ at, parts: partOrigins, toolCalls: [] });
  }
  return out;
}

/** An assistant turn: its text, its tool calls and the reasoning blocks it carries back. */
function assistantTurn(content: Block[], at: string, origins: MessageOrigin[]): InputMessage {
  const parts: Part[] = [];
  const toolCalls: NonNullable<InputMessage['toolCalls']> = [];
  const reasoning: ReasoningBlock[] = [];
  const origin: MessageOrigin = { at, parts: [], toolCalls: [] };
  let cacheControl: CacheControl | undefined;
  for (const [k, b] of content.entries()) {
    if (b.type === 'text') {
      parts.push(part(b));
      origin.parts.push(`${at}.content[${k}]`);
    } else if (b.type === 'tool_use') {
      toolCalls.push({ id: b.id, name: b.name, arguments: JSON.stringify(b.input) });
      origin.toolCalls.push(`${at}.content[${k}]`);
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
  origins.push(origin);
  return msg;
}

function system(s: MessagesRequest['system'], origins: MessageOrigin[]): InputMessage[] {
  if (s === undefined || !s.length) return [];
  if (typeof s === 'string') {
    origins.push({ at: 'system', parts: [], toolCalls: [] });
    return [{ role: 'SYSTEM', content: s }];
  }
  origins.push({ at: 'system', parts: s.map((_, k) => `system[${k}]`), toolCalls: [] });
  return [{ role: 'SYSTEM', content: null, parts: s.map(part) }];
}

/** What a request becomes: the input for the core, and where each of its messages came from (see anthropicParam). */
export interface MappedMessages {
  input: ChatInput;
  origins: MessageOrigin[];
}

/** `warnings` collects what was accepted but has no effect (sent back in x-gateway-warning). */
export function toChatInput(b: MessagesRequest, warnings: string[]): MappedMessages {
  const origins: MessageOrigin[] = [];
  const messages: InputMessage[] = system(b.system, origins);
  b.messages.forEach((m, i) => {
    const at = `messages[${i}]`;
    if (typeof m.content === 'string') {
      messages.push({ role: m.role === 'user' ? 'USER' : 'ASSISTANT', content: m.content });
      origins.push({ at, parts: [], toolCalls: [] });
    } else if (m.role === 'user') messages.push(...userTurn(m.content, at, origins));
    else messages.push(assistantTurn(m.content, at, origins));
  });
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
  // adaptive thinking lets the model choose its budget; the gateway has no such setting to pass on, so it says so
  else if (b.thinking?.type === 'adaptive') warnings.push('thinking type adaptive is not supported by the gateway and was ignored');
  const user = restEndUser(b.metadata?.user_id);
  if (user != null) input.user = user;
  return { input, origins };
}

/** The field of a message (`.toolCalls[0].name`, `.parts[1].imageUrl`) as the Anthropic block it came from names it. */
function messageParam(origin: MessageOrigin, rest: string): string {
  let m = /^\.toolCalls\[(\d+)\](?:\.(\w+))?/.exec(rest);
  if (m) {
    const block = origin.toolCalls[Number(m[1])] ?? `${origin.at}.content`;
    const key = m[2] === 'arguments' ? '.input' : m[2] ? `.${m[2]}` : '';
    return block + key;
  }
  m = /^\.parts\[(\d+)\](?:\.(\w+))?/.exec(rest);
  if (m) {
    const block = origin.parts[Number(m[1])] ?? origin.at;
    const key = m[2] === 'imageUrl' ? '.source' : m[2] === 'text' ? '.text' : '';
    return block + key;
  }
  if (rest === '.toolCallId') return `${origin.at}.tool_use_id`;
  if (rest === '.toolCalls' || rest === '.parts') return `${origin.at}.content`;
  return origin.at;
}

/**
 * The core names fields as GraphQL does (`input.maxTokens`, `input.messages[3].toolCalls[0].name`); an Anthropic
 * client should read its own names. The unified message indices differ from the request's (a system prompt or a
 * tool_result becomes a message of its own), so `origins` maps each back to the block it came from.
 */
export function anthropicParam(field: string, origins: MessageOrigin[]): string {
  const m = /^input\.messages\[(\d+)\](.*)$/.exec(field);
  if (m) {
    const origin = origins[Number(m[1])];
    return origin ? messageParam(origin, m[2]) : 'messages';
  }
  return field
    .replace(/^input\./, '')
    .replace(/^maxTokens$/, 'max_tokens')
    .replace(/^topP$/, 'top_p')
    .replace(/^stop$/, 'stop_sequences')
    .replace(/^reasoning\.budgetTokens$/, 'thinking.budget_tokens')
    .replace(/^(toolChoice|toolChoiceMode|forcedTool)$/, 'tool_choice')
    .replace(/^tools\[(\d+)\]\.parameters$/, 'tools[$1].input_schema')
    .replace(/^user$/, 'metadata.user_id');
}
