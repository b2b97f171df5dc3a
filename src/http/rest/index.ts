/* OpenAI-compatible REST routes (/v1/*) and their OpenAPI document; they call the same gateway core. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Services } from '../../context.js';
import { handleChatCompletions } from './chat-completions.js';
import { handleEmbeddings } from './embeddings.js';
import { HttpError, sendError, type RestContext } from './http.js';
import { handleListModels, handleRetrieveModel } from './models.js';
import { handleCountTokens, handleMessages, sendAnthropicError } from './messages/handler.js';
import { openApiJson } from './openapi.js';
import { handleRunPrompt } from './prompts.js';
import { handleCreateResponse, handleDeleteResponse, handleGetResponse } from './responses/index.js';
import { Cancellation } from '../../util/cancellation.js';
import type { OpenSessions } from '../open-sessions.js';
import type { RequestTrace } from '../../telemetry/request-trace.js';

export type RestHandler = (req: IncomingMessage, res: ServerResponse, requestId: string, trace?: RequestTrace) => Promise<boolean>;

export interface RestOptions {
  /** Where running streams are listed by key, to be ended when their key is revoked, rotated, expired or narrowed. */
  sessions?: OpenSessions;
  /** Largest request body accepted, bytes (chunked bodies included). @default 2 MiB, as the HTTP server */
  maxBodyBytes?: number;
}

type Route = { method: string; match: (path: string) => string[] | null; run: (ctx: RestContext, params: string[]) => Promise<void> };

const exact = (p: string) => (path: string) => (path === p ? [] : null);
const pattern = (re: RegExp) => (path: string) => {
  const m = re.exec(path);
  if (!m) return null;
  try {
    return m.slice(1).map((s) => decodeURIComponent(s));
  } catch {
    return null;
  }
};

const ROUTES: Route[] = [
  { method: 'POST', match: exact('/v1/chat/completions'), run: (ctx) => handleChatCompletions(ctx) },
  { method: 'POST', match: exact('/v1/embeddings'), run: (ctx) => handleEmbeddings(ctx) },
  // Anthropic's Messages API: its own error shape, so the handler answers its errors itself
  { method: 'POST', match: exact('/v1/messages'), run: (ctx) => handleMessages(ctx) },
  { method: 'POST', match: exact('/v1/messages/count_tokens'), run: (ctx) => handleCountTokens(ctx) },
  { method: 'GET', match: exact('/v1/models'), run: (ctx) => handleListModels(ctx) },
  { method: 'GET', match: pattern(/^\/v1\/models\/(.+)$/), run: (ctx, [name]) => handleRetrieveModel(ctx, name) },
  { method: 'POST', match: pattern(/^\/v1\/prompts\/(.+)\/run$/), run: (ctx, [name]) => handleRunPrompt(ctx, name) },
  { method: 'POST', match: exact('/v1/responses'), run: (ctx) => handleCreateResponse(ctx) },
  { method: 'GET', match: pattern(/^\/v1\/responses\/([^/]+)$/), run: (ctx, [id]) => handleGetResponse(ctx, id) },
  { method: 'DELETE', match: pattern(/^\/v1\/responses\/([^/]+)$/), run: (ctx, [id]) => handleDeleteResponse(ctx, id) },
];

/** Returns false for paths it does not own, so the caller hands them to Yoga. */
export function createRestHandler(services: Services, opts: RestOptions = {}): RestHandler {
  const maxBodyBytes = opts.maxBodyBytes ?? 2 * 1024 * 1024;
  return async (req, res, requestId, trace) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    if (path === '/openapi.json') {
      if (req.method !== 'GET' && req.method !== 'HEAD') return notAllowed(res, 'GET');
      const body = openApiJson();
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'cache-control': 'public, max-age=300' });
      res.end(req.method === 'HEAD' ? undefined : body);
      return true;
    }
    if (!path.startsWith('/v1/')) return false;

    const ac = new Cancellation();
    res.once('close', () => {
      if (!res.writableFinished) ac.abort();
    });
    const ctx: RestContext = { req, res, requestId, services, signal: ac.signal, maxBodyBytes, sessions: opts.sessions, trace };
    try {
      // the first route for this path and method; the others' methods only matter for a 405
      let route: Route | undefined;
      let params: string[] | null = null;
      let methods: string[] | undefined;
      for (const r of ROUTES) {
        const p = r.match(path);
        if (!p) continue;
        if (r.method === req.method) {
          route = r;
          params = p;
          break;
        }
        (methods ??= []).push(r.method);
      }
      if (!route) {
        if (!methods) throw new HttpError(404, `No route ${req.method} ${path}`, 'NOT_FOUND');
        const allow = [...new Set(methods)].join(', ');
        throw new HttpError(405, `Method ${req.method} is not allowed on ${path}; use ${allow}`, 'METHOD_NOT_ALLOWED', { allow });
      }
      await route.run(ctx, params!);
    } catch (err) {
      // Anthropic's clients read Anthropic's error shape, a wrong method or path under /v1/messages included
      if (!res.destroyed) (path.startsWith('/v1/messages') ? sendAnthropicError : sendError)(ctx, err);
    }
    return true;
  };
}

function notAllowed(res: ServerResponse, allow: string): true {
  const body = JSON.stringify({ error: { message: `Use ${allow}`, type: 'invalid_request_error', param: null, code: 'METHOD_NOT_ALLOWED' } });
  res.writeHead(405, { 'content-type': 'application/json', allow });
  res.end(body);
  return true;
}
