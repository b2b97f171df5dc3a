/* Validates the public ChatInput and turns it into the adapters' ChatRequest (minus the upstream model id). */
import type { CacheOptionsInput } from '../cache/cache-policy.js';
import { badInput } from '../errors.js';
import type {
  CacheControl,
  ChatMessage,
  ChatRequest,
  ContentPart,
  ReasoningBlock,
  ReasoningOptions,
  Role,
  ToolChoice,
  ToolDefinition,
} from '../providers/types.js';

export interface ChatInput {
  model: string;
  messages: Array<{
    role: Role;
    content?: string | null;
    /** `kind` is the enum; `type` its deprecated string form. */
    parts?: Array<{
      kind?: 'TEXT' | 'IMAGE_URL' | null;
      type?: string | null;
      text?: string | null;
      imageUrl?: string | null;
      /** Set by the REST surfaces (Anthropic `cache_control`); not in the GraphQL input. */
      cacheControl?: CacheControl | null;
    }> | null;
    toolCalls?: Array<{ id: string; name: string; arguments: string }> | null;
    toolCallId?: string | null;
    /** TOOL messages: the tool failed (Anthropic `is_error`; REST surfaces, not in the GraphQL input). */
    isError?: boolean | null;
    name?: string | null;
    /** ASSISTANT turns: the reasoning blocks the model returned, sent back (REST surfaces; not in the GraphQL input). */
    reasoning?: ReasoningBlock[] | null;
    /** A cache breakpoint after the message's last block (REST surfaces; not in the GraphQL input). */
    cacheControl?: CacheControl | null;
  }>;
  temperature?: number | null;
  topP?: number | null;
  maxTokens?: number | null;
  stop?: string[] | null;
  seed?: number | null;
  tools?: Array<{ name: string; description?: string | null; parameters?: unknown; cacheControl?: CacheControl | null }> | null;
  toolChoiceMode?: 'AUTO' | 'NONE' | 'REQUIRED' | null;
  forcedTool?: string | null;
  /** Deprecated string form of toolChoiceMode / forcedTool. */
  toolChoice?: string | null;
  jsonMode?: boolean | null;
  metadata?: unknown;
  /** This call's use of the response cache (over the key's and the model's). */
  cache?: CacheOptionsInput | null;
  /** Extended thinking / reasoning effort (REST surfaces: Anthropic `thinking`, OpenAI `reasoning`). */
  reasoning?: ReasoningOptions | null;
  /** The end user the caller serves (OpenAI's `user`): recorded, and limited by the key's and team's end-user limits. */
  user?: string | null;
}

export interface InputBounds {
  /** @default 1000 */
  maxMessages: number;
  /** Total characters of text, arguments and URLs over all messages. @default 2_000_000 */
  maxInputChars: number;
}

export const DEFAULT_INPUT_BOUNDS: InputBounds = { maxMessages: 1000, maxInputChars: 2_000_000 };

const ROLES: Role[] = ['SYSTEM', 'USER', 'ASSISTANT', 'TOOL'];
const TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * @param deprecations collects a note for each deprecated input form used (string part types, the string toolChoice),
 * for extensions.warnings
 */
export function toChatRequest(input: ChatInput, bounds: InputBounds = DEFAULT_INPUT_BOUNDS, deprecations?: string[]): Omit<ChatRequest, 'model'> {
  if (!input.model?.trim()) throw badInput('input.model', 'must not be empty');
  if (!Array.isArray(input.messages) || !input.messages.length) throw badInput('input.messages', 'must contain at least one message');
  if (input.messages.length > bounds.maxMessages) throw badInput('input.messages', `at most ${bounds.maxMessages} messages are allowed`);
  const tally: Tally = { chars: 0, stringPartType: false };
  const messages = input.messages.map((m, i) => toMessage(m, `input.messages[${i}]`, tally));
  if (tally.chars > bounds.maxInputChars) throw badInput('input.messages', `total input must be at most ${bounds.maxInputChars} characters`);

  const req: Omit<ChatRequest, 'model'> = { messages };
  setSampling(input, req);
  const tools = toTools(input.tools);
  if (tools) req.tools = tools;
  const choice = toolChoiceOf(input, tools, deprecations);
  if (choice) req.toolChoice = choice;
  if (tally.stringPartType) deprecations?.push('ContentPartInput.type is deprecated: use `kind` (the ContentPartType enum).');
  return req;
}

