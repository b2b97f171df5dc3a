/*
 * Step: the guardrail policies of the key and of the model. Before the call: the input rules rewrite (redact) or
 * refuse the prompt (or an embed call's texts), and a stream gets output filters. After it: a unary answer gets the
 * output rules, and a JSON schema check that asks the upstream once more before refusing.
 */
import { countingNotes } from '../../guardrails/events.js';
import { guardEmbedInput, guardInput, guardOutput, outputFilters, type GuardRun } from '../../guardrails/guard.js';
import type { CompiledPolicy } from '../../guardrails/policy.js';
import { Redactions } from '../../guardrails/redactions.js';
import type { ChatResponse } from '../../providers/types.js';
import { setEmbedTexts } from '../embed-texts.js';
import type { Answer, Invocation } from '../invocation.js';
import type { PipelineDeps, Step } from '../pipeline.js';

export interface Guarded {
  policies: CompiledPolicy[];
  run: GuardRun;
}

/** What `before` found for an invocation, for its `after` (and the output-schema step); gone with the invocation. */
const guarded = new WeakMap<Invocation, Guarded>();

/** The policies and placeholders the guardrails step found for this invocation, if any applied. */
export const guardedOf = (inv: Invocation): Guarded | undefined => guarded.get(inv);

export const guardrails: Step = {
  name: 'guardrails',
  before(inv, deps) {
    if (!deps.guardrailPolicies) return;
    const keyIds = inv.principal.key.guardrailPolicyIds;
    const modelIds = inv.resolved.row.guardrailPolicyIds;
    // the common call has no policy: it pays two length checks and no await, nothing more
    if (keyIds.length === 0 && modelIds.length === 0) return;
    return applyInputRules(inv, deps.guardrailPolicies, [...new Set([...keyIds, ...modelIds])]);
  },
  after(inv) {
    const g = guarded.get(inv);
    if (!g || !inv.answer) return;
    // a stream's text went out through the output filters already
    if (inv.input.kind !== 'chat') return;
    const answer = inv.answer as Answer<ChatResponse>;
    const guardedOut = guardOutput(g.policies, answer.response, g.run);
    inv.answer = { ...answer, response: { ...answer.response, ...guardedOut } };
    // reasoning cannot be judged and rewritten (a signed thinking block must go back unchanged), so under output
    // rules it is withheld from the caller rather than let through unjudged
    if (answer.response.reasoning && outputFilters(g.policies, g.run).length) (inv.answer.response as ChatResponse).reasoning = undefined;
  },
};

/** The input rules on the prompt (or an embed call's texts); a stream also gets the output rules as filters. */
async function applyInputRules(inv: Invocation, store: NonNullable<PipelineDeps['guardrailPolicies']>, ids: string[]): Promise<void> {
  const policies = await store.compiledByIds(ids);
  if (policies.length === 0) return inputGuarded(inv);
  const run: GuardRun = { redactions: new Redactions(), note: countingNotes((e) => inv.noteGuardrail(e)) };
  // the texts of an embed call leave the gateway as a prompt does: the input rules apply; there is no answer text
  if (inv.input.kind === 'embed') {
    setEmbedTexts(inv, guardEmbedInput(policies, inv.input.embed.input, run));
    return inputGuarded(inv);
  }
  if (!inv.request) return;
  guarded.set(inv, { policies, run });
  inv.request = { ...inv.request, messages: guardInput(policies, inv.request.messages, run) };
  inputGuarded(inv);
  if (inv.input.kind === 'stream') {
    const filters = outputFilters(policies, run);
    inv.outputFilters.push(...filters);
    // a tool call's arguments are judged whole, once the stream has them all (see text-filter.ts)
    if (filters.length) inv.guardToolArguments = (args) => guardOutput(policies, { content: args, toolCalls: [] }, run).content ?? '';
  }
}

/** The call log may keep the request now: every input rule ran on it. */
function inputGuarded(inv: Invocation): void {
  if (inv.callLog) inv.callLog.inputGuarded = true;
}
