/* The semantic cache's Embed on the gateway's own embed path: recorded, priced and limited on the caller's key. */
import type { Gateway } from '../../gateway/gateway.js';
import type { Embed } from './index.js';

export function embedThroughGateway(gateway: Pick<Gateway, 'embed'>): Embed {
  return async ({ model, texts, principal, trace }) => {
    const res = await gateway.embed(
      { model, input: texts },
      // the operator picked the embedding model: the key's allow-list is for the models it asks for itself. It runs in
      // the caller's trace (a child of the chat's invocation), but without the caller's request id: that id names the
      // call the caller made (invocation(id: <request id>)), not this one; its usage record says its purpose
      { principal, trace, operatorModel: true, metadata: { purpose: 'semantic-cache' } },
    );
    return res.vectors;
  };
}
