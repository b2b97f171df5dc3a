/* Unified ChatRequest → Gemini generateContent request body. */
import type { ChatMessage, ChatRequest, ToolCall, ToolChoice, ToolDefinition } from '../types.js';
import { argumentsObject, isRecord, parseDataUrl, partsOf, textOf } from '../content.js';
import { effortBudget } from '../thinking.js';

/** @see https://ai.google.dev/api/caching#Part */
export interface GeminiPart {
  text?: string;
  thought?: boolean;
  thoughtSignature?: string;
  inlineData?: { mimeType: string; data: string };
  fileData?: { mimeType?: string; fileUri: string };
  functionCall?: { id?: string; name: string; args?: Record<string, unknown> };
  functionResponse?: { id?: string; name: string; response: Record<string, unknown> };
}

/** @see https://ai.google.dev/api/caching#Content */
export interface GeminiContent {
  role?: 'user' | 'model';
  parts: GeminiPart[];
}

interface GeminiFunctionDeclaration {
  name: string;
  description?: string;
  parameters?: Record<string, unknown>;
}

interface GeminiToolConfig {
  functionCallingConfig: { mode: 'AUTO' | 'ANY' | 'NONE'; allowedFunctionNames?: string[] };
}

interface GeminiGenerationConfig {
  temperature?: number;
  topP?: number;
  maxOutputTokens?: number;
  stopSequences?: string[];
  seed?: number;
  responseMimeType?: string;
  /** @see https://ai.google.dev/api/generate-content#ThinkingConfig */
  thinkingConfig?: { thinkingBudget: number };
}

export interface GeminiRequestBody {
  contents: GeminiContent[];
  systemInstruction?: { parts: Array<{ text: string }> };
  generationConfig?: GeminiGenerationConfig;
  tools?: Array<{ functionDeclarations: GeminiFunctionDeclaration[] }>;
  toolConfig?: GeminiToolConfig;
}

/**
 * The sentinel Google documents for replaying function calls whose thought signature was not kept
 * (the unified ToolCall has no field for it); Gemini 3+ rejects replayed calls with no signature at all.
 */
export const SKIP_THOUGHT_SIGNATURE = 'skip_thought_signature_validator';

/**
 * Builds the generateContent / streamGenerateContent body (both take the same request).
 * @see https://ai.google.dev/api/generate-content#request-body
 */
export function buildGeminiRequest(req: ChatRequest): GeminiRequestBody {
  const body: GeminiRequestBody = { contents: mapContents(req.messages, { thoughtSignatures: needsThoughtSignatures(req.model) }) };
  const system = req.messages
    .filter((m) => m.role === 'SYSTEM')
    .map(textOf)
    .filter((t) => t !== '');
  if (system.length) body.systemInstruction = { parts: [{ text: system.join('\n\n') }] };
  const config = mapGenerationConfig(req);
  if (Object.keys(config).length) body.generationConfig = config;
  if (req.tools?.length) {
    body.tools = [{ functionDeclarations: req.tools.map(mapTool) }];
    if (req.toolChoice !== undefined) body.toolConfig = mapToolChoice(req.toolChoice);
  }
  return body;
}

/**
 * @see https://ai.google.dev/api/generate-content#v1beta.GenerationConfig
 */
function mapGenerationConfig(req: ChatRequest): GeminiGenerationConfig {
  const c: GeminiGenerationConfig = {};
  if (req.temperature !== undefined) c.temperature = req.temperature;
  if (req.topP !== undefined) c.topP = req.topP;
  if (req.maxTokens !== undefined) c.maxOutputTokens = req.maxTokens;
  if (req.stop?.length) c.stopSequences = req.stop;
  if (req.seed !== undefined) c.seed = req.seed;
  if (req.jsonMode) c.responseMimeType = 'application/json';
  const budget = thinkingBudget(req);
  if (budget !== undefined) c.thinkingConfig = { thinkingBudget: budget };
  return c;
}

