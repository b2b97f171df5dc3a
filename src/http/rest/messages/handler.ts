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
import { SseWriter } from '../sse.js';
import { countTokens } from './count-tokens.js';
import { anthropicError } from './errors.js';
import { MessagesRequest } from './schema.js';
import { MessageStreamWriter } from './stream-writer.js';
import { anthropicParam, toChatInput } from './to-chat-input.js';
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
function withAnthropicParam(err: unknown): unknown {
  if (!isGatewayError(err) || err.code !== 'BAD_USER_INPUT' || typeof err.extensions.field !== 'string') return err;
  const field = err.extensions.field;
  if (!field.startsWith('input.')) return err;
  const param = anthropicParam(field);
  const message = err.message.startsWith(`${field}: `) ? `${param}: ${err.message.slice(field.length + 2)}` : err.message;
  return new GatewayError('BAD_USER_INPUT', message, { ...err.extensions, field: param });
}

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
    if (!ctx.res.destroyed) sendAnthropicError(ctx, withAnthropicParam(err));
  }
}

export async function handleMessages(ctx: RestContext): Promise<void> {
  try {
    const principal = await principalOf(ctx);
    const body = parseBody(MessagesRequest, await readJson(ctx));
    const warnings: string[] = [];
    let input = toChatInput(body, warnings);
    const cache = cacheOptionsOf(ctx.req.headers);
    if (cache) input = { ...input, cache };
    let cacheResult: string | undefined;
    const invocation: InvocationOptions & { warnings: string[] } = {
      principal,
      signal: ctx.signal,
      warnings,
      requestId: ctx.requestId,
      onCacheLookup: (r) => (cacheResult = r),
      reasoning: true,
    };
    const headers = () => ({ ...warningHeaders(warnings), ...(cacheResult ? { [CACHE_HEADER]: cacheResult } : {}), ...requestIdHeader(ctx) });
    const { gateway } = ctx.services;
    if (body.stream === true) {
      const stream = await gateway.stream(input, invocation).catch((e: unknown) => Promise.reject(withAnthropicParam(e)));
      return await streamMessage(ctx, stream, { headers: headers(), principal, input });
    }
    const result = await gateway.chat(input, invocation).catch((e: unknown) => Promise.reject(withAnthropicParam(e)));
    sendJson(ctx.res, 200, toMessage(result), headers());
  } catch (err) {
    if (!ctx.res.destroyed) sendAnthropicError(ctx, err);
  }
}

/**
 * Streams the gateway's chunks as Anthropic's events. Nothing is sent before the first chunk, so a failure before
 * it still gets its HTTP status; after it, a failure is an `error` event and the stream ends. The client going
 * away ends the gateway stream, which aborts the upstream; a key change that no longer allows the stream
 * (open-sessions.ts) ends it with its error as the last event, as on the other surfaces.
 */
async function streamMessage(
  ctx: RestContext,
  stream: AsyncIterable<ChatChunk>,
  opts: { headers: Record<string, string>; principal: Principal; input: ChatInput },
): Promise<void> {
  const { res } = ctx;
  const it = stream[Symbol.asyncIterator]();
  const onClose = () => {
    if (!res.writableFinished) void it.return?.();
  };
  res.once('close', onClose);
  const sse = new SseWriter(res);
  let endedBy: GatewayError | undefined;
  let unlist: (() => void) | undefined;
  let writer: MessageStreamWriter | undefined;
  try {
    let next = await it.next();
    // a failed stream ends with an ERROR chunk, then the error: before anything was sent, it gets its HTTP status
    while (!next.done && next.value.finishReason === 'ERROR') next = await it.next();
    if (next.done || res.destroyed) return;

    writer = new MessageStreamWriter(sse, messageId(next.value.invocationId), next.value.model);
    sse.start(opts.headers);
    unlist = ctx.sessions?.add({
      principal: opts.principal,
      field: 'chatStream',
      args: { input: { model: opts.input.model } },
      end: (reason) => {
        endedBy = reason;
        void it.return?.();
      },
    });
    await writer.start();
    let finished = false;
    while (!next.done) {
      const c = next.value;
      if (c.finishReason !== 'ERROR') {
        await writer.chunk(c);
        if (c.finishReason) {
          await writer.finish(c.finishReason, c.usage);
          finished = true;
        }
      }
      if (sse.closed) return;
      next = await it.next();
    }
    if (endedBy && !sse.closed) await writer.error(anthropicError(endedBy).body);
    else if (!finished && !sse.closed) await writer.error(anthropicError(new GatewayError('UPSTREAM_ERROR', 'The stream ended early', {})).body);
    sse.end();
  } catch (err) {
    if (!res.headersSent) return sendAnthropicError(ctx, withAnthropicParam(err));
    await writer?.error(anthropicError(err).body);
    sse.end();
  } finally {
    unlist?.();
    res.off('close', onClose);
  }
}
