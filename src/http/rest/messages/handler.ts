/*
 * POST /v1/messages: Anthropic's Messages API in front of every model of the gateway. An Anthropic request body →
 * the unified ChatInput → gateway.chat / gateway.stream (the same keys, limits, routing and usage as every other
 * surface) → a Message object or Anthropic's server-sent events; failures in Anthropic's error shape.
 * @see https://docs.anthropic.com/en/api/messages
 */
import { GatewayError, isGatewayError, unauthenticated } from '../../../errors.js';
import type { ChatInput } from '../../../gateway/chat-input.js';
import type { ChatChunk, InvocationOptions } from '../../../gateway/gateway.js';
import type { Principal } from '../../../services/keys.js';
import { authenticate } from '../../auth.js';
import { CACHE_HEADER, cacheOptionsOf } from '../cache-headers.js';
import { HttpError, parseBody, readJson, sendJson, warningHeaders, type RestContext } from '../http.js';
import { withParam } from '../param.js';
import { relayStream } from '../stream-relay.js';
import { countTokens } from './count-tokens.js';
import { anthropicError } from './errors.js';
import { MessagesRequest } from './schema.js';
import { MessageStreamWriter } from './stream-writer.js';
import { anthropicParam, toChatInput, type MessageOrigin } from './to-chat-input.js';
import { messageId, toMessage } from './to-message.js';

/**
 * Anthropic's SDKs send the key as `x-api-key` (or, with an auth token, as `Authorization: Bearer`): either is
 * the gateway key. With both, x-api-key wins, as it is what an Anthropic client sets on purpose.
 */
async function principalOf(ctx: RestContext): Promise<Principal> {
  const apiKey = ctx.req.headers['x-api-key'];
  const principal = await authenticate(ctx.services.keys, typeof apiKey === 'string' && apiKey ? apiKey : ctx.req.headers.authorization);
  if (!principal) throw unauthenticated('A valid API key is required (x-api-key: gw_... or Authorization: Bearer gw_...)');
  return principal;
}

/** A BAD_USER_INPUT from the core names the field as the Anthropic request does. */
const withAnthropicParam = (err: unknown, origins: MessageOrigin[]): unknown => withParam(err, (f) => anthropicParam(f, origins));

/** Anthropic's SDKs read `request-id` (and show it on errors); it is the gateway's own request id. */
const requestIdHeader = (ctx: RestContext) => ({ 'request-id': ctx.requestId });

export function sendAnthropicError(ctx: RestContext, err: unknown): void {
  if (!isGatewayError(err) && !(err instanceof HttpError)) {
    ctx.services.log.error({ err, requestId: ctx.requestId, path: ctx.req.url }, 'REST request failed unexpectedly');
  }
  const { status, headers, body } = anthropicError(err);
  sendJson(ctx.res, status, body, { ...headers, ...requestIdHeader(ctx) });
}

/** POST /v1/messages/count_tokens, answered in the same shapes (see count-tokens.ts). */
export async function handleCountTokens(ctx: RestContext): Promise<void> {
  try {
    await countTokens(ctx, await principalOf(ctx));
  } catch (err) {
    if (!ctx.res.destroyed) sendAnthropicError(ctx, err);
  }
}

export async function handleMessages(ctx: RestContext): Promise<void> {
  try {
    const principal = await principalOf(ctx);
    const body = parseBody(MessagesRequest, await readJson(ctx));
    const warnings: string[] = [];
    const mapped = toChatInput(body, warnings);
    const { origins } = mapped;
    let input = mapped.input;
    const cache = cacheOptionsOf(ctx.req.headers);
    if (cache) input = { ...input, cache };
    let cacheResult: string | undefined;
    const invocation: InvocationOptions & { warnings: string[] } = {
      principal,
      signal: ctx.signal,
      warnings,
      requestId: ctx.requestId,
      trace: ctx.trace,
      onCacheLookup: (r) => (cacheResult = r),
      reasoning: true,
    };
    const headers = () => ({ ...warningHeaders(warnings), ...(cacheResult ? { [CACHE_HEADER]: cacheResult } : {}), ...requestIdHeader(ctx) });
    const { gateway } = ctx.services;
    if (body.stream === true) {
      const stream = await gateway.stream(input, invocation).catch((e: unknown) => Promise.reject(withAnthropicParam(e, origins)));
      return await streamMessage(ctx, stream, { headers: headers(), principal, input, origins });
    }
    const result = await gateway.chat(input, invocation).catch((e: unknown) => Promise.reject(withAnthropicParam(e, origins)));
    sendJson(ctx.res, 200, toMessage(result), headers());
  } catch (err) {
    if (!ctx.res.destroyed) sendAnthropicError(ctx, err);
  }
}

/**
 * Streams the gateway's chunks as Anthropic's events (the rules every REST stream shares: stream-relay.ts). After
 * the first event, a failure, a key change that ends the stream or a stream that stops without a stop reason is an
 * `error` event, and the stream ends.
 */
function streamMessage(
  ctx: RestContext,
  stream: AsyncIterable<ChatChunk>,
  opts: { headers: Record<string, string>; principal: Principal; input: ChatInput; origins: MessageOrigin[] },
): Promise<void> {
  return relayStream(ctx, stream, {
    headers: opts.headers,
    principal: opts.principal,
    model: opts.input.model,
    sendError: (err) => sendAnthropicError(ctx, withAnthropicParam(err, opts.origins)),
    open: (first, sse) => {
      const writer = new MessageStreamWriter(sse, messageId(first.invocationId), first.model);
      let finished = false;
      return {
        start: () => writer.start(),
        async chunk(c) {
          await writer.chunk(c);
          if (c.finishReason) {
            await writer.finish(c.finishReason, c.usage);
            finished = true;
          }
        },
        async end(endedBy) {
          if (endedBy && !sse.closed) await writer.error(anthropicError(endedBy).body);
          else if (!finished && !sse.closed) await writer.error(anthropicError(new GatewayError('UPSTREAM_ERROR', 'The stream ended early', {})).body);
        },
        error: (err) => writer.error(anthropicError(err).body),
      };
    },
  });
}
