/* Step: the response cache: a lookup before the call, the answer stored after it (filled in by the cache work). */
import type { Step } from '../pipeline.js';

export const cache: Step = { name: 'cache' };
