/*
 * POST /v1/responses, GET /v1/responses/{id}, DELETE /v1/responses/{id} (OpenAI Responses API) on the gateway
 * core: the same keys, limits, routing, cache and usage as /v1/chat/completions. Stored responses belong to the
 * key that created them; any other key (ADMIN aside) is told they do not exist, as OpenAI answers.
 * @see https://platform.openai.com/docs/api-reference/responses
 */
import { GatewayError } from '../../../errors.js';
import type { StoredChain } from '../../../services/stored-responses.js';
import { CACHE_HEADER, cacheOptionsOf } from '../cache-headers.js';
import { HttpError, parseBody, readJson, requirePrincipal, sendJson, warningHeaders, type RestContext } from '../http.js';
import { toChatInput, withResponsesParam } from './request.js';
import { assistantTurn, newId, responseShell, toResponse, unixNow } from './response.js';
import { CreateResponseRequest } from './schemas.js';
import { streamResponse } from './stream.js';

const responseNotFound = (id: string, field?: string) =>
  new GatewayError('NOT_FOUND', field ? `Previous response with id '${id}' not found.` : `Response with id '${id}' not found.`, field ? { field } : {});

export async function handleCreateResponse(ctx: RestContext): Promise<void> {
  const principal = await requirePrincipal(ctx);
  const body = parseBody(CreateResponseRequest, await readJson(ctx));
  const stored = ctx.services.storedResponses;
  let previous: StoredChain | null = null;
  if (body.previous_response_id) {
    previous = await stored.conversation(body.previous_response_id, principal, 'previous_response_id');
    if (!previous) throw responseNotFound(body.previous_response_id, 'previous_response_id');
  }
  const { input: mapped, turn, origins } = toChatInput(body, previous);
  const link = { previous: body.previous_response_id ?? null };
  const cache = cacheOptionsOf(ctx.req.headers);
  const input = cache ? { ...mapped, cache } : mapped;
  const store = body.store !== false;
  const id = newId('resp');
  const shell = responseShell(body, input.model, id, unixNow());

  const warnings: string[] = [];
  // set by the cache step before any upstream is asked, so it is known when the headers go out (streams too)
  let cacheResult: string | undefined;
  const invocation = {
    principal,
    signal: ctx.signal,
    warnings,
    requestId: ctx.requestId,
    trace: ctx.trace,
    // the usage record names the response it paid for
    metadata: { response_id: id },
    onCacheLookup: (r: string) => (cacheResult = r),
    reasoning: true,
  };
  const headers = () => ({ ...warningHeaders(warnings), ...(cacheResult ? { [CACHE_HEADER]: cacheResult } : {}) });
  const { gateway } = ctx.services;

  if (body.stream) {
    const chunks = await gateway.stream(input, invocation).catch((e: unknown) => Promise.reject(withResponsesParam(e, origins)));
    return streamResponse(ctx, chunks, {
      shell,
      headers: headers(),
      principal,
      complete: async ({ response, text, toolCalls, reasoning }) => {
        if (store) await stored.save({ id, model: input.model, ...link, messages: [...turn, assistantTurn(text, toolCalls, reasoning)], response }, principal);
      },
    });
  }
  const result = await gateway.chat(input, invocation).catch((e: unknown) => Promise.reject(withResponsesParam(e, origins)));
  const response = toResponse(shell, result);
  if (store) {
    const output = assistantTurn(result.message.content, result.message.toolCalls, result.message.reasoning);
    await stored.save({ id, model: input.model, ...link, messages: [...turn, output], response }, principal);
  }
  sendJson(ctx.res, 200, response, headers());
}

export async function handleGetResponse(ctx: RestContext, id: string): Promise<void> {
  const principal = await requirePrincipal(ctx);
  // streaming a stored response again (`?stream=true`) would need its events kept; refused rather than answered as JSON
  if (new URL(ctx.req.url ?? '/', 'http://x').searchParams.get('stream') === 'true') {
    throw new HttpError(400, 'stream: streaming a stored response again is not supported', 'BAD_USER_INPUT');
  }
  const found = await ctx.services.storedResponses.get(id, principal);
  if (!found) throw responseNotFound(id);
  sendJson(ctx.res, 200, found.response);
}

export async function handleDeleteResponse(ctx: RestContext, id: string): Promise<void> {
  const principal = await requirePrincipal(ctx);
  if (!(await ctx.services.storedResponses.delete(id, principal))) throw responseNotFound(id);
  sendJson(ctx.res, 200, { id, object: 'response.deleted', deleted: true });
}
