/* Unified ChatRequest → Bedrock Converse / ConverseStream request body. */
import { argumentsObject, parseDataUrl, partsOf } from '../content.js';
import type { CacheControl, ChatMessage, ChatRequest, ReasoningBlock, ToolChoice, ToolDefinition } from '../types.js';
import { JSON_MODE_INSTRUCTION } from '../anthropic/request.js';
import { claudeThinking, replayableReasoning } from '../thinking.js';
import { badRequest } from './errors.js';

/** @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_CachePointBlock.html */
interface CachePoint {
  cachePoint: { type: 'default'; ttl?: '5m' | '1h' };
}

/** @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ImageBlock.html */
interface ImageBlock {
  image: { format: 'png' | 'jpeg' | 'gif' | 'webp'; source: { bytes: string } };
}

/** @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ReasoningContentBlock.html */
interface ReasoningContent {
  reasoningContent: { reasoningText: { text: string; signature?: string } } | { redactedContent: string };
}

/** @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ContentBlock.html */
type ContentBlock =
  | { text: string }
  | ImageBlock
  | { toolUse: { toolUseId: string; name: string; input: Record<string, unknown> } }
  | { toolResult: { toolUseId: string; content: Array<{ text: string } | ImageBlock>; status?: 'success' | 'error' } }
  | ReasoningContent
  | CachePoint;

interface Message {
  role: 'user' | 'assistant';
  content: ContentBlock[];
}

type Tool = { toolSpec: { name: string; description?: string; inputSchema: { json: Record<string, unknown> } } } | CachePoint;

/** @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ToolChoice.html */
type BedrockToolChoice = { auto: Record<string, never> } | { any: Record<string, never> } | { tool: { name: string } };

/** @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html#API_runtime_Converse_RequestSyntax */
export interface ConverseRequestBody {
  messages: Message[];
  system?: Array<{ text: string } | CachePoint>;
  inferenceConfig?: { maxTokens?: number; temperature?: number; topP?: number; stopSequences?: string[] };
  toolConfig?: { tools: Tool[]; toolChoice?: BedrockToolChoice };
  additionalModelRequestFields?: Record<string, unknown>;
}

/**
 * Builds the Converse body (the model id goes in the URL, `stream` in the path). `seed` has no Converse field and
 * is dropped; JSON mode is asked for in the system prompt, as for Anthropic.
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html
 */
export function buildConverseRequest(req: ChatRequest): ConverseRequestBody {
  const body: ConverseRequestBody = { messages: mapMessages(req.messages) };
  const system = mapSystem(req);
  if (system.length) body.system = system;

  const inference: NonNullable<ConverseRequestBody['inferenceConfig']> = {};
  if (req.maxTokens !== undefined) inference.maxTokens = req.maxTokens;
  if (req.temperature !== undefined) inference.temperature = req.temperature;
  if (req.topP !== undefined) inference.topP = req.topP;
  if (req.stop?.length) inference.stopSequences = req.stop;

  // extended thinking for Claude goes in the model's own fields (Converse has no reasoning parameter); other
  // model families take other fields and get none (their default)
  // https://docs.aws.amazon.com/bedrock/latest/userguide/claude-messages-extended-thinking.html
  const thinking = isClaude(req.model) ? claudeThinking(req) : undefined;
  if (thinking) {
    body.additionalModelRequestFields = { thinking: { type: 'enabled', budget_tokens: thinking.budget } };
    inference.maxTokens = thinking.maxTokens;
    // Claude rejects a changed temperature, and top_p under 0.95, while thinking
    delete inference.temperature;
    if (thinking.topP !== undefined) inference.topP = thinking.topP;
  }
  if (Object.keys(inference).length) body.inferenceConfig = inference;

  const toolConfig = mapToolConfig(req);
  if (toolConfig) body.toolConfig = toolConfig;
  return body;
}

/** Claude models on Bedrock (ids `anthropic.claude…`, inference profiles `us.anthropic.claude…`, ARNs holding it). */
function isClaude(model: string): boolean {
  return /(^|[.:/])anthropic\.claude/.test(model);
}

function cachePoint(c: CacheControl): CachePoint {
  return { cachePoint: c.ttl ? { type: 'default', ttl: c.ttl } : { type: 'default' } };
}

/**
 * System messages become the top-level `system` blocks; a cache_control on a system message or its parts is a
 * cachePoint after its text.
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_SystemContentBlock.html
 */
function mapSystem(req: ChatRequest): Array<{ text: string } | CachePoint> {
  const out: Array<{ text: string } | CachePoint> = [];
  for (const m of req.messages) {
    if (m.role !== 'SYSTEM') continue;
    for (const p of partsOf(m)) {
      if (p.type !== 'TEXT' || p.text === '') continue;
      out.push({ text: p.text });
      if (p.cacheControl) out.push(cachePoint(p.cacheControl));
    }
    if (m.cacheControl && out.length && !('cachePoint' in out[out.length - 1])) out.push(cachePoint(m.cacheControl));
  }
  if (req.jsonMode) out.push({ text: JSON_MODE_INSTRUCTION });
  return out;
}

/**
 * Alternating user/assistant turns: tool results travel in user turns, consecutive same-role messages merge.
 * @see https://docs.aws.amazon.com/bedrock/latest/userguide/tool-use-inference-call.html
 */
