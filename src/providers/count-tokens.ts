/* Local token counting for when a provider reports no usage (estimates: never marked exact). */
import { createRequire } from 'node:module';
import type { ChatMessage } from './types.js';
import { LRUCache } from 'lru-cache';

type Encode = (text: string) => number[];
let encodeOnce: Encode | undefined;

/**
 * The BPE tables are the largest thing the gateway loads (tens of MB of heap, a good part of a start's CPU), and
 * nothing before the first counted prompt needs them: loaded on first use, synchronously so counting stays a plain
 * function call (the package's CommonJS build, the same encoder as its ES one).
 */
function encode(text: string): number[] {
  encodeOnce ??= (createRequire(import.meta.url)('gpt-tokenizer/encoding/o200k_base') as { encode: Encode }).encode;
  return encodeOnce(text);
}

/**
 * Limit estimates count every prompt before it is admitted, and system prompts and templates repeat call after
 * call: short texts keep their count (a cache lookup instead of a BPE pass). Bounded in entries and length.
 */
const CACHE_MAX_CHARS = 4096;
const shortCounts = new LRUCache<string, number>({ max: 1000, memoMethod: (text) => encode(text).length });

export function countTextTokens(text: string): number {
  if (!text) return 0;
  return text.length > CACHE_MAX_CHARS ? encode(text).length : shortCounts.memo(text);
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
