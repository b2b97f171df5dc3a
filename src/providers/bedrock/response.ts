/* Bedrock Converse response → unified ChatResponse. */
import { randomUUID } from 'node:crypto';
import type { ChatRequest, ChatResponse, ReasoningBlock, ToolCall } from '../types.js';
import { mapStopReason } from './finish-reason.js';
import { estimateUsage, mapUsage, type BedrockUsage } from './usage.js';

/** Output blocks the adapter reads; others (citations, guard content) are carried but not surfaced. */
type OutputBlock = {
  text?: string;
  toolUse?: { toolUseId: string; name: string; input?: unknown };
  reasoningContent?: { reasoningText?: { text?: string; signature?: string }; redactedContent?: string };
};

/** @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html#API_runtime_Converse_ResponseSyntax */
export interface ConverseResponse {
  output?: { message?: { role: string; content?: OutputBlock[] } };
  stopReason?: string;
  usage?: BedrockUsage;
  metrics?: { latencyMs?: number };
}

export function parseConverseResponse(res: ConverseResponse, req: ChatRequest): ChatResponse {
  const blocks = Array.isArray(res.output?.message?.content) ? res.output.message.content : [];
  const texts: string[] = [];
  const toolCalls: ToolCall[] = [];
  const reasoning: ReasoningBlock[] = [];
  for (const b of blocks) {
    if (typeof b.text === 'string') texts.push(b.text);
    else if (b.toolUse) toolCalls.push({ id: b.toolUse.toolUseId, name: b.toolUse.name, arguments: JSON.stringify(b.toolUse.input ?? {}) });
    else if (b.reasoningContent?.redactedContent !== undefined) reasoning.push({ text: '', redactedData: b.reasoningContent.redactedContent });
    else if (b.reasoningContent?.reasoningText) {
      const r = b.reasoningContent.reasoningText;
      reasoning.push(r.signature !== undefined ? { text: r.text ?? '', signature: r.signature } : { text: r.text ?? '' });
    }
  }
  const content = texts.length ? texts.join('') : null;
  const out: ChatResponse = {
    // Converse returns no id in the body (the request id is a header)
    id: `bedrock-${randomUUID()}`,
    upstreamModel: req.model,
    content,
    toolCalls,
    finishReason: mapStopReason(res.stopReason),
    usage: res.usage ? mapUsage(res.usage) : estimateUsage(req.messages, (content ?? '') + toolCalls.map((c) => c.arguments).join('')),
  };
  if (reasoning.length) out.reasoning = reasoning;
  return out;
}
