/*
 * A Responses API request → the gateway's ChatInput: `instructions` as the system message, the stored conversation
 * of `previous_response_id`, then this request's input items (messages, function calls, function call outputs).
 * @see https://platform.openai.com/docs/api-reference/responses/create
 */
import type { ChatInput } from '../../../gateway/chat-input.js';
import { badInput } from '../../../errors.js';
import { withParam } from '../param.js';
import type { StoredChain, StoredConversation } from '../../../services/stored-responses.js';
import { restEndUser } from '../schemas.js';
import type { ContentPart, CreateResponseRequest, InputItem } from './schemas.js';

type Message = ChatInput['messages'][number];
type Part = NonNullable<Message['parts']>[number];

/** What one request becomes: the input for the core, and the messages this turn adds to the conversation. */
export interface MappedRequest {
  input: ChatInput;
  /** The messages this request adds to the conversation (its input, not `instructions`), stored with its output. */
  turn: StoredConversation;
  /** For each message of input.messages, the request field it came from (to name it in an error). */
  origins: string[];
}

const textOf = (parts: ContentPart[]): string =>
  parts.map((p) => (p.type === 'refusal' ? p.refusal : p.type === 'input_image' ? '' : p.text)).join('');

function userMessage(content: string | ContentPart[], at: string): Message {
  if (typeof content === 'string') return { role: 'USER', content };
  const parts = content.map((p, j): Part => {
    if (p.type === 'input_image') return { kind: 'IMAGE_URL', imageUrl: p.image_url };
    if (p.type === 'refusal') throw badInput(`${at}.content[${j}].type`, 'a refusal is only allowed in assistant messages');
    return { kind: 'TEXT', text: p.text };
  });
  return { role: 'USER', content: null, parts };
}

/** Text-only content (system, developer, assistant messages); an image there is a client error, named. */
function plainText(content: string | ContentPart[], at: string): string {
  if (typeof content === 'string') return content;
  const image = content.findIndex((p) => p.type === 'input_image');
  if (image >= 0) throw badInput(`${at}.content[${image}]`, 'images are only allowed in user messages');
  return textOf(content);
}

/** Appends this request's input items to `messages`; consecutive function calls join the assistant turn before them. */
function addItems(items: InputItem[], messages: Message[], origins: string[]): void {
  // the assistant message function calls may join: the last one, while nothing else came after it
  let open: Message | null = null;
  items.forEach((item, i) => {
    const at = `input[${i}]`;
    switch (item.type) {
      case 'message': {
        let m: Message;
        if (item.role === 'user') m = userMessage(item.content, at);
        else if (item.role === 'assistant') m = { role: 'ASSISTANT', content: plainText(item.content, at) };
        else m = { role: 'SYSTEM', content: plainText(item.content, at) };
        messages.push(m);
        origins.push(at);
        open = m.role === 'ASSISTANT' ? m : null;
        return;
      }
      case 'function_call': {
        const call = { id: item.call_id, name: item.name, arguments: item.arguments };
        if (open) {
          open.toolCalls = [...(open.toolCalls ?? []), call];
        } else {
          open = { role: 'ASSISTANT', content: null, toolCalls: [call] };
          messages.push(open);
          origins.push(at);
        }
        return;
      }
      case 'function_call_output': {
        let content: string;
        if (typeof item.output === 'string') content = item.output;
        else {
          const image = item.output.findIndex((p) => p.type === 'input_image');
          if (image >= 0) throw badInput(`${at}.output[${image}]`, 'images in function call outputs are not supported');
          content = textOf(item.output);
        }
        messages.push({ role: 'TOOL', content, toolCallId: item.call_id });
        origins.push(at);
        open = null;
        return;
      }
      case 'reasoning':
        // nothing of it can be sent on (the gateway gives out no reasoning items); it does not end the assistant turn
        return;
    }
  });
}

const EFFORT = { minimal: 'LOW', low: 'LOW', medium: 'MEDIUM', high: 'HIGH', xhigh: 'HIGH' } as const;

export function toChatInput(b: CreateResponseRequest, previous: StoredChain | null): MappedRequest {
  const model = b.model ?? previous?.model;
  if (!model) throw badInput('model', 'is required');
  if (b.input === undefined && !previous) throw badInput('input', 'is required');

  const messages: Message[] = [];
  const origins: string[] = [];
  if (b.instructions) {
    messages.push({ role: 'SYSTEM', content: b.instructions });
    origins.push('instructions');
  }
  for (const m of previous?.conversation ?? []) {
    messages.push(m);
    origins.push('previous_response_id');
  }
  const before = messages.length;
  if (typeof b.input === 'string') {
    messages.push({ role: 'USER', content: b.input });
    origins.push('input');
  } else if (b.input) {
    addItems(b.input, messages, origins);
  }
  if (messages.length === before && !previous) throw badInput('input', 'must contain at least one message or function call output');
  const turn = messages.slice(before);

  const input: ChatInput = { model, messages };
  if (b.temperature != null) input.temperature = b.temperature;
  if (b.top_p != null) input.topP = b.top_p;
  if (b.max_output_tokens != null) input.maxTokens = b.max_output_tokens;
  if (b.tools?.length) input.tools = b.tools.map((t) => ({ name: t.name, description: t.description ?? null, parameters: t.parameters ?? null }));
  if (typeof b.tool_choice === 'string') input.toolChoiceMode = b.tool_choice.toUpperCase() as 'AUTO' | 'NONE' | 'REQUIRED';
  else if (b.tool_choice) input.forcedTool = b.tool_choice.name;
  if (b.text?.format?.type === 'json_object') input.jsonMode = true;
  const effort = b.reasoning?.effort;
  if (effort && effort !== 'none') input.reasoning = { effort: EFFORT[effort] };
  if (b.metadata) input.metadata = b.metadata;
  const user = restEndUser(b.user);
  if (user != null) input.user = user;
  return { input, turn, origins };
}

/**
 * The core names ChatInput fields (`input.messages[3].toolCallId`, `input.topP`); a Responses client should see
 * the fields it sent (`input[2].call_id`, `top_p`). `origins` maps each message back to its request field.
 */
function responsesParam(field: string, origins: string[]): string {
  const m = /^input\.messages\[(\d+)\](.*)$/.exec(field);
  if (m) {
    const origin = origins[Number(m[1])] ?? 'input';
    const rest = m[2]
      .replace(/^\.toolCallId$/, '.call_id')
      .replace(/^\.toolCalls\[\d+\]\.id$/, '.call_id')
      .replace(/^\.toolCalls\[\d+\]\.(name|arguments)$/, '.$1')
      .replace(/^\.parts\[(\d+)\].*$/, '.content[$1]');
    return origin === 'input' || origin === 'instructions' || origin === 'previous_response_id' ? origin : `${origin}${rest}`;
  }
  return field
    .replace(/^input\.messages$/, 'input')
    .replace(/^input\.tools/, 'tools')
    .replace(/^input\.topP$/, 'top_p')
    .replace(/^input\.maxTokens$/, 'max_output_tokens')
    .replace(/^input\.(toolChoice|toolChoiceMode|forcedTool)$/, 'tool_choice')
    .replace(/^input\.jsonMode$/, 'text.format')
    .replace(/^input\.reasoning.*$/, 'reasoning')
    .replace(/^input\./, '');
}

/** Renames the field of a BAD_USER_INPUT raised by the core; other errors pass unchanged. */
export const withResponsesParam = (err: unknown, origins: string[]): unknown => withParam(err, (f) => responsesParam(f, origins));
