/*
 * The gateway's answer as an OpenAI Response object: output items (a `message` with `output_text`, then one
 * `function_call` per tool call), status, usage in the Responses shape, and the request's settings echoed back.
 * @see https://platform.openai.com/docs/api-reference/responses/object
 */
import { randomBytes } from 'node:crypto';
import type { ChatInput } from '../../../gateway/chat-input.js';
import type { ChatResult, UsageOut } from '../../../gateway/results.js';
import type { FinishReason, ToolCall } from '../../../providers/types.js';
import type { CreateResponseRequest } from './schemas.js';

interface OutputText {
  type: 'output_text';
  text: string;
  annotations: unknown[];
}

export interface MessageItem {
  id: string;
  type: 'message';
  status: ItemStatus;
  role: 'assistant';
  content: OutputText[];
}

export interface FunctionCallItem {
  id: string;
  type: 'function_call';
  status: ItemStatus;
  arguments: string;
  call_id: string;
  name: string;
}

export type ItemStatus = 'in_progress' | 'completed' | 'incomplete';
export type OutputItem = MessageItem | FunctionCallItem;

export interface ResponseUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

type ResponseStatus = 'in_progress' | 'completed' | 'incomplete' | 'failed';

export interface ResponseObject {
  id: string;
  object: 'response';
  created_at: number;
  status: ResponseStatus;
  completed_at: number | null;
  error: { code: string; message: string } | null;
  incomplete_details: { reason: 'max_output_tokens' | 'content_filter' } | null;
  instructions: string | null;
  max_output_tokens: number | null;
  model: string;
  output: OutputItem[];
  parallel_tool_calls: boolean;
  previous_response_id: string | null;
  reasoning: { effort: string | null; summary: string | null };
  store: boolean;
  temperature: number | null;
  text: { format: { type: string } };
  tool_choice: unknown;
  tools: unknown[];
  top_p: number | null;
  truncation: 'disabled';
  usage: ResponseUsage | null;
  user: string | null;
  metadata: Record<string, string>;
  [key: string]: unknown;
}

/** OpenAI-style ids: a prefix and 48 hex digits (`resp_…`, `msg_…`, `fc_…`). */
export const newId = (prefix: 'resp' | 'msg' | 'fc' | 'call') => `${prefix}_${randomBytes(24).toString('hex')}`;

export const unixNow = () => Math.floor(Date.now() / 1000);

/** The Response as it stands before any output: `response.created` carries it, and every later state builds on it. */
export function responseShell(b: CreateResponseRequest, model: string, id: string, createdAt: number): ResponseObject {
  return {
    id,
    object: 'response',
    created_at: createdAt,
    status: 'in_progress',
    completed_at: null,
    error: null,
    incomplete_details: null,
    instructions: b.instructions ?? null,
    max_output_tokens: b.max_output_tokens ?? null,
    model,
    output: [],
    parallel_tool_calls: b.parallel_tool_calls ?? true,
    previous_response_id: b.previous_response_id ?? null,
    reasoning: { effort: b.reasoning?.effort ?? null, summary: null },
    store: b.store !== false,
    temperature: b.temperature ?? null,
    text: { format: { type: b.text?.format?.type ?? 'text' } },
    tool_choice: b.tool_choice ?? 'auto',
    tools: (b.tools ?? []).map((t) => ({ type: 'function', name: t.name, description: t.description ?? null, parameters: t.parameters ?? null, strict: t.strict ?? null })),
    top_p: b.top_p ?? null,
    truncation: 'disabled',
    usage: null,
    user: b.user ?? null,
    metadata: b.metadata ?? {},
  };
}

export function toResponseUsage(u: UsageOut): ResponseUsage {
  return {
    input_tokens: u.promptTokens,
    input_tokens_details: { cached_tokens: u.cachedReadTokens ?? 0 },
    output_tokens: u.completionTokens,
    output_tokens_details: { reasoning_tokens: u.reasoningTokens ?? 0 },
    total_tokens: u.totalTokens,
  };
}

/** What the finish reason makes of the response: LENGTH and CONTENT_FILTER leave it incomplete, as OpenAI reports them. */
export function statusOf(finish: FinishReason): Pick<ResponseObject, 'status' | 'incomplete_details'> {
  if (finish === 'LENGTH') return { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } };
  if (finish === 'CONTENT_FILTER') return { status: 'incomplete', incomplete_details: { reason: 'content_filter' } };
  return { status: 'completed', incomplete_details: null };
}

export const messageItem = (id: string, text: string, status: ItemStatus): MessageItem => ({
  id,
  type: 'message',
  status,
  role: 'assistant',
  content: [{ type: 'output_text', text, annotations: [] }],
});

export const functionCallItem = (id: string, call: ToolCall, status: ItemStatus): FunctionCallItem => ({
  id,
  type: 'function_call',
  status,
  arguments: call.arguments,
  call_id: call.id,
  name: call.name,
});

/** A unary answer as the finished Response. */
export function toResponse(shell: ResponseObject, r: ChatResult): ResponseObject {
  const done = statusOf(r.finishReason);
  const itemStatus: ItemStatus = done.status === 'completed' ? 'completed' : 'incomplete';
  const output: OutputItem[] = [];
  const text = r.message.content;
  if (text != null && (text !== '' || !r.message.toolCalls.length)) output.push(messageItem(newId('msg'), text, itemStatus));
  for (const c of r.message.toolCalls) output.push(functionCallItem(newId('fc'), c, 'completed'));
  return { ...shell, ...done, completed_at: unixNow(), output, usage: toResponseUsage(r.usage) };
}

/** The assistant turn the output adds to the conversation, for a later `previous_response_id`. */
export function assistantTurn(text: string | null, toolCalls: ToolCall[], reasoning?: ChatResult['message']['reasoning']): ChatInput['messages'][number] {
  const m: ChatInput['messages'][number] = { role: 'ASSISTANT', content: text ?? (toolCalls.length ? null : '') };
  if (toolCalls.length) m.toolCalls = toolCalls.map((c) => ({ id: c.id, name: c.name, arguments: c.arguments }));
  // sent back on the next turn: Anthropic needs the signed thinking blocks before a tool result
  if (reasoning?.length) m.reasoning = reasoning;
  return m;
}
