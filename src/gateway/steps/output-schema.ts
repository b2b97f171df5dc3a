/*
 * Step: the output JSON schemas of the guardrail policies (found by the guardrails step). It stands after the cache,
 * so its `after` runs before the cache stores: an answer that fails a schema is asked for again before anything is
 * cached, the answer that passes is the one stored, and a cached answer (which passed when it was stored) is not
 * judged again.
 */
import { guardrailBlocked } from '../../errors.js';
import type { ChatResponse, Usage } from '../../providers/types.js';
import { callUpstream, chatCall, upstreamAnswer } from '../call/call-upstream.js';
import type { Answer, Invocation } from '../invocation.js';
import type { PipelineDeps, Step } from '../pipeline.js';
import { guardedOf, type Guarded } from './guardrails.js';

export const outputSchema: Step = {
  name: 'output-schema',
  after(inv, deps) {
    const g = guardedOf(inv);
    if (!g || !inv.answer) return;
    return checkJsonSchemas(inv, deps, g);
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
