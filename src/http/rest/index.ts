/* OpenAI-compatible REST routes (/v1/*) and their OpenAPI document; they call the same gateway core. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Services } from '../../context.js';

export type RestHandler = (req: IncomingMessage, res: ServerResponse, requestId: string) => Promise<boolean>;

/** Returns false for paths it does not own, so the caller hands them to Yoga. */
export function createRestHandler(_services: Services): RestHandler {
  return async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (!path.startsWith('/v1/') && path !== '/openapi.json') return false;
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { message: `No route ${req.method} ${path}`, type: 'invalid_request_error', param: null, code: 'NOT_FOUND' } }));
    return true;
  };
}