/** What the messages add up to: characters of input, and whether a part used the deprecated string type. */
interface Tally {
  chars: number;
  stringPartType: boolean;
}

function toMessage(m: ChatInput['messages'][number], at: string, tally: Tally): ChatMessage {
  if (!ROLES.includes(m.role)) throw badInput(`${at}.role`, 'must be SYSTEM, USER, ASSISTANT or TOOL');
  const parts: ContentPart[] | undefined = m.parts?.map((p, j) => toPart(p, `${at}.parts[${j}]`, tally));
  if (parts && m.role !== 'USER' && parts.some((p) => p.type === 'IMAGE_URL')) {
    throw badInput(`${at}.parts`, 'image parts are only allowed on USER messages');
  }
  const toolCalls = m.toolCalls?.map((c, j) => {
    if (m.role !== 'ASSISTANT') throw badInput(`${at}.toolCalls`, 'only ASSISTANT messages carry tool calls');
    if (!c.id) throw badInput(`${at}.toolCalls[${j}].id`, 'must not be empty');
    if (!TOOL_NAME.test(c.name)) throw badInput(`${at}.toolCalls[${j}].name`, 'must be 1-64 letters, digits, _ or -');
    tally.chars += c.arguments.length;
    return { id: c.id, name: c.name, arguments: c.arguments };
  });
  if (m.role === 'TOOL' && !m.toolCallId) throw badInput(`${at}.toolCallId`, 'is required on TOOL messages');
  const content = m.content ?? null;
  if (content !== null) tally.chars += content.length;
  if (content === null && !parts?.length && !toolCalls?.length) {
    throw badInput(`${at}.content`, 'a message needs content, parts or toolCalls');
  }
  const msg: ChatMessage = { role: m.role, content };
  if (parts) msg.parts = parts;
  if (toolCalls?.length) msg.toolCalls = toolCalls;
  if (m.toolCallId) msg.toolCallId = m.toolCallId;
  if (m.isError && m.role === 'TOOL') msg.isError = true;
  if (m.name) msg.name = m.name;
  if (m.reasoning?.length) msg.reasoning = m.reasoning;
  if (m.cacheControl) msg.cacheControl = m.cacheControl;
  return msg;
}

function toPart(p: NonNullable<ChatInput['messages'][number]['parts']>[number], at: string, tally: Tally): ContentPart {
  if (p.kind != null && p.type != null) throw badInput(`${at}.type`, 'give `kind` or `type`, not both');
  if (p.kind == null && p.type != null) tally.stringPartType = true;
  const kind = p.kind ?? p.type;
  if (kind == null) throw badInput(`${at}.kind`, 'is required (TEXT or IMAGE_URL)');
  if (kind === 'TEXT') {
    if (typeof p.text !== 'string') throw badInput(`${at}.text`, 'is required for TEXT parts');
    tally.chars += p.text.length;
    return p.cacheControl ? { type: 'TEXT', text: p.text, cacheControl: p.cacheControl } : { type: 'TEXT', text: p.text };
  }
  if (kind === 'IMAGE_URL') {
    if (typeof p.imageUrl !== 'string' || !/^(https?:|data:image\/)/.test(p.imageUrl)) {
      throw badInput(`${at}.imageUrl`, 'must be an http(s) URL or a data:image/… URL');
    }
    tally.chars += p.imageUrl.length;
    return p.cacheControl ? { type: 'IMAGE_URL', imageUrl: p.imageUrl, cacheControl: p.cacheControl } : { type: 'IMAGE_URL', imageUrl: p.imageUrl };
  }
  throw badInput(`${at}.type`, 'must be TEXT or IMAGE_URL');
}

