/*
 * A pipeline step that stands in for the response cache and a guardrail, for tests of what the gateway reports about
 * them (usage records, summaries, metrics, the console): added after the gateway's own steps, it answers chats whose
 * last message starts with "hit exact" or "hit semantic" as cache hits, and notes an input redaction on messages that
 * mention "email".
 */
import type { Step } from '../../src/gateway/pipeline.js';

/** A hit's tokens: what the upstream would have been paid for. */
export const HIT_PROMPT_TOKENS = 1000;
export const HIT_COMPLETION_TOKENS = 2000;
/** A semantic hit's similarity (an exact hit's is 1). */
export const SEMANTIC_SIMILARITY = 0.97;

const lastUserText = (inv: Parameters<NonNullable<Step['before']>>[0]) => inv.request?.messages.at(-1)?.content ?? '';

export const fakeCacheStep: Step = {
  name: 'fake-cache',
  before(inv) {
    const text = lastUserText(inv);
    if (text.includes('email')) inv.noteGuardrail({ policy: 'pii', stage: 'INPUT', rule: 'PII', action: 'REDACTED', detail: 'EMAIL' });
    const kind = text.startsWith('hit exact') ? 'EXACT' : text.startsWith('hit semantic') ? 'SEMANTIC' : null;
    if (!kind) return;
    inv.answer = {
      response: {
        id: 'cached',
        upstreamModel: 'echo',
        content: 'from the cache',
        toolCalls: [],
        finishReason: 'STOP',
        usage: { promptTokens: HIT_PROMPT_TOKENS, completionTokens: HIT_COMPLETION_TOKENS, totalTokens: HIT_PROMPT_TOKENS + HIT_COMPLETION_TOKENS, exact: true },
      },
      provider: 'echo',
      upstreamModel: 'echo',
      pricedBy: inv.resolved.prices,
      attempts: 0,
      source: 'fake-cache',
      cacheHit: { kind, similarity: kind === 'EXACT' ? 1 : SEMANTIC_SIMILARITY },
    };
  },
};
