/* Which fallback models an invocation may go on to: the ones its key could invoke by name. */
import { mayFallBackTo } from '../services/access.js';
import type { ResolvedModel } from '../services/catalogue.js';
import type { Invocation } from './invocation.js';

/** undefined (every fallback) for the operator's own calls, which no key's allow-list narrows. */
export function fallbackAccess(inv: Invocation): ((model: ResolvedModel) => boolean) | undefined {
  if (inv.options.operatorModel) return undefined;
  const { principal } = inv.options;
  return (model) => mayFallBackTo(principal, model.row);
}
