/* Step: guardrail policies on the input before the call and on the answer after it (filled in by the guardrails work). */
import type { Step } from '../pipeline.js';

export const guardrails: Step = { name: 'guardrails' };
