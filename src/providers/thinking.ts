/*
 * Extended thinking rules shared by the adapters that talk to Claude (Anthropic, Claude on Vertex, Claude on
 * Bedrock) and, for the budget, Gemini: how a ReasoningOptions becomes a token budget that fits the request,
 * what else the request must change while thinking is on, and which reasoning blocks may be sent back.
 * @see https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking
 */
import type { ChatRequest, ReasoningBlock, ReasoningOptions } from './types.js';

/** Anthropic's minimum thinking budget. */
const MIN_THINKING_BUDGET = 1024;
/** Room left for the answer after the budget when the caller set no maxTokens (Claude needs max_tokens > budget). */
const ANSWER_TOKENS = 4096;
/** Budgets for an effort given without one (a request translated from OpenAI's `reasoning_effort`). */
const EFFORT_BUDGET: Record<NonNullable<ReasoningOptions['effort']>, number> = { LOW: 1024, MEDIUM: 4096, HIGH: 16384 };
/** Claude accepts top_p only in [0.95, 1] while thinking. */
const MIN_TOP_P = 0.95;

/**
 * The budget for an effort. An effort is a wish, not a number: under a smaller maxTokens it shrinks to fit
 * (Claude wants max_tokens > budget_tokens >= 1024), or thinking stays off (undefined) when not even the minimum fits.
 */
export function effortBudget(effort: NonNullable<ReasoningOptions['effort']>, maxTokens: number | undefined): number | undefined {
  const budget = EFFORT_BUDGET[effort];
  if (maxTokens === undefined || maxTokens > budget) return budget;
  return maxTokens - 1 >= MIN_THINKING_BUDGET ? maxTokens - 1 : undefined;
}

/**
 * Claude's thinking budget for a request, or undefined for none. A budget the caller gave is theirs (raised to the
 * minimum; one that does not fit under their maxTokens is refused upstream, as the vendor would refuse it).
 */
function thinkingBudget(r: ReasoningOptions | undefined, maxTokens: number | undefined): number | undefined {
  if (!r) return undefined;
  if (r.budgetTokens !== undefined) return Math.max(MIN_THINKING_BUDGET, r.budgetTokens);
  return r.effort ? effortBudget(r.effort, maxTokens) : undefined;
}

/** How a Claude request changes when thinking is on. */
export interface ClaudeThinking {
  budget: number;
  /** The caller's maxTokens, or the budget plus room for the answer. */
  maxTokens: number;
  /** The caller's top_p raised into the range Claude accepts while thinking (undefined when none was given). */
  topP: number | undefined;
}

/**
 * Thinking for a Claude request, or undefined when it stays off. Claude refuses thinking with a forced tool
 * choice (`any` or a named tool); the caller's tool choice is a hard requirement (often how structured output is
 * obtained) while thinking is a preference, so thinking is turned off then. A changed temperature is refused too:
 * callers leave it out while this returns a value. top_p is raised to 0.95 at least.
 * @see https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking#feature-compatibility
 */
export function claudeThinking(req: Pick<ChatRequest, 'reasoning' | 'maxTokens' | 'topP' | 'tools' | 'toolChoice'>): ClaudeThinking | undefined {
  const forcedTool = Boolean(req.tools?.length) && (req.toolChoice === 'REQUIRED' || typeof req.toolChoice === 'object');
  if (forcedTool) return undefined;
  const budget = thinkingBudget(req.reasoning, req.maxTokens);
  if (budget === undefined) return undefined;
  return {
    budget,
    maxTokens: req.maxTokens ?? budget + ANSWER_TOKENS,
    topP: req.topP === undefined ? undefined : Math.max(MIN_TOP_P, req.topP),
  };
}

/**
 * The reasoning blocks of an assistant turn that may go back to Claude: a signed thinking block or a redacted one.
 * Claude refuses an unsigned thinking block (reasoning from another provider, or a block a cache replay closed
 * with an empty signature), so those are left out.
 * @see https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking#preserving-thinking-blocks
 */
export function replayableReasoning(blocks: ReasoningBlock[] | undefined): ReasoningBlock[] {
  return (blocks ?? []).filter((b) => Boolean(b.redactedData) || Boolean(b.signature));
}