/**
 * Gemini's thinking budget: the caller's as given (Gemini has its own ranges per model; 0 turns thinking off on
 * Flash), or the shared budget for an effort. Thought summaries are not asked for (includeThoughts stays off).
 * @see https://ai.google.dev/gemini-api/docs/thinking#set-budget
 */
function thinkingBudget(req: ChatRequest): number | undefined {
  if (!req.reasoning) return undefined;
  if (req.reasoning.budgetTokens !== undefined) return req.reasoning.budgetTokens;
  return req.reasoning.effort ? effortBudget(req.reasoning.effort, req.maxTokens) : undefined;
}

/**
 * Maps the conversation to `contents`: assistant → `model`, tool results → `user` turns of
 * functionResponse parts; consecutive same-role turns are merged (parallel call results must share one turn).
 * @see https://ai.google.dev/gemini-api/docs/function-calling
 */
function mapContents(messages: ChatMessage[], opts: { thoughtSignatures?: boolean } = {}): GeminiContent[] {
  // filled as the conversation is read, so a result is named after the latest call with its id before it:
  // histories from clients (or older gateways) may reuse an id in every round
  const callNames = new Map<string, string>();
  const out: GeminiContent[] = [];
  for (const m of messages) {
    if (m.role === 'ASSISTANT') for (const c of m.toolCalls ?? []) callNames.set(c.id, c.name);
    if (m.role === 'SYSTEM') continue;
    const role = m.role === 'ASSISTANT' ? 'model' : 'user';
    let parts: GeminiPart[];
    if (m.role === 'TOOL') {
      const name = m.name ?? (m.toolCallId ? callNames.get(m.toolCallId) : undefined) ?? m.toolCallId ?? 'tool';
      parts = [mapToolResult(name, textOf(m))];
    } else {
      parts = mapParts(m);
      if (m.role === 'ASSISTANT') for (const c of m.toolCalls ?? []) parts.push(mapToolCall(c));
    }
    if (!parts.length) continue;
    const prev = out[out.length - 1];
    if (prev && prev.role === role) prev.parts.push(...parts);
    else out.push({ role, parts });
  }
  if (opts.thoughtSignatures) {
    for (const c of out) {
      // Google documents the signature on the first function call of each model turn only
      const first = c.role === 'model' ? c.parts.find((p) => p.functionCall) : undefined;
      if (first && !first.thoughtSignature) first.thoughtSignature = SKIP_THOUGHT_SIGNATURE;
    }
  }
  return out;
}

/**
 * Text and image parts: data: URLs inline, other URLs by reference with a MIME type guessed from the path.
 * @see https://ai.google.dev/api/caching#Part
 */
function mapParts(m: ChatMessage): GeminiPart[] {
  const parts: GeminiPart[] = [];
  for (const p of partsOf(m)) {
    if (p.type === 'TEXT') {
      if (p.text !== '') parts.push({ text: p.text });
    } else {
      parts.push(mapImage(p.imageUrl));
    }
  }
  return parts;
}

/**
 * @see https://ai.google.dev/gemini-api/docs/image-understanding
 */
function mapImage(imageUrl: string): GeminiPart {
  const data = parseDataUrl(imageUrl);
  if (data) return { inlineData: { mimeType: data.mimeType, data: data.base64 } };
  return { fileData: { mimeType: guessMimeType(imageUrl), fileUri: imageUrl } };
}

/**
 * Call ids are not sent back: older API versions reject the field and Gemini pairs calls with results by name and order.
 * @see https://ai.google.dev/api/caching#FunctionCall
 */
function mapToolCall(c: ToolCall): GeminiPart {
  return { functionCall: { name: c.name, args: argumentsObject(c.arguments) } };
}

/**
 * `response` must be a JSON object, so other results are wrapped as `{ content }`.
 * @see https://ai.google.dev/api/caching#FunctionResponse
 */
