/*
 * A chat answer as the call log keeps it: what the caller was shown, except that values the input rules redacted
 * stay behind their placeholders (a restore policy gives them back to the caller, never to the log).
 */
import { guardOutput } from '../guardrails/guard.js';
import { Redactions } from '../guardrails/redactions.js';
import type { ToolCall } from '../providers/types.js';
import { guardedOf } from '../gateway/steps/guardrails.js';
import type { Invocation } from '../gateway/invocation.js';

export interface LoggedText {
  content: string | null;
  toolCalls: ToolCall[];
}

/** Output rules the log applies again find nothing to note: the caller's record already says what acted. */
const UNNOTED = (): void => {};

/**
 * The answer's text and tool calls for the log, or null when the output rules refuse it. A unary answer has been
 * through the output rules and the restore; a stream's answer is the upstream's own text (its filters only touched
 * what was sent): both are put through the output rules once more (no-op on text they already passed) with a fresh
 * set of placeholders that restores nothing, after the restored values are hidden again.
 */
export function loggedAnswer(inv: Invocation, answer: LoggedText): LoggedText | null {
  const g = guardedOf(inv);
  if (!g) return answer;
  const { redactions } = g.run;
  const hidden: LoggedText = {
    content: answer.content === null ? null : redactions.hideRestored(answer.content),
    toolCalls: answer.toolCalls.map((c) => ({ ...c, arguments: redactions.hideRestored(c.arguments) })),
  };
  if (!hasOutputRules(inv)) return hidden;
  try {
    return guardOutput(g.policies, hidden, { redactions: new Redactions(), note: UNNOTED });
  } catch {
    // refused by an output rule: the caller never got it whole, the log keeps none of it
    return null;
  }
}

/** Output rules apply to this invocation: reasoning, which they cannot judge, is then kept out of the log too. */
export function hasOutputRules(inv: Invocation): boolean {
  return guardedOf(inv)?.policies.some((p) => p.output !== null) ?? false;
}
