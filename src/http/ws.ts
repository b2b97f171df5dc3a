/* graphql-ws on the same port and path, running Yoga's envelop pipeline (masking, auth, armor, limits, plugins) for every operation. */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import type { GraphQLParams } from 'graphql-yoga';
import { GraphQLError, type ExecutionArgs } from 'graphql';
import type { Services } from '../context.js';
import { isGatewayError, serviceUnavailable } from '../errors.js';
import type { Principal } from '../services/keys.js';
import type { Metrics } from '../telemetry/metrics.js';
import { traceWsOperation, type ServerTrace } from '../telemetry/server-trace.js';
import { authenticate } from './auth.js';
import type { OpenSessions } from './open-sessions.js';
import { DEFAULT_MAX_BODY_BYTES } from './server.js';
import type { GatewayYoga } from './yoga.js';
import { toClientJson, withErrorCode, withErrorCodes } from './plugins/use-error-codes.js';
import { withRequestId } from './plugins/use-request-id.js';
import { withTimeout } from '../util/with-timeout.js';

type Extra = {
  principal?: Principal | null;
  /** connectionParams.authorization, kept to check the key again on every operation */
  authorization?: unknown;
  /** graphql-ws operation id → its request. */
  requests?: Map<string, OperationRequest>;
  /** graphql-ws operation id → its SERVER span (or the caller's traceparent to pass on). */
  traces?: Map<string, ServerTrace>;
  [k: string]: unknown;
};

export interface WsOptions {
  /** Sockets that never send connection_init are closed after this long (close code 4408). @default 10000 */
  connectionInitWaitTimeout?: number;
  /**
   * graphql-ws pings every socket this often and terminates one whose pong has not come back within as long again
   * (0: no pings). A gateway busy with thousands of streams can read a pong late: a longer one keeps those sockets.
   * @default 12000 (graphql-ws's own)
   */
  keepAliveMs?: number;
  /** Largest message accepted (bigger ones close the socket with 1009), as for HTTP bodies. @default 2 MiB */
  maxPayloadBytes?: number;
  metrics?: Metrics;
  /** Where each connection is listed by its key, to be closed (4403) when the key is revoked, rotated or expires. */
  sessions?: OpenSessions;
}

/**
 * One operation of a socket is one request: its own request id (its context's, so its call log rows carry it), named
 * in extensions.requestId of its first result and in its errors.
 */
interface OperationRequest {
  id: string;
  /** Its first result has gone out (it named the request). */
  named: boolean;
}

/** graphql-ws's code for a connection whose credentials are refused (as at connection_init). */
const FORBIDDEN = 4403;
/**
 * "Service Restart", sent to every socket when the instance drains. graphql-ws's client retries it with its default
 * options: isFatalInternalCloseCode() lists 1012 among the codes that are not fatal, and the default shouldRetry
 * accepts any close event (node_modules/graphql-ws/dist/client.js, graphql-ws 6.4), so the client reconnects (through
 * a load balancer, to another instance) and subscribes again what it had open.
 */
const SERVICE_RESTART = 1012;
/** How often a draining instance looks for sockets whose operations have all ended. */
const DRAIN_POLL_MS = 50;

/** What a socket has open, from graphql-ws's Context (its public `subscriptions`, queries and mutations included). */
interface SocketState {
  id: string;
  at: number;
  operations: number;
  unlist?: () => void;
  ctx?: { readonly subscriptions: Record<string, unknown> };
  /** Subscribe messages that arrived while draining, held until the socket closes (the client sends them again). */
  held: number;
  closed: Promise<void>;
}