/** Temperature, topP, maxTokens, stop, seed and jsonMode, each checked and set only when given. */
function setSampling(input: ChatInput, req: Omit<ChatRequest, 'model'>): void {
  if (input.temperature != null) {
    if (!(input.temperature >= 0 && input.temperature <= 2)) throw badInput('input.temperature', 'must be between 0 and 2');
    req.temperature = input.temperature;
  }
  if (input.topP != null) {
    if (!(input.topP > 0 && input.topP <= 1)) throw badInput('input.topP', 'must be greater than 0 and at most 1');
    req.topP = input.topP;
  }
  if (input.maxTokens != null) {
    if (!Number.isInteger(input.maxTokens) || input.maxTokens < 1) throw badInput('input.maxTokens', 'must be a positive integer');
    req.maxTokens = input.maxTokens;
  }
  if (input.stop != null) {
    if (input.stop.length > 16) throw badInput('input.stop', 'at most 16 stop sequences');
    if (input.stop.some((s) => !s)) throw badInput('input.stop', 'stop sequences must not be empty');
    if (input.stop.length) req.stop = input.stop;
  }
  if (input.seed != null) req.seed = input.seed;
  if (input.jsonMode) req.jsonMode = true;
  if (input.reasoning) {
    const { budgetTokens, effort } = input.reasoning;
    if (budgetTokens != null && (!Number.isInteger(budgetTokens) || budgetTokens < 1)) {
      throw badInput('input.reasoning.budgetTokens', 'must be a positive integer');
    }
    if (budgetTokens != null || effort != null) req.reasoning = input.reasoning;
  }
}

function toTools(tools: ChatInput['tools']): ToolDefinition[] | undefined {
  if (!tools?.length) return undefined;
  const defs = tools.map((t, i) => {
    if (!TOOL_NAME.test(t.name)) throw badInput(`input.tools[${i}].name`, 'must be 1-64 letters, digits, _ or -');
    if (t.parameters != null && (typeof t.parameters !== 'object' || Array.isArray(t.parameters))) {
      throw badInput(`input.tools[${i}].parameters`, 'must be a JSON Schema object');
    }
    const def: ToolDefinition = { name: t.name };
    if (t.description) def.description = t.description;
    if (t.parameters) def.parameters = t.parameters as Record<string, unknown>;
    if (t.cacheControl) def.cacheControl = t.cacheControl;
    return def;
  });
  const names = new Set(defs.map((t) => t.name));
  if (names.size !== defs.length) throw badInput('input.tools', 'tool names must be unique');
  return defs;
}

function toolChoiceOf(input: ChatInput, tools: ToolDefinition[] | undefined, deprecations: string[] | undefined): ToolChoice | undefined {
  const given = [input.toolChoiceMode, input.forcedTool, input.toolChoice].filter((x) => x != null).length;
  if (given > 1) throw badInput('input.toolChoiceMode', 'give one of toolChoiceMode, forcedTool or toolChoice');
  if (input.toolChoice != null) {
    deprecations?.push('ChatInput.toolChoice is deprecated: use `toolChoiceMode` or `forcedTool`.');
    return toToolChoice(input.toolChoice, tools);
  }
  if (input.forcedTool != null) {
    if (!tools?.some((t) => t.name === input.forcedTool)) throw badInput('input.forcedTool', `must be the name of one of input.tools (got "${input.forcedTool}")`);
    return { name: input.forcedTool };
  }
  if (input.toolChoiceMode != null) {
    if (input.toolChoiceMode === 'REQUIRED' && !tools?.length) throw badInput('input.toolChoiceMode', 'REQUIRED needs at least one tool');
    return input.toolChoiceMode;
  }
  return undefined;
}

/**
 * The request for one target. The model key comes before the spread on purpose: on Node 20's V8 an object
 * literal that starts with a spread and then gains a key gets a hidden class of its own on every call, so each
 * property read of the request in the adapters missed its inline cache (one new map per request).
 */
export function withModel(req: Omit<ChatRequest, 'model'>, model: string): ChatRequest {
  return { model, ...req };
}

function toToolChoice(choice: string, tools: ToolDefinition[] | undefined): ToolChoice {
  const upper = choice.toUpperCase();
  if (upper === 'AUTO' || upper === 'NONE' || upper === 'REQUIRED') {
    if (upper === 'REQUIRED' && !tools?.length) throw badInput('input.toolChoice', 'REQUIRED needs at least one tool');
    return upper;
  }
  if (!tools?.some((t) => t.name === choice)) {
    throw badInput('input.toolChoice', `must be AUTO, NONE, REQUIRED or the name of one of input.tools (got "${choice}")`);
  }
  return { name: choice };
}

/** Free-form tags stored with the usage record: a JSON object of bounded size. */
export function toMetadata(value: unknown, field = 'input.metadata'): Record<string, unknown> | null {
  if (value == null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) throw badInput(field, 'must be a JSON object');
  if (JSON.stringify(value).length > 8192) throw badInput(field, 'must be at most 8 KiB of JSON');
  return value as Record<string, unknown>;
}
