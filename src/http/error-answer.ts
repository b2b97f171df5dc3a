/* An error answered before a request reaches GraphQL or REST handling (or when that failed): one shape per surface. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isGatewayError, toGraphqlErrorBody, toRestError } from '../errors.js';

/** The OpenAI-compatible routes answer in OpenAI's error envelope, everything else in GraphQL's. */
const isRestRequest = (req: IncomingMessage) => (req.url ?? '').startsWith('/v1/');

export function writeErrorAnswer(req: IncomingMessage, res: ServerResponse, err: unknown, requestId: string): void {
  // an answer already under way cannot change its status: end it, the client sees it cut
  if (res.headersSent) {
    res.end();
    return;
  }
  if (isRestRequest(req)) {
    const { status, headers, body } = toRestError(err);
    res.writeHead(status, { ...headers, 'content-type': 'application/json' });
    return void res.end(JSON.stringify(body));
  }
  res.writeHead(isGatewayError(err) ? err.httpStatus : 500, { 'content-type': 'application/json' });
  res.end(JSON.stringify(toGraphqlErrorBody(err, requestId)));
}
