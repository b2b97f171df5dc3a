/* An error answered before a request reaches GraphQL or REST handling (or when that failed): one shape per surface. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isGatewayError, toGraphqlErrorBody, toRestError } from '../errors.js';
import { anthropicError } from './rest/messages/errors.js';

/**
 * The OpenAI-compatible routes answer in OpenAI's error envelope, the Anthropic-compatible ones (/v1/messages…) in
 * Anthropic's (as rest/index.ts answers them), everything else in GraphQL's.
 */
const isRestRequest = (req: IncomingMessage) => (req.url ?? '').startsWith('/v1/');
const isAnthropicRequest = (req: IncomingMessage) => (req.url ?? '').startsWith('/v1/messages');

export function writeErrorAnswer(req: IncomingMessage, res: ServerResponse, err: unknown, requestId: string): void {
  // an answer already under way cannot change its status: end it, the client sees it cut
  if (res.headersSent) {
    res.end();
    return;
  }
  if (isRestRequest(req)) {
    // e.g. a 413 for an announced body over the limit, answered before the route is reached
    const { status, headers, body } = isAnthropicRequest(req) ? anthropicError(err) : toRestError(err);
    res.writeHead(status, { ...headers, 'content-type': 'application/json' });
    return void res.end(JSON.stringify(body));
  }
  res.writeHead(isGatewayError(err) ? err.httpStatus : 500, { 'content-type': 'application/json' });
  res.end(JSON.stringify(toGraphqlErrorBody(err, requestId)));
}
