/* node:http: /v1/* and /openapi.json → REST, everything else → Yoga; upgrades → graphql-ws. Tracks in-flight requests for a clean stop. */
import { randomUUID } from 'node:crypto';
import { Server as NetServer } from 'node:net';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Metrics } from '../telemetry/metrics.js';
import { traceHttpRequest } from '../telemetry/server-trace.js';
import type { Tracing } from '../telemetry/tracing.js';
import { loopTurn } from '../util/loop-turn.js';
import { bodyTooLarge } from '../errors.js';
import { writeErrorAnswer } from './error-answer.js';
import { DEFAULT_DRAIN_BOUNDS, drainUnreadBody, type DrainBounds } from './drain-unread-body.js';
import type { FastPath } from './graphql-fast-path.js';
import type { Route } from './metrics-route.js';
import type { RestHandler } from './rest/index.js';
import type { GatewayYoga } from './yoga.js';

/** Largest request body accepted by default (GraphQL and REST), bytes. */
export const DEFAULT_MAX_BODY_BYTES = 2 * 1024 * 1024;

export interface HttpServerOptions {
  /** Largest request body accepted, bytes (announced by content-length; Yoga and the REST routes hold chunked bodies to it). @default 2 MiB */
  maxBodyBytes?: number;
  /** One line per completed request: request id, method, path, status, duration. Never headers or bodies. */
  log?: Logger;
  metrics?: Metrics;
  /** Plain JSON queries and mutations on /graphql without the Fetch-API layer (see graphql-fast-path.ts). */
  fastPath?: FastPath;
  /** How much of a body still arriving after its answer (a 413) is read and dropped before the connection is cut. */
  drainBounds?: Partial<DrainBounds>;
  /** OpenTelemetry traces: a SERVER span per request on /graphql and /v1/*. */
  tracing?: Tracing;
}

const KNOWN_ROUTES = new Set([
  '/graphql',
  '/healthz',
  '/readyz',
  '/metrics',
  '/openapi.json',
  '/v1/chat/completions',
  '/v1/embeddings',
  '/v1/models',
  '/v1/messages',
  '/v1/messages/count_tokens',
  '/v1/responses',
]);
/** The REST routes with a name or id in their path, as templates: the label set stays fixed. */
const ROUTE_TEMPLATES: ReadonlyArray<[RegExp, string]> = [
  [/^\/v1\/responses\/[^/]+$/, '/v1/responses/{id}'],
  [/^\/v1\/models\/.+$/, '/v1/models/{name}'],
  [/^\/v1\/prompts\/.+\/run$/, '/v1/prompts/{name}/run'],
];
/** Probes and scrapes succeed every few seconds: their lines go to debug. */
const QUIET_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

/** The path without its query string. */
function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/** A metrics label (and span route) from a fixed set, whatever path was asked for. */
function routeOf(path: string): string {
  if (KNOWN_ROUTES.has(path)) return path;
  if (path === '/console' || path.startsWith('/console/')) return '/console/*';
  if (!path.startsWith('/v1/')) return 'other';
  for (const [re, template] of ROUTE_TEMPLATES) if (re.test(path)) return template;
  return '/v1/*';
}

