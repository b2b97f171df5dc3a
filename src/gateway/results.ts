/* What an invocation answers, the same shape for every surface (GraphQL types and REST bodies are built from it). */
import type { FinishReason, ReasoningBlock, StreamChunk, ToolCall, ToolCallDelta } from '../providers/types.js';

export interface UsageOut {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  /** Parts of promptTokens / completionTokens the provider reported (0 when it did not); see Usage in providers/types.ts. */
  cachedReadTokens: number;
  cacheWriteTokens: number;
  reasoningTokens: number;
  costUsd: number;
}

export interface ChatResult {
  id: string;
  model: string;
  provider: string;
  upstreamModel: string;
  message: { role: 'ASSISTANT'; content: string | null; toolCalls: ToolCall[]; reasoning?: ReasoningBlock[] };
  finishReason: FinishReason;
  usage: UsageOut;
  latencyMs: number;
  attempts: number;
}

export interface ChatChunk {
  /** The invocation this chunk belongs to (its usage record's id). */
  invocationId: string;
  /** 0, 1, 2… in the order sent: with the invocation id, the chunk's own identity. */
  index: number;
  model: string;
  delta: string;
  toolCalls: ToolCallDelta[] | null;
  /** Reasoning as it streams (StreamChunk.reasoning); absent on chunks without any. */
  reasoning?: StreamChunk['reasoning'];
  finishReason: FinishReason | null;
  usage: UsageOut | null;
}

export interface EmbedResult {
  model: string;
  provider: string;
  vectors: number[][];
  usage: UsageOut;
}
