/* Step: the rate, token and budget limits of the key, its team and the end user admit the call and reserve its worst case. */
import { countMessagesTokens, countTextTokens } from '../../providers/count-tokens.js';
import { needsEstimate } from '../limit-subjects.js';
import { costUsd } from '../pricing.js';
import type { Step } from '../pipeline.js';

export const reserveLimits: Step = {
  name: 'reserve-limits',
  async before(inv, { limiter, reserveTokens }) {
    const model = inv.resolved;
    let estimatedTokens = 0;
    let estimatedCostUsd = 0;
    // counting tokens costs CPU on large prompts: only when a token or budget limit needs it
    if (needsEstimate(inv.principal, inv.event.endUser)) {
      if (inv.input.kind === 'embed') {
        estimatedTokens = inv.input.embed.input.reduce((s, x) => s + countTextTokens(x), 0);
        estimatedCostUsd = costUsd(model.prices, { promptTokens: estimatedTokens, completionTokens: 0 });
      } else {
        const req = inv.request!;
        const prompt = countMessagesTokens(req.messages);
        const completion = req.maxTokens ?? reserveTokens;
        estimatedTokens = prompt + completion;
        estimatedCostUsd = costUsd(model.prices, { promptTokens: prompt, completionTokens: completion });
      }
    }
    inv.reservation = await limiter.admit({ principal: inv.principal, model: inv.modelName, estimatedTokens, estimatedCostUsd, endUser: inv.event.endUser });
  },
};
