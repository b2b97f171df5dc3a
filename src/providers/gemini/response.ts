/* Gemini GenerateContentResponse → unified ChatResponse. */
import { randomUUID } from 'node:crypto';
import type { ChatRequest, ChatResponse, ToolCall } from '../types.js';
import { mapFinishReason } from './finish-reason.js';
import type { GeminiContent, GeminiPart } from './request.js';
import { estimateUsage, mapUsage, type GeminiUsageMetadata } from './usage.js';

export const PROVIDER = 'gemini';

interface GeminiCandidate {
  content?: Partial<GeminiContent>;
  finishReason?: string;
  index?: number;
}

/** The error object Google APIs send in error bodies (and, rarely, as a stream event). */
export interface GeminiErrorStatus {
  code?: number;
  message?: string;
  status?: string;
}

/** @see https://ai.google.dev/api/generate-content#v1beta.GenerateContentResponse */
export interface GeminiResponse {
  candidates?: GeminiCandidate[];
  promptFeedback?: { blockReason?: string };
  usageMetadata?: GeminiUsageMetadata;
  modelVersion?: string;
  responseId?: string;
  error?: GeminiErrorStatus;
}

/**
 * A call id for a functionCall Gemini sent without one. Unique across the conversation: callers pair each tool
 * result with its call by id, and a per-response counter would hand every round's first call the same one.
 */
function newCallId(): string {
  return `call_${randomUUID()}`;
}

/**
 * Text and function calls of one candidate's parts; Gemini's own call id is kept when it sends one (newer API
 * versions do), otherwise one is made up.
 * @see https://ai.google.dev/api/caching#FunctionCall
 */
export function readParts(parts: GeminiPart[] | undefined): { text: string; calls: ToolCall[] } {
  let text = '';
  const calls: ToolCall[] = [];
  for (const p of parts ?? []) {
    // thought summaries are reasoning, not answer text
    if (typeof p.text === 'string' && !p.thought) text += p.text;
    if (p.functionCall) {
      calls.push({ id: p.functionCall.id || newCallId(), name: p.functionCall.name, arguments: JSON.stringify(p.functionCall.args ?? {}) });
    }
  }
  return { text, calls };
}

/**
 * Maps a generateContent response (first candidate only: the adapter never asks for more).
 * @see https://ai.google.dev/api/generate-content#v1beta.GenerateContentResponse
 */
export function parseGeminiResponse(res: GeminiResponse, req: ChatRequest): ChatResponse {
  const candidate = res.candidates?.[0];
  const { text, calls } = readParts(candidate?.content?.parts);
  const hasText = candidate?.content?.parts?.some((p) => typeof p.text === 'string' && !p.thought) ?? false;
  return {
    id: res.responseId || `gemini-${randomUUID()}`,
    upstreamModel: res.modelVersion || req.model,
    content: hasText ? text : null,
    toolCalls: calls,
    finishReason: mapFinishReason(candidate?.finishReason, { hasToolCalls: calls.length > 0, blockReason: res.promptFeedback?.blockReason }),
    usage: res.usageMetadata ? mapUsage(res.usageMetadata) : estimateUsage(req.messages, text),
  };
}
