/* Step: whether this invocation is logged, and at which level; a logged one gets its draft and attempts timeline. */
import { attemptTimeline } from '../../call-log/attempt-timeline.js';
import type { CallLogDraft } from '../../call-log/draft.js';
import { effectiveLogLevel } from '../../call-log/level.js';
import type { AttemptObserver } from '../attempt.js';
import type { Invocation } from '../invocation.js';
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
    inv.watchAttempts(cappedByFallbacks(inv, draft, attemptTimeline(inv.started, draft.attempts)));
  },
};

/**
 * A fallback model's level caps the log as the primary's does (any one of key, team and model may cap it): lowered
 * when an attempt on it starts, before its upstream gets the request; capped to NONE, the invocation is not logged.
 */
function cappedByFallbacks(inv: Invocation, draft: CallLogDraft, timeline: AttemptObserver): AttemptObserver {
  return {
    attemptStarted(a) {
      // the primary's own attempts change nothing: the draft's level already counts it
      if (inv.callLog === draft) {
        const { key, team } = inv.principal;
        const level = effectiveLogLevel(key.logBodies, team?.logBodies, a.model.row.logBodies);
        if (level === 'NONE') inv.callLog = undefined;
        else if (level === 'METADATA') draft.level = level;
      }
      return timeline.attemptStarted(a);
    },
  };
}
