/* Step: whether this invocation is logged, and at which level; a logged one gets its draft and attempts timeline. */
import { attemptTimeline } from '../../call-log/attempt-timeline.js';
import type { CallLogDraft } from '../../call-log/draft.js';
import { effectiveLogLevel } from '../../call-log/level.js';
import type { Step } from '../pipeline.js';

export const callLog: Step = {
  name: 'call-log',
  before(inv) {
    const { key, team } = inv.principal;
    // an unlogged call (the usual one) reads three fields and allocates nothing
    const level = effectiveLogLevel(key.logBodies, team?.logBodies, inv.resolved.row.logBodies);
    if (level === 'NONE') return;
    const draft: CallLogDraft = { level, attempts: [] };
    inv.callLog = draft;
    inv.watchAttempts(attemptTimeline(inv.started, draft.attempts));
  },
};
