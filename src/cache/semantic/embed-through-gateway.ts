/* The semantic cache's Embed on the gateway's own embed path: recorded, priced and limited on the caller's key. */
import type { Gateway } from '../../gateway/gateway.js';
import type { Embed } from './index.js';

export function embedThroughGateway(gateway: Pick<Gateway, 'embed'>): Embed {
  return async ({ model, texts, principal, requestId }) => {
    const res = await gateway.embed(
      { model, input: texts },
      // the operator picked the embedding model: the key's allow-list is for the models it asks for itself
      { principal, requestId, operatorModel: true, metadata: { purpose: 'semantic-cache' } },
    );
    return res.vectors;
  };
}
