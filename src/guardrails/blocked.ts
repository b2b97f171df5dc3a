import { GatewayError } from '../errors.js';

// Until errors.ts has the GUARDRAIL_BLOCKED code and its helper (the shared foundation), the same shape locally.
export const guardrailBlocked = (policy: string, reason: string) =>
  new GatewayError('GUARDRAIL_BLOCKED' as never, `Blocked by guardrail policy "${policy}": ${reason}`, { policy });
