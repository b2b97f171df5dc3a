/* Local token counting for when a provider reports no usage (estimates: never marked exact). */
import { encode } from 'gpt-tokenizer/encoding/o200k_base';
import type { ChatMessage } from './types.js';

export function countTextTokens(text: string): number {
  return text ? encode(text).length : 0;
}

/** Approximates chat-format overhead the way OpenAI documents it: ~3 tokens per message plus 3 for the reply. */
export function countMessagesTokens(messages: ChatMessage[]): number {
  let n = 3;
  for (const m of messages) {
    n += 3;
    if (m.content) n += countTextTokens(m.content);
    for (const p of m.parts ?? []) if (p.type === 'TEXT') n += countTextTokens(p.text);
    for (const c of m.toolCalls ?? []) n += countTextTokens(c.name) + countTextTokens(c.arguments);
    if (m.name) n += 1;
  }
  return n;
}
