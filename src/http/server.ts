/* node:http: /v1/* and /openapi.json → REST, everything else → Yoga; upgrades → graphql-ws. Tracks in-flight requests for a clean stop. */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { Route } from './metrics-route.js';
import type { RestHandler } from './rest/index.js';
import type { GatewayYoga } from './yoga.js';

export interface HttpServerOptions {
  /** Largest request body accepted, bytes. @default 2 MiB */
  maxBodyBytes?: number;
}

export function createHttpServer(yoga: GatewayYoga, rest: RestHandler, opts: HttpServerOptions = {}, routes: Route[] = []) {
  const maxBody = opts.maxBodyBytes ?? 2 * 1024 * 1024;
  let inFlight = 0;
  let idle: (() => void) | undefined;

  const server: Server = createServer(async (req, res) => {
    inFlight++;
    res.on('close', () => {
      if (--inFlight === 0) idle?.();
    });
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && /^[\w.:-]{1,128}$/.test(incoming) ? incoming : randomUUID();
    req.headers['x-request-id'] = requestId;
    res.setHeader('x-request-id', requestId);
    const length = Number(req.headers['content-length'] ?? 0);
    if (length > maxBody) {
      res.writeHead(413, { 'content-type': 'application/json', connection: 'close' });
      res.end(JSON.stringify({ errors: [{ message: `Request body larger than ${maxBody} bytes`, extensions: { code: 'BAD_USER_INPUT', requestId } }] }));
      req.resume();
      return;
    }
    try {
      for (const route of routes) if (await route(req, res)) return;
      if (await rest(req, res, requestId)) return;
      await yoga(req, res, { requestId });
    } catch (err) {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR', requestId } }] }));
    }
  });
  server.keepAliveTimeout = 65_000;

  return {
    server,
    inFlight: () => inFlight,
    /** Resolves when no request is in flight (or after `timeoutMs`). */
    drained(timeoutMs: number): Promise<void> {
      if (inFlight === 0) return Promise.resolve();
      return new Promise((resolve) => {
        const t = setTimeout(resolve, timeoutMs);
        idle = () => {
          clearTimeout(t);
          resolve();
        };
      });
    },
  };
}
