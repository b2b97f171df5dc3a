/*
 * Step: the guardrail policies of the key and of the model. Before the call: the input rules rewrite (redact) or
 * refuse the prompt (or an embed call's texts), and a stream gets output filters. After it: a unary answer gets the
 * output rules, and a JSON schema check that asks the upstream once more before refusing.
 */
import { guardrailBlocked } from '../../errors.js';
import { countingNotes } from '../../guardrails/events.js';
import { guardEmbedInput, guardInput, guardOutput, outputFilters, type GuardRun } from '../../guardrails/guard.js';
import type { CompiledPolicy } from '../../guardrails/policy.js';
import { Redactions } from '../../guardrails/redactions.js';
import type { ChatResponse, Usage } from '../../providers/types.js';
import { callUpstream, chatCall, upstreamAnswer } from '../call/call-upstream.js';
import { setEmbedTexts } from '../embed-texts.js';
import type { Answer, Invocation } from '../invocation.js';
import type { PipelineDeps, Step } from '../pipeline.js';

interface Guarded {
  policies: CompiledPolicy[];
  run: GuardRun;
}

/** What `before` found for an invocation, for its `after`; gone with the invocation. */
const guarded = new WeakMap<Invocation, Guarded>();

export const guardrails: Step = {
  name: 'guardrails',
  async before(inv, deps) {
    if (!deps.guardrailPolicies) return;
    const keyIds = inv.principal.key.guardrailPolicyIds;
    const modelIds = inv.resolved.row.guardrailPolicyIds;
    // the common call has no policy: it pays two length checks, nothing more
    if (keyIds.length === 0 && modelIds.length === 0) return;
    const ids = [...new Set([...keyIds, ...modelIds])];
    const policies = await deps.guardrailPolicies.compiledByIds(ids);
    if (policies.length === 0) return;
    const run: GuardRun = { redactions: new Redactions(), note: countingNotes((e) => inv.noteGuardrail(e)) };
    // the texts of an embed call leave the gateway as a prompt does: the input rules apply; there is no answer text
    if (inv.input.kind === 'embed') {
      setEmbedTexts(inv, guardEmbedInput(policies, inv.input.embed.input, run));
      return;
    }
    if (!inv.request) return;
    guarded.set(inv, { policies, run });
    inv.request = { ...inv.request, messages: guardInput(policies, inv.request.messages, run) };
    if (inv.input.kind === 'stream') inv.outputFilters.push(...outputFilters(policies, run));
  },
  async after(inv, deps) {
    const g = guarded.get(inv);
    if (!g || !inv.answer) return;
    await checkJsonSchemas(inv, deps, g);
    // a stream's text went out through the output filters already
    if (inv.input.kind !== 'chat') return;
    const answer = inv.answer as Answer<ChatResponse>;
    const guardedOut = guardOutput(g.policies, answer.response, g.run);
    inv.answer = { ...answer, response: { ...answer.response, ...guardedOut } };
  },
};

/**
 * Each output JSON schema judges the upstream's own text. A unary answer that fails is asked for once more (the
 * same request: models often get it right the second time); if that fails too, or a stream's answer fails (it
 * has been sent), the call is refused.
 */
async function checkJsonSchemas(inv: Invocation, deps: PipelineDeps, { policies, run }: Guarded): Promise<void> {
  for (const p of policies) {
    const check = p.output?.jsonSchema;
    if (!check) continue;
    let verdict = check((inv.answer as Answer<ChatResponse>).response.content ?? '');
    if (verdict.ok) continue;
    if (inv.input.kind === 'chat') {
      run.note({ policy: p.name, stage: 'OUTPUT', rule: 'JSON_SCHEMA', action: 'RETRIED', detail: verdict.reason });
      inv.answer = await askAgain(inv, deps);
      verdict = check((inv.answer as Answer<ChatResponse>).response.content ?? '');
      if (verdict.ok) continue;
    }
    run.note({ policy: p.name, stage: 'OUTPUT', rule: 'JSON_SCHEMA', action: 'BLOCKED', detail: verdict.reason });
    throw guardrailBlocked(p.name, verdict.reason);
  }
}

/** The upstream asked again with the same request; what both answers used is charged. */
async function askAgain(inv: Invocation, deps: PipelineDeps): Promise<Answer<ChatResponse>> {
  const first = inv.answer as Answer<ChatResponse>;
  const second = upstreamAnswer(await callUpstream(inv, deps, chatCall(inv, deps)));
  return { ...second, attempts: first.attempts + second.attempts, response: { ...second.response, usage: addUsage(first.response.usage, second.response.usage) } };
}

function addUsage(a: Usage, b: Usage): Usage {
  return {
    promptTokens: a.promptTokens + b.promptTokens,
    completionTokens: a.completionTokens + b.completionTokens,
    totalTokens: a.totalTokens + b.totalTokens,
    exact: a.exact && b.exact,
  };
}