export function createHttpServer(graphql: GatewayYoga, rest: RestHandler, opts: HttpServerOptions = {}, routes: Route[] = []) {
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const { log, metrics } = opts;
  const drainBounds: DrainBounds = { ...DEFAULT_DRAIN_BOUNDS, ...opts.drainBounds };
  let inFlight = 0;
  let lastRequestAt = 0;
  let idle: (() => void) | undefined;
  /** Set by close(): every answer from then on says `connection: close`, so no client sends another request. */
  let stopping = false;
  /** Answers in progress, for close() to mark the ones whose headers are not sent yet. */
  const open = new Set<ServerResponse>();

  const server: Server = createServer(async (req, res) => {
    inFlight++;
    lastRequestAt = Date.now();
    // kept here: a request stream a reader destroyed (Yoga, past its body limit) no longer points at its socket
    const socket = req.socket;
    const started = process.hrtime.bigint();
    const incoming = req.headers['x-request-id'];
    const requestId = typeof incoming === 'string' && /^[\w.:-]{1,128}$/.test(incoming) ? incoming : randomUUID();
    req.headers['x-request-id'] = requestId;
    res.setHeader('x-request-id', requestId);
    if (stopping) res.setHeader('connection', 'close');
    open.add(res);
    // the API's requests only: not probes, scrapes, the console's files
    const route = routeOf(pathOf(req.url ?? '/'));
    const traced = route === '/graphql' || route.startsWith('/v1/') ? traceHttpRequest(opts.tracing, req.headers, req.method ?? 'GET', route) : undefined;
    res.on('close', () => {
      traced?.end(res.statusCode);
      open.delete(res);
      if (--inFlight === 0) idle?.();
      // answered before the body was all in (a 413): the client is still sending and must be able to read the answer
      if (!req.complete) drainUnreadBody(req, socket, drainBounds);
      // the path only: a query string may carry a whole GraphQL document (GET), headers may carry keys
      const path = pathOf(req.url ?? '/').slice(0, 200);
      const method = req.method ?? 'GET';
      const status = res.statusCode;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics?.httpRequest(route, method, status, seconds);
      const level = QUIET_ROUTES.has(path) && status < 400 ? 'debug' : 'info';
      // at LOG_LEVEL=warn (or above) no line is built at all
      if (log?.isLevelEnabled(level)) {
        log[level]({ requestId, method, path, status, durationMs: Math.round(seconds * 1e4) / 10, ...(res.writableFinished ? {} : { aborted: true }) }, 'request completed');
      }
    });
    const length = Number(req.headers['content-length'] ?? 0);
    if (length > maxBody) {
      // no `connection: close`: node would close the socket at once, under a client still sending
      drainUnreadBody(req, socket, drainBounds);
      writeErrorAnswer(req, res, bodyTooLarge(maxBody), requestId);
      return;
    }
    try {
      for (const route of routes) if (await route(req, res)) return;
      // a burst is handled over several turns of the loop, not in one; probes and scrapes never wait behind it
      const wait = QUIET_ROUTES.has(req.url ?? '') ? undefined : loopTurn();
      if (wait) await wait;
      if (await rest(req, res, requestId, traced?.trace)) return;
      if (opts.fastPath && (await opts.fastPath(req, res, requestId, traced))) return;
      await graphql.yoga(req, res, { requestId, serverTrace: traced });
    } catch (err) {
      log?.error({ err, requestId }, 'request failed unexpectedly');
      writeErrorAnswer(req, res, err, requestId);
    }
  });
  server.keepAliveTimeout = 65_000;

  /** Resolves when no request is in flight (or after `timeoutMs`). */
  function drained(timeoutMs: number): Promise<void> {
    if (inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, timeoutMs);
      idle = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  /**
   * Resolves once no request is in flight and none has arrived for `quietMs` (or after `timeoutMs`): a keep-alive
   * connection idle at the stop may still carry a request its client is writing, which must be read and answered
   * (with `connection: close`) before idle connections are closed.
   */
  async function quiet(quietMs: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await drained(Math.max(0, deadline - Date.now()));
      const wait = lastRequestAt + quietMs - Date.now();
      if ((inFlight === 0 && wait <= 0) || Date.now() >= deadline) return;
      await new Promise((resolve) => setTimeout(resolve, Math.min(Math.max(wait, 10), Math.max(0, deadline - Date.now()))));
    }
  }

  return {
    server,
    quiet,
    inFlight: () => inFlight,
    drained,
    /**
     * Stops accepting connections; requests already received are still answered, each on a connection that then
     * closes. `closed` resolves once every connection is closed (websockets too: the caller closes those).
     */
    async stopAccepting(): Promise<{ closed: Promise<void> }> {
      stopping = true;
      // answers still to come end their connection: a keep-alive client would otherwise send its next request
      // on a connection that is about to be closed, and get a reset instead of an answer
      for (const res of open) if (!res.headersSent) res.setHeader('connection', 'close');
      // close() destroys every connection with no request in progress, among them one whose request has arrived but
      // not been read (the loop was busy): one poll phase first reads those, and accepts connections the kernel has
      // completed (closing the listener would reset them)
      await new Promise<void>((resolve) => setImmediate(resolve));
      // net.Server's close, not http.Server's: the latter also destroys every idle keep-alive connection at once, and
      // a client may be writing its next request on one of them (it would get a reset instead of an answer)
      const closed = new Promise<void>((resolve) => NetServer.prototype.close.call(server, () => resolve()));
      return { closed };
    },
  };
}
