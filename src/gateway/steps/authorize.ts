/* Step: the key may invoke models at all (INVOKE scope, or ADMIN). */
import { requireInvoke } from '../../services/access.js';
import type { Step } from '../pipeline.js';

export const authorize: Step = {
  name: 'authorize',
  before(inv) {
    requireInvoke(inv.principal);
  },
};
