/* What an invocation answers, the same shape for every surface (GraphQL types and REST bodies are built from it). */
import type { FinishReason, ToolCall, ToolCallDelta } from '../providers/types.js';

export interface UsageOut {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  costUsd: number;
}

export interface ChatResult {
  id: string;
  model: string;
  provider: string;
  upstreamModel: string;
  message: { role: 'ASSISTANT'; content: string | null; toolCalls: ToolCall[] };
  finishReason: FinishReason;
  usage: UsageOut;
  latencyMs: number;
  attempts: number;
}

export interface ChatChunk {
  id: string;
  model: string;
  delta: string;
  toolCalls: ToolCallDelta[] | null;
  finishReason: FinishReason | null;
  usage: UsageOut | null;
}

export interface EmbedResult {
  model: string;
  provider: string;
  vectors: number[][];
  usage: UsageOut;
}