export function attachWebSockets(server: Server, graphql: GatewayYoga, services: Services, opts: WsOptions = {}) {
  const { log } = services;
  const { yoga } = graphql;
  const wss = new WebSocketServer({ server, path: yoga.graphqlEndpoint, maxPayload: opts.maxPayloadBytes ?? DEFAULT_MAX_BODY_BYTES });
  const opened = new WeakMap<WebSocket, SocketState>();
  let draining = false;
  wss.on('connection', (socket) => {
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    opened.set(socket, { id: randomUUID(), at: Date.now(), operations: 0, held: 0, closed });
    opts.metrics?.wsConnections.inc();
    coalesceWrites(socket);
  });

  // a fresh id for every subscribe message: a client's own id could make two operations one request
  const requestOf = (extra: Extra, id: string): OperationRequest => {
    extra.requests ??= new Map();
    let r = extra.requests.get(id);
    if (!r) extra.requests.set(id, (r = { id: randomUUID(), named: false }));
    return r;
  };
  const requestIdOf = (extra: Extra, id: string): string => requestOf(extra, id).id;

  const disposable = useServer<Record<string, unknown>, Extra>(
    {
      connectionInitWaitTimeout: opts.connectionInitWaitTimeout ?? 10_000,
      execute: (args) => (args as unknown as { execute: (a: ExecutionArgs) => unknown }).execute(args) as never,
      subscribe: (args) => (args as unknown as { subscribe: (a: ExecutionArgs) => unknown }).subscribe(args) as never,
      onConnect: async (ctx) => {
        const state = opened.get((ctx.extra as unknown as { socket: WebSocket }).socket);
        if (state) state.ctx = ctx;
        try {
          const authorization = ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization;
          const principal = await authenticate(services.keys, authorization);
          // a websocket exists to invoke or watch usage: no key, no connection (close 4403)
          if (!principal) return false;
          ctx.extra.principal = principal;
          ctx.extra.authorization = authorization;
          const socket = (ctx.extra as unknown as { socket: WebSocket }).socket;
          const conn = opened.get(socket);
          if (conn && opts.sessions) {
            conn.unlist = opts.sessions.add({
              principal,
              // a tick later: the error messages of its subscriptions, ended just before, go out first
              end: () => setImmediate(() => socket.close(FORBIDDEN, 'Forbidden: the API key was revoked, rotated or has expired')),
            });
          }
          return true;
        } catch (e) {
          if (isGatewayError(e) && e.code === 'SERVICE_UNAVAILABLE') {
            // the key could not be checked (database away), it was not refused: 1013 "try again later", which
            // graphql-ws clients retry, instead of 4403
            (ctx.extra as unknown as { socket: WebSocket }).socket.close(1013, e.message);
            return false;
          }
          if (isGatewayError(e)) return false;
          throw e;
        }
      },
      onSubscribe: async (ctx, id, params) => {
        const socket = (ctx.extra as unknown as { socket: WebSocket }).socket;
        const conn = opened.get(socket);
        if (conn) conn.operations++;
        const requestId = requestIdOf(ctx.extra, id);
        if (draining && conn) {
          // held, not refused: once the socket's other operations end it is closed with 1012, and the client sends
          // this subscribe again on its new connection (to another instance); the error below is never sent
          conn.held++;
          await conn.closed;
          return [withErrorCode(serviceUnavailable('This instance is shutting down; reconnect and retry'), requestId)];
        }
        // the key is checked again for every operation (a cache hit): revoking it stops new operations on open sockets
        let principal: Principal | null = null;
        try {
          principal = await authenticate(services.keys, ctx.extra.authorization);
        } catch (e) {
          // a typed refusal (SERVICE_UNAVAILABLE while the database is away) says what it is; anything else is refused below
          if (isGatewayError(e)) return [withErrorCode(e, requestId)];
        }
        if (!principal) {
          return [new GraphQLError('Unknown, revoked or expired API key', { extensions: { code: 'UNAUTHENTICATED', requestId } })];
        }
        ctx.extra.principal = principal;
        let resolved;
        try {
          // an id of a persisted query or trusted document becomes its text; with trusted documents, a text is refused
          resolved = await graphql.persistedParams(params as GraphQLParams);
        } catch (e) {
          return [withErrorCode(e instanceof GraphQLError ? e : new GraphQLError(String((e as Error)?.message ?? e)), requestId)];
        }
        const request = (ctx.extra as unknown as { request: IncomingMessage | undefined }).request;
        // envelop's context factory extends this very object: the operation's trace is added once it is known
        const initial: Record<string, unknown> = { ...ctx, req: request, socket, params: resolved, principal, requestId, transport: 'ws' };
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped(initial);
        let document;
        try {
          document = parse(resolved.query ?? '');
        } catch (e) {
          return [withErrorCode(e instanceof GraphQLError ? e : new GraphQLError(String((e as Error)?.message ?? e)), requestId)];
        }
        const errors = validate(schema, document);
        if (errors.length) return errors.map((e: GraphQLError) => withErrorCode(e, requestId));
        const serverTrace = traceWsOperation(services.tracing, (params as GraphQLParams).extensions, request?.headers, document, resolved.operationName);
        if (serverTrace) {
          initial.serverTrace = serverTrace;
          (ctx.extra.traces ??= new Map()).set(id, serverTrace);
        }
        return {
          schema,
          operationName: resolved.operationName,
          document,
          variableValues: resolved.variables,
          contextValue: await contextFactory(),
          execute,
          subscribe,
        } as unknown as ExecutionArgs;
      },
      // results and `error` messages carry extensions.code and extensions.requestId, as on HTTP; the first result
      // names the request in the result's extensions too
      onNext: (ctx, id, _payload, _args, result) => {
        const request = requestOf(ctx.extra, id);
        const first = !request.named;
        request.named = true;
        if (!first && !result.errors?.length) return;
        const named = first ? withRequestId(result, request.id) : result;
        if (!named.errors?.length) return named as never;
        const r = withErrorCodes(named, request.id);
        return { ...r, errors: r.errors?.map((e) => (e instanceof GraphQLError ? toClientJson(e) : e)) } as never;
      },
      onError: (ctx, id, _payload, errors) => {
        const requestId = requestIdOf(ctx.extra, id);
        ctx.extra.requests?.delete(id);
        endTrace(ctx.extra, id, 'graphql_error');
        return errors.map((e) => toClientJson(withErrorCode(e, requestId)));
      },
      onComplete: (ctx, id) => {
        ctx.extra.requests?.delete(id);
        endTrace(ctx.extra, id);
      },
      onClose: (ctx, code, reason) => {
        const socket = (ctx.extra as unknown as { socket: WebSocket }).socket;
        // operations the closing socket cut short
        for (const id of [...(ctx.extra.traces?.keys() ?? [])]) endTrace(ctx.extra, id);
        const conn = opened.get(socket);
        if (!conn) return;
        opened.delete(socket);
        conn.unlist?.();
        opts.metrics?.wsConnections.dec();
        log.info(
          { connectionId: conn.id, path: yoga.graphqlEndpoint, transport: 'websocket', code, reason: String(reason ?? '').slice(0, 120), durationMs: Date.now() - conn.at, operations: conn.operations, initialised: ctx.connectionInitReceived },
          'websocket closed',
        );
      },
    },
    wss,
    opts.keepAliveMs ?? 12_000,
  );
  /** Closes the socket with 1012 once nothing but held subscribes is open on it. */
  const closeIfDone = (socket: WebSocket): void => {
    if (socket.readyState !== socket.OPEN) return;
    const conn = opened.get(socket);
    const open = conn?.ctx ? Object.keys(conn.ctx.subscriptions).length : 0;
    if (open <= (conn?.held ?? 0)) socket.close(SERVICE_RESTART, 'Service Restart: reconnect');
  };

  return {
    wss,
    /**
     * Tells every socket to reconnect elsewhere (1012): at once when nothing is running on it, otherwise as soon as
     * its operations (streams, queries) have ended; new subscribes meanwhile wait for that close. Resolves when every
     * socket is closed, or at `until` (epoch ms) with the ones still running left for dispose().
     */
    async drain(until: number): Promise<void> {
      draining = true;
      while (wss.clients.size > 0 && Date.now() < until) {
        for (const socket of wss.clients) closeIfDone(socket);
        await new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(DRAIN_POLL_MS, until - Date.now()))));
      }
    },
    /**
     * Closes what is left (1001, cutting its operations) and the server; a client that does not answer the close
     * within `timeoutMs` has its connection destroyed.
     */
    async dispose(timeoutMs = 5000): Promise<void> {
      const done = Promise.resolve(disposable.dispose());
      const late = await withTimeout(done, timeoutMs).then(
        () => false,
        () => true,
      );
      if (late) for (const socket of wss.clients) socket.terminate();
      await done;
    },
  };
}

/** Ends an operation's SERVER span (once), with an error type when it failed. */
function endTrace(extra: Extra, id: string, failed?: string): void {
  const t = extra.traces?.get(id);
  if (!t) return;
  extra.traces!.delete(id);
  t.end(undefined, failed);
}

/**
 * Many subscriptions on one socket each send a frame per token: cork the TCP socket on the first send of a
 * tick and uncork it on the next, so the frames of one tick leave in one write instead of one syscall each.
 */
function coalesceWrites(socket: WebSocket): void {
  const raw = (socket as unknown as { _socket?: { cork(): void; uncork(): void; destroyed: boolean } })._socket;
  if (!raw) return;
  const send = socket.send.bind(socket) as (...args: unknown[]) => void;
  let corked = false;
  (socket as unknown as { send: (...args: unknown[]) => void }).send = (...args: unknown[]) => {
    if (!corked && !raw.destroyed) {
      corked = true;
      raw.cork();
      setImmediate(() => {
        corked = false;
        raw.uncork();
      });
    }
    send(...args);
  };
}