function mapMessages(messages: ChatMessage[]): Message[] {
  const out: Message[] = [];
  messages.forEach((m, i) => {
    if (m.role === 'SYSTEM') return;
    const role = m.role === 'ASSISTANT' ? 'assistant' : 'user';
    const blocks: ContentBlock[] = [];
    // Claude wants an assistant turn's thinking blocks first, unchanged, and refuses unsigned ones
    if (m.role === 'ASSISTANT') for (const r of replayableReasoning(m.reasoning)) blocks.push(mapReasoning(r));
    if (m.role === 'TOOL') blocks.push(mapToolResult(m, i));
    else blocks.push(...mapContent(m, i));
    if (m.role === 'ASSISTANT') for (const c of m.toolCalls ?? []) blocks.push(mapToolCall(c));
    if (m.cacheControl && blocks.length) blocks.push(cachePoint(m.cacheControl));
    if (!blocks.length) return;
    const prev = out[out.length - 1];
    if (prev && prev.role === role) prev.content.push(...blocks);
    else out.push({ role, content: blocks });
  });
  return out;
}

function mapReasoning(r: ReasoningBlock): ReasoningContent {
  if (r.redactedData) return { reasoningContent: { redactedContent: r.redactedData } };
  return { reasoningContent: { reasoningText: { text: r.text, signature: r.signature ?? '' } } };
}

/** Text and image parts; a part's cache_control is a cachePoint right after it. Blank text is rejected upstream. */
function mapContent(m: ChatMessage, index: number): Array<{ text: string } | ImageBlock | CachePoint> {
  const blocks: Array<{ text: string } | ImageBlock | CachePoint> = [];
  partsOf(m).forEach((p, j) => {
    if (p.type === 'TEXT') {
      if (p.text === '') return;
      blocks.push({ text: p.text });
    } else {
      blocks.push(mapImage(p.imageUrl, `messages[${index}].parts[${j}].imageUrl`));
    }
    if (p.cacheControl) blocks.push(cachePoint(p.cacheControl));
  });
  return blocks;
}

const IMAGE_FORMATS: Record<string, ImageBlock['image']['format']> = {
  'image/png': 'png',
  'image/jpeg': 'jpeg',
  'image/jpg': 'jpeg',
  'image/gif': 'gif',
  'image/webp': 'webp',
};

/**
 * Converse takes image bytes (base64 in JSON) or an S3 object, never a web URL. data: URLs become bytes; an
 * http(s) URL is refused (not retryable, so a fallback target that takes URLs can answer) rather than fetched: the
 * gateway fetching caller-chosen URLs would let any key probe its network. S3 locations are not offered either:
 * the gateway's role would read any object it can reach on a caller's say.
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ImageSource.html
 */
function mapImage(url: string, field: string): ImageBlock {
  const data = parseDataUrl(url);
  if (!data) throw badRequest(`${field}: Bedrock takes image bytes, not URLs; send the image as a data: URL`);
  const format = IMAGE_FORMATS[data.mimeType.toLowerCase()];
  if (!format) throw badRequest(`${field}: image type ${data.mimeType} is not supported (png, jpeg, gif, webp)`);
  return { image: { format, source: { bytes: data.base64 } } };
}

/** @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ToolUseBlock.html */
function mapToolCall(c: { id: string; name: string; arguments: string }): ContentBlock {
  return { toolUse: { toolUseId: toolUseId(c.id), name: c.name, input: argumentsObject(c.arguments) } };
}

/** @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ToolResultBlock.html */
function mapToolResult(m: ChatMessage, index: number): ContentBlock {
  const content = mapContent(m, index).filter((b): b is { text: string } | ImageBlock => !('cachePoint' in b));
  // a result block needs some content; an empty tool answer is an empty text
  const status = m.isError ? { status: 'error' as const } : {};
  return { toolResult: { toolUseId: toolUseId(m.toolCallId ?? ''), content: content.length ? content : [{ text: '' }], ...status } };
}

/**
 * Tools and the tool choice. Converse has no "none": with NONE the tools are left out, unless earlier turns hold
 * tool calls (Bedrock then requires toolConfig) — those requests send the tools with no choice.
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ToolConfiguration.html
 */
function mapToolConfig(req: ChatRequest): ConverseRequestBody['toolConfig'] {
  if (!req.tools?.length) return undefined;
  const usesTools = req.messages.some((m) => m.role === 'TOOL' || m.toolCalls?.length);
  if (req.toolChoice === 'NONE' && !usesTools) return undefined;
  const tools: Tool[] = [];
  for (const t of req.tools) {
    tools.push(mapTool(t));
    if (t.cacheControl) tools.push(cachePoint(t.cacheControl));
  }
  const choice = req.toolChoice === undefined || req.toolChoice === 'NONE' ? undefined : mapToolChoice(req.toolChoice);
  return choice ? { tools, toolChoice: choice } : { tools };
}

/** @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ToolSpecification.html */
function mapTool(t: ToolDefinition): Tool {
  const spec: { name: string; description?: string; inputSchema: { json: Record<string, unknown> } } = {
    name: t.name,
    inputSchema: { json: t.parameters ?? { type: 'object', properties: {} } },
  };
  if (t.description) spec.description = t.description;
  return { toolSpec: spec };
}

function mapToolChoice(choice: Exclude<ToolChoice, 'NONE'>): BedrockToolChoice {
  if (typeof choice === 'object') return { tool: { name: choice.name } };
  return choice === 'REQUIRED' ? { any: {} } : { auto: {} };
}

/** Tool ids from other providers may break Bedrock's `^[a-zA-Z0-9_-]+$` (1..64) id pattern. */
function toolUseId(id: string): string {
  return id.replace(/[^a-zA-Z0-9_-]/g, '_').slice(0, 64) || 'tooluse_unknown';
}