function mapToolResult(name: string, result: string): GeminiPart {
  let response: Record<string, unknown>;
  try {
    const v = JSON.parse(result) as unknown;
    response = v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : { content: v };
  } catch {
    response = { content: result };
  }
  return { functionResponse: { name, response } };
}

/**
 * @see https://ai.google.dev/api/caching#FunctionDeclaration
 */
function mapTool(t: ToolDefinition): GeminiFunctionDeclaration {
  const decl: GeminiFunctionDeclaration = { name: t.name };
  if (t.description) decl.description = t.description;
  const parameters = t.parameters ? toGeminiSchema(t.parameters) : undefined;
  // Gemini rejects an OBJECT schema without properties ("should be non-empty for OBJECT type")
  if (parameters && !(isObjectType(parameters.type) && isEmpty(parameters.properties))) decl.parameters = parameters;
  return decl;
}

/**
 * @see https://ai.google.dev/api/caching#FunctionCallingConfig
 */
function mapToolChoice(choice: ToolChoice): GeminiToolConfig {
  if (typeof choice === 'object') return { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: [choice.name] } };
  if (choice === 'REQUIRED') return { functionCallingConfig: { mode: 'ANY' } };
  if (choice === 'NONE') return { functionCallingConfig: { mode: 'NONE' } };
  return { functionCallingConfig: { mode: 'AUTO' } };
}

/** Keys of Gemini's Schema (an OpenAPI 3.0 subset); other JSON Schema keys fail with "Unknown name". */
const SCHEMA_KEYS = new Set([
  'type', 'format', 'title', 'description', 'nullable', 'enum', 'maxItems', 'minItems', 'properties', 'required',
  'minProperties', 'maxProperties', 'minLength', 'maxLength', 'pattern', 'example', 'anyOf', 'propertyOrdering',
  'default', 'items', 'minimum', 'maximum',
]);

/**
 * Reduces a JSON Schema to what Gemini's Schema accepts: unknown keywords dropped, `type: [T, "null"]`
 * turned into `nullable`, `const` into a one-value enum.
 * @see https://ai.google.dev/api/caching#Schema
 */
function toGeminiSchema(schema: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === 'const') out.enum = [v];
    if (!SCHEMA_KEYS.has(k)) continue;
    if (k === 'type' && Array.isArray(v)) {
      const types = v.filter((t) => t !== 'null');
      if (types.length !== v.length) out.nullable = true;
      if (types.length) out.type = types[0];
    } else if (k === 'properties' && isRecord(v)) {
      out.properties = Object.fromEntries(Object.entries(v).map(([p, s]) => [p, isRecord(s) ? toGeminiSchema(s) : s]));
    } else if (k === 'items' && isRecord(v)) {
      out.items = toGeminiSchema(v);
    } else if (k === 'anyOf' && Array.isArray(v)) {
      out.anyOf = v.map((s) => (isRecord(s) ? toGeminiSchema(s) : s));
    } else {
      out[k] = v;
    }
  }
  return out;
}

/** Gemini 3 and later validate thought signatures on replayed function calls. */
function needsThoughtSignatures(model: string): boolean {
  const m = /^(?:models\/)?gemini-(\d+)/.exec(model);
  return m !== null && Number(m[1]) >= 3;
}

const MIME_BY_EXT: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  heic: 'image/heic',
  heif: 'image/heif',
  pdf: 'application/pdf',
};

/** fileData needs a MIME type; image URLs without a known extension are assumed to be JPEG. */
function guessMimeType(url: string): string {
  let path = url;
  try {
    path = new URL(url).pathname;
  } catch {
    /* not an absolute URL (e.g. a bare file id): use it as is */
  }
  const ext = /\.([a-z0-9]+)$/i.exec(path)?.[1]?.toLowerCase();
  return (ext && MIME_BY_EXT[ext]) || 'image/jpeg';
}

function isObjectType(t: unknown): boolean {
  return typeof t === 'string' && t.toLowerCase() === 'object';
}

function isEmpty(v: unknown): boolean {
  return !isRecord(v) || Object.keys(v).length === 0;
}
