/*
 * Running compiled policies over one invocation: the prompt's texts before the upstream is asked, the answer's
 * after (whole, or chunk by chunk through stream filters). Every action is noted for the usage record.
 */
import type { ChatMessage, ToolCall } from '../providers/types.js';
import { countMessagesTokens, countTextTokens } from '../providers/count-tokens.js';
import { guardrailBlocked } from '../errors.js';
import type { NoteGuardrail } from './events.js';
import type { CompiledPolicy, CompiledRules } from './policy.js';
import type { PiiKind } from './pii/span.js';
import type { Redactions } from './redactions.js';
import type { GuardrailStage } from './rules.js';
import { rewrite, type Replace, type Scan } from './scan.js';
import type { TextFilter } from '../gateway/stream/text-filter.js';
import { ScanningTextFilter } from './scanning-text-filter.js';
import { placeholderScan } from './scans.js';

/** What the policies of one invocation share: its placeholders, and where actions are noted. */
export interface GuardRun {
  redactions: Redactions;
  note: NoteGuardrail;
}

interface TextGuard {
  scan: Scan;
  replace: Replace;
}

/** What a denied term becomes under REDACT: never restored, the operator wants it gone. */
const DENIED_PLACEHOLDER = '[REDACTED]';

function rulesGuards(policy: string, stage: GuardrailStage, rules: CompiledRules, run: GuardRun): TextGuard[] {
  const where = stage === 'INPUT' ? 'the prompt' : 'the answer';
  const guards: TextGuard[] = [];
  const { denyList, pii } = rules;
  if (denyList) {
    guards.push({
      scan: denyList.scan,
      replace: (_matched, m) => {
        if (denyList.action === 'BLOCK') {
          run.note({ policy, stage, rule: 'DENY_LIST', action: 'BLOCKED', detail: m.label });
          // The entry stays out of the message: a client is not told which terms are watched for.
          throw guardrailBlocked(policy, `${where} contains a denied term`);
        }
        run.note({ policy, stage, rule: 'DENY_LIST', action: 'REDACTED', detail: m.label });
        return DENIED_PLACEHOLDER;
      },
    });
  }
  if (pii) {
    const restoredBy = stage === 'INPUT' && pii.restore ? policy : undefined;
    guards.push({
      scan: pii.scan,
      replace: (matched, m) => {
        if (pii.action === 'BLOCK') {
          run.note({ policy, stage, rule: 'PII', action: 'BLOCKED', detail: m.label });
          throw guardrailBlocked(policy, `${where} contains ${m.label}`);
        }
        run.note({ policy, stage, rule: 'PII', action: 'REDACTED', detail: m.label });
        return run.redactions.placeholderFor(m.label as PiiKind, matched, restoredBy);
      },
    });
  }
  return guards;
}

function stageGuards(policies: readonly CompiledPolicy[], stage: GuardrailStage, run: GuardRun): TextGuard[] {
  return policies.flatMap((p) => {
    const rules = stage === 'INPUT' ? p.input : p.output;
    return rules ? rulesGuards(p.name, stage, rules, run) : [];
  });
}

/** Gives back the values a prompt's placeholders hid, where the answer echoes them. */
function restoreGuard(run: GuardRun): TextGuard {
  return {
    scan: placeholderScan(run.redactions),
    replace: (matched, m) => {
      const r = run.redactions.restorable(matched);
      // a fragment (the rest of a placeholder whose start went out before it was seen whole) is not one to restore
      if (!r) return matched;
      run.note({ policy: r.policy, stage: 'OUTPUT', rule: 'PII', action: 'RESTORED', detail: m.label });
      return r.value;
    },
  };
}

const guardText = (text: string, guards: readonly TextGuard[]) => guards.reduce((t, g) => rewrite(t, g.scan, g.replace), text);

function guardMessage(m: ChatMessage, guards: readonly TextGuard[]): ChatMessage {
  const out: ChatMessage = { ...m, content: m.content === null ? null : guardText(m.content, guards) };
  if (m.parts) out.parts = m.parts.map((p) => (p.type === 'TEXT' ? { ...p, text: guardText(p.text, guards) } : p));
  if (m.toolCalls) out.toolCalls = m.toolCalls.map((c) => ({ ...c, arguments: guardText(c.arguments, guards) }));
  return out;
}

/** Refuses an input over a policy's maxInputTokens; `count` runs only when some policy has a limit. */
function checkInputTokens(policies: readonly CompiledPolicy[], count: () => number, what: string, run: GuardRun): void {
  let tokens: number | undefined;
  for (const p of policies) {
    const max = p.input?.maxInputTokens;
    if (max == null) continue;
    tokens ??= count();
    if (tokens > max) {
      run.note({ policy: p.name, stage: 'INPUT', rule: 'INPUT_TOKENS', action: 'BLOCKED', detail: `${tokens} > ${max}` });
      throw guardrailBlocked(p.name, `${what} has ${tokens} tokens, more than the ${max} allowed`);
    }
  }
}

/**
 * The prompt as the policies' input rules leave it (a new array; the caller's is not touched), or a
 * GUARDRAIL_BLOCKED. Token limits are judged on the prompt as the caller sent it.
 */
export function guardInput(policies: readonly CompiledPolicy[], messages: readonly ChatMessage[], run: GuardRun): ChatMessage[] {
  checkInputTokens(policies, () => countMessagesTokens(messages as ChatMessage[]), 'the prompt', run);
  const guards = stageGuards(policies, 'INPUT', run);
  return guards.length === 0 ? [...messages] : messages.map((m) => guardMessage(m, guards));
}

/**
 * An embed call's texts as the input rules leave them, or a GUARDRAIL_BLOCKED: what is sent to be embedded leaves
 * the gateway as a prompt does. The token limit counts all the texts of the call together.
 */
export function guardEmbedInput(policies: readonly CompiledPolicy[], texts: readonly string[], run: GuardRun): string[] {
  checkInputTokens(policies, () => texts.reduce((n, t) => n + countTextTokens(t), 0), 'the input', run);
  const guards = stageGuards(policies, 'INPUT', run);
  return texts.map((t) => guardText(t, guards));
}

function outputGuards(policies: readonly CompiledPolicy[], run: GuardRun): TextGuard[] {
  const guards = stageGuards(policies, 'OUTPUT', run);
  // Last: the answer's own PII is judged on what the model wrote, before the caller's values are put back.
  if (run.redactions.anyRestorable) guards.push(restoreGuard(run));
  return guards;
}

/** A whole answer's text and tool calls as the output rules leave them, or a GUARDRAIL_BLOCKED. */
export function guardOutput(
  policies: readonly CompiledPolicy[],
  answer: { content: string | null; toolCalls: readonly ToolCall[] },
  run: GuardRun,
): { content: string | null; toolCalls: ToolCall[] } {
  const guards = outputGuards(policies, run);
  if (guards.length === 0) return { content: answer.content, toolCalls: [...answer.toolCalls] };
  return {
    content: answer.content === null ? null : guardText(answer.content, guards),
    toolCalls: answer.toolCalls.map((c) => ({ ...c, arguments: guardText(c.arguments, guards) })),
  };
}

/** The stream filters that apply the same output rules as guardOutput, chunk by chunk, in the same order. */
export function outputFilters(policies: readonly CompiledPolicy[], run: GuardRun): TextFilter[] {
  return outputGuards(policies, run).map((g) => new ScanningTextFilter(g.scan, g.replace));
}
