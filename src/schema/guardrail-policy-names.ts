/* Keys and models name their guardrail policies; they are stored as ids. */
import type { Context } from '../context.js';

/** The ids of `names` (an unknown name is BAD_USER_INPUT on `input.guardrailPolicies[i]`); undefined leaves them. */
export async function policyIds(ctx: Context, names: readonly string[] | null | undefined): Promise<string[] | undefined> {
  if (names == null) return undefined;
  return ctx.services.guardrailPolicies.idsForNames(names, 'input.guardrailPolicies');
}
