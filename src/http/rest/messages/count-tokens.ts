/*
 * POST /v1/messages/count_tokens: how many input tokens a Messages request would use, counted by the gateway's own
 * tokenizer (o200k, as its limits estimate prompts): an estimate whatever model answers, since a request may be
 * routed to any provider. Nothing goes upstream and no usage is recorded.
 * @see https://docs.anthropic.com/en/api/messages-count-tokens
 */
import { toChatRequest } from '../../../gateway/chat-input.js';
import { countMessagesTokens, countTextTokens } from '../../../providers/count-tokens.js';
import type { Principal } from '../../../services/keys.js';
import { withParam } from '../param.js';
import { parseBody, readJson, sendJson, type RestContext } from '../http.js';
import { MessagesRequest } from './schema.js';
import { anthropicParam, toChatInput } from './to-chat-input.js';

/** The Messages request without max_tokens, which counting does not need. */
export const CountTokensRequest = MessagesRequest.extend({ max_tokens: MessagesRequest.shape.max_tokens.optional() });

export async function countTokens(ctx: RestContext, principal: Principal): Promise<void> {
  ctx.services.gateway.requireInvoke(principal);
  const body = parseBody(CountTokensRequest, await readJson(ctx));
  const { input, origins } = toChatInput({ ...body, max_tokens: body.max_tokens ?? 1 }, []);
  let req: ReturnType<typeof toChatRequest>;
  try {
    req = toChatRequest(input);
  } catch (err) {
    throw withParam(err, (f) => anthropicParam(f, origins));
  }
  let tokens = countMessagesTokens(req.messages);
  for (const t of req.tools ?? []) tokens += countTextTokens(t.name) + countTextTokens(t.description ?? '') + countTextTokens(JSON.stringify(t.parameters ?? {}));
  sendJson(ctx.res, 200, { input_tokens: tokens }, { 'request-id': ctx.requestId });
}
