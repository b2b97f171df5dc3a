/* The built-in offline provider: answers "echo: <last user message>", streamed word by word. */
import { abortableSleep } from '../../util/abortable-sleep.js';
import type { ChatRequest, ChatResponse, ProviderAdapter, StreamChunk, Usage } from '../types.js';
import { randomUUID } from 'node:crypto';

/** Deterministic token count: one token per whitespace-separated word (at least one per message). */
function countEchoTokens(text: string): number {
  const words = text.trim().split(/\s+/).filter(Boolean).length;
  return words;
}

function promptTokens(req: ChatRequest): number {
  let n = 0;
  for (const m of req.messages) {
    const text = m.content ?? m.parts?.map((p) => (p.type === 'TEXT' ? p.text : '')).join(' ') ?? '';
    n += Math.max(1, countEchoTokens(text));
  }
  return n;
}

function answerFor(req: ChatRequest): string {
  const lastUser = [...req.messages].reverse().find((m) => m.role === 'USER');
  const text = lastUser?.content ?? lastUser?.parts?.map((p) => (p.type === 'TEXT' ? p.text : '')).join(' ') ?? '';
  return `echo: ${text}`;
}

function usageFor(req: ChatRequest, answer: string): Usage {
  const promptTokensN = promptTokens(req);
  const completionTokens = countEchoTokens(answer);
  return { promptTokens: promptTokensN, completionTokens, totalTokens: promptTokensN + completionTokens, exact: true };
}

function truncate(req: ChatRequest, answer: string): { text: string; finish: 'STOP' | 'LENGTH' } {
  if (req.maxTokens === undefined) return { text: answer, finish: 'STOP' };
  const words = answer.split(' ');
  if (words.length <= req.maxTokens) return { text: answer, finish: 'STOP' };
  return { text: words.slice(0, req.maxTokens).join(' '), finish: 'LENGTH' };
}

export interface EchoOptions {
  /** Delay between streamed words, for demos and cancellation tests. @default 0 */
  wordDelayMs?: number;
}

export function createEchoAdapter(options: EchoOptions = {}): ProviderAdapter {
  return {
    async chat(req) {
      const { text, finish } = truncate(req, answerFor(req));
      const res: ChatResponse = {
        id: `echo-${randomUUID()}`,
        upstreamModel: req.model,
        content: text,
        toolCalls: [],
        finishReason: finish,
        usage: usageFor(req, text),
      };
      return res;
    },
    async *stream(req, opts): AsyncGenerator<StreamChunk> {
      const { text, finish } = truncate(req, answerFor(req));
      const words = text.split(' ');
      const delay = options.wordDelayMs ?? 0;
      for (let i = 0; i < words.length; i++) {
        if (opts.signal.aborted) return;
        if (delay > 0) await abortableSleep(delay, opts.signal);
        if (opts.signal.aborted) return;
        yield { delta: i === 0 ? words[i] : ` ${words[i]}` };
      }
      yield { delta: '', finishReason: finish, usage: usageFor(req, text) };
    },
  };
}

