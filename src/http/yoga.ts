/* createYoga: schema, one context factory, plugins, offline GraphiQL, health and readiness. */
import { randomUUID } from 'node:crypto';
import { getOperationAST, GraphQLError, NoSchemaIntrospectionCustomRule, type DocumentNode, type ExecutionResult } from 'graphql';
import {
  createYoga,
  isAsyncIterable,
  maskError,
  useReadinessCheck,
  type GraphiQLOptions,
  type GraphQLParams,
  type OnParamsEventPayload,
  type Plugin,
  type YogaServerInstance,
} from 'graphql-yoga';
import { useGraphQlJit } from '@envelop/graphql-jit';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { bodyTooLarge, UNEXPECTED_ERROR_MESSAGE } from '../errors.js';
import { createContext, type Context, type Services } from '../context.js';
import type { Principal } from '../services/keys.js';
import { schema } from '../schema/index.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { ServerTrace } from '../telemetry/server-trace.js';
import { authenticate } from './auth.js';
import { renderGraphiQL } from './graphiql/render.js';
import { useArmor } from './plugins/use-armor.js';
import { useAutomaticPersistedQueries } from './plugins/use-automatic-persisted-queries.js';
import { useCompiledSubscriptionEvents } from './plugins/use-compiled-subscription-events.js';
import { useErrorCodes, withErrorCode, withErrorCodes } from './plugins/use-error-codes.js';
import { useRequestId } from './plugins/use-request-id.js';
import { useIncrementalDelivery, usesIncrementalDelivery } from './plugins/use-incremental-delivery.js';
import { useSubscriptionLimit, type SubscriptionCounter } from './plugins/use-subscription-limit.js';
import { DOCUMENT_ID_PARAM, useTrustedDocuments } from './plugins/use-trusted-documents.js';
import { useWarnings } from './plugins/use-warnings.js';
import type { OpenSessions } from './open-sessions.js';
import { createReadiness, type Readiness } from './readiness.js';
import { DEFAULT_MAX_BODY_BYTES } from './server.js';

/** What node:http and graphql-ws hand to Yoga besides the request. */
interface ServerContext {
  requestId?: string;
  /** Set by the websocket transport, which authenticated at connection_init. */
  principal?: Principal | null;
  /** 'ws' for graphql-ws operations; absent on HTTP (plain and SSE). */
  transport?: 'ws';
  /** The request's (or ws operation's) SERVER span, or the caller's traceparent to pass on; absent: neither. */
  serverTrace?: ServerTrace;
}

/**
 * What the GraphQL fast path needs to answer as Yoga would, handed over instead of read from Yoga's private fields;
 * undefined when it must not run (switched off, plugins it does not know of installed, or trusted documents on).
 */
interface FastPathSupport {
  /** Yoga's masking of unexpected errors, with the same message and the same log line. */
  maskError(error: GraphQLError): GraphQLError;
}

/**
 * Yoga, and what the gateway's own transports (the fast path, graphql-ws) need beside it: held next to the Yoga
 * instance, never added to it.
 */
export interface GatewayYoga {
  readonly yoga: YogaServerInstance<ServerContext, Context>;
  subscriptions: SubscriptionCounter;
  fastPath: FastPathSupport | undefined;
  /**
   * The persisted-documents plugin's rule for graphql-ws, which Yoga's HTTP handler (where `onParams` hooks run) does
   * not serve: the same plugin turns a hash or documentId into its document and refuses what it refuses over HTTP.
   * graphql-ws requires a query string: an empty one stands for "none, see the id".
   */
  persistedParams(params: GraphQLParams): Promise<GraphQLParams>;
}


export interface GatewayYogaOptions {
  metrics?: Metrics;
  /** Largest request body, chunked ones included. @default 2 MiB, as the HTTP server */
  maxBodyBytes?: number;
  /**
   * More Yoga plugins, after the gateway's own. The fast path knows only the gateway's plugins (the allow-list is the
   * list in createGatewayYoga), so any plugin here sends every request through Yoga's own pipeline.
   */
  plugins?: Plugin[];
  /** Where running subscriptions are listed by key, to be ended when their key is revoked, rotated, expired or narrowed. */
  sessions?: OpenSessions;
  /** What /readyz answers; without it, one of its own that never drains (a Yoga made on its own, in tests). */
  readiness?: Readiness;
}

/**
 * The playground's first tab. The result pane shows a subscription's events one at a time, so when a stream ends it
 * holds only the last one (an empty delta with finishReason and usage): `Chat` sends the same input and shows the
 * whole answer.
 */
const DEFAULT_QUERY = `# Your key goes in the Headers tab:
#   {"Authorization": "Bearer gw_..."}
# Both operations take the input in the Variables tab;
# the run button asks which one to run.

# The answer word by word, as the model writes it. The
# result pane shows one event at a time: once the stream
# has ended, only the last one (finishReason and usage).
subscription Stream($input: ChatInput!) {
  chatStream(input: $input) {
    delta
    finishReason
    usage { promptTokens completionTokens totalTokens }
  }
}

# The whole answer at once.
mutation Chat($input: ChatInput!) {
  chat(input: $input) {
    message { content }
    finishReason
    usage { totalTokens costUsd }
    provider
    latencyMs
  }
}
`;

/** Yoga's GraphiQL also takes the first tab's variables (`variables`), which its options type leaves out. */
const GRAPHIQL_OPTIONS: GraphiQLOptions & { variables: string } = {
  title: 'GraphQL AI Gateway',
  defaultQuery: DEFAULT_QUERY,
  variables: JSON.stringify({ input: { model: 'echo', messages: [{ role: 'USER', content: 'Stream these words one by one' }] } }, null, 2),
  // an empty value is "no key": the schema still loads (introspection needs none); "Bearer gw_..." would be an invalid
  // key, refused with UNAUTHENTICATED, and the playground would start without docs or completion
  headers: JSON.stringify({ Authorization: '' }, null, 2),
  // the key typed into the headers editor is not written to the browser's localStorage
  shouldPersistHeaders: false,
  subscriptionsProtocol: 'SSE',
};

function useIntrospectionSwitch(enabled: boolean): Plugin {
  return {
    onValidate({ addValidationRule }) {
      if (!enabled) addValidationRule(NoSchemaIntrospectionCustomRule);
    },
  };
}

/**
 * Errors inside a subscription stream carry extensions.code and extensions.requestId like any other.
 * Over SSE an error thrown by the source (e.g. the upstream cut mid-stream) would only break the connection:
 * it becomes a last `next` payload with the error instead, then `complete`. (graphql-ws sends its own `error`
 * message; ws.ts adds the request id there.)
 */
function useStreamErrors(log: Logger): Plugin<Context> {
  return {
    onSubscribe() {
      return {
        onSubscribeResult({ args, result, setResult }) {
          if (!isAsyncIterable(result)) return;
          const ctx = args.contextValue as Context & ServerContext;
          const requestId = ctx.requestId;
          // graphql-ws: ws.ts gives every result's errors their codes; no per-event hook needed here
          if (ctx.transport === 'ws') return;
          setResult(errorAsLastResult(result as AsyncIterable<ExecutionResult>, (e) => ({ errors: [toClientError(e, requestId, log)] })));
          return {
            onNext: ({ result: r, setResult: set }) => {
              if (r.errors?.length) set(withErrorCodes(r, requestId));
            },
          };
        },
      };
    },
  };
}

function toClientError(e: unknown, requestId: string, log: Logger): GraphQLError {
  if (e instanceof GraphQLError && !(e.originalError && !(e.originalError instanceof GraphQLError))) return withErrorCode(e, requestId);
  // anything else is unexpected: logged here, masked for the client
  log.error({ err: e, requestId }, 'subscription stream failed unexpectedly');
  return new GraphQLError(UNEXPECTED_ERROR_MESSAGE, { extensions: { code: 'INTERNAL_SERVER_ERROR', requestId } });
}

/** The same stream; a failure becomes one last value. Not a generator, so `return()` reaches the source at once. */
function errorAsLastResult<T>(source: AsyncIterable<T>, toValue: (e: unknown) => T): AsyncIterableIterator<T> {
  const it = source[Symbol.asyncIterator]();
  let finished = false;
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    next() {
      if (finished) return Promise.resolve({ done: true, value: undefined as T });
      return it.next().then(
        (r) => {
          if (r.done) finished = true;
          return r;
        },
        (e) => {
          finished = true;
          return { done: false, value: toValue(e) };
        },
      );
    },
    return(value?: unknown) {
      finished = true;
      return it.return ? it.return(value) : Promise.resolve({ done: true, value: value as T });
    },
    throw(e?: unknown) {
      finished = true;
      return it.throw ? it.throw(e) : Promise.reject(e);
    },
  };
}

/** The SERVER span is named after the operation it runs (`mutation Chat`), once the document is known. */
function useOperationSpanName(): Plugin {
  const name = (args: { contextValue: unknown; document: DocumentNode; operationName?: string | null }) => {
    const serverTrace = (args.contextValue as ServerContext).serverTrace;
    if (!serverTrace) return;
    const op = getOperationAST(args.document, args.operationName);
    if (op) serverTrace.operation(op.operation, op.name?.value);
  };
  return {
    onExecute: ({ args }) => name(args),
    onSubscribe: ({ args }) => name(args),
  };
}

/**
 * Yoga's own limit on chunked bodies says REQUEST_ENTITY_TOO_LARGE; answer like server.ts does for announced ones.
 * The rest of such a body is never read, so the connection cannot carry another request: close it.
 */
function useBodyLimitCode(maxBytes: number): Plugin {
  return {
    onResponse({ response }) {
      if (response.status === 413) response.headers.set('connection', 'close');
    },
    onResultProcess({ result, setResult }) {
      if (Array.isArray(result) || isAsyncIterable(result) || !result.errors?.length) return;
      if (!result.errors.some((e) => e.extensions?.code === 'REQUEST_ENTITY_TOO_LARGE')) return;
      setResult({
        ...result,
        errors: result.errors.map((e) =>
          e.extensions?.code === 'REQUEST_ENTITY_TOO_LARGE'
            ? new GraphQLError(bodyTooLarge(maxBytes).message, { extensions: { ...e.extensions, code: 'BAD_USER_INPUT' } })
            : e,
        ),
      });
    },
  };
}

/**
 * A subscription asked for over HTTP without `Accept: text/event-stream` has already started when Yoga finds no way
 * to send it (406 Not Acceptable), and Yoga never ends it: the upstream call, the subscription slot and the usage
 * record would wait forever. End it here. (Yoga's own result processors run before this plugin.)
 */
function useEndUnsendableStreams(): Plugin {
  return {
    onResultProcess({ result, resultProcessor }) {
      if (resultProcessor || !isAsyncIterable(result)) return;
      void Promise.resolve(result[Symbol.asyncIterator]().return?.()).catch(() => {});
    },
  };
}

/**
 * CORS_ORIGIN unset: any origin (keys travel in Authorization, never in cookies, so no credentials);
 * "none": no CORS headers at all; otherwise a comma-separated list of allowed origins.
 */
function corsOptions(origin: string | undefined) {
  const common = { credentials: false, exposedHeaders: ['x-request-id', 'retry-after'], maxAge: 600 };
  const value = origin?.trim();
  if (!value) return { ...common, origin: ['*'] };
  if (value === 'none') return false as const;
  return { ...common, origin: value.split(',').map((s) => s.trim()).filter(Boolean) };
}

/**
 * Queries and mutations run as compiled code (graphql-jit, cached per parsed document): variable coercion and
 * execution of a `chat` cost a fraction of graphql-js's. Subscriptions keep graphql-js's subscribe (their source
 * errors, warnings and per-event hooks are built on it) and map their events on compiled code instead
 * (use-compiled-subscription-events.ts). graphql-jit knows nothing of @defer and @stream: documents that use them
 * stay on graphql-tools' executor, which delivers them incrementally.
 */
function useJitForQueriesAndMutations(log: Logger): Plugin {
  const { onExecute } = useGraphQlJit(
    {},
    {
      enableIf: (args) => !usesIncrementalDelivery(args.document),
      onError: (r) => log.error({ errors: r.errors }, 'GraphQL JIT could not compile a document'),
    },
  );
  return { onExecute };
}

/**
 * Trusted documents when GRAPHQL_TRUSTED_DOCUMENTS names a manifest, automatic persisted queries otherwise (they
 * would let any client add a document of its own to the list).
 */
function usePersistedDocuments(trusted: ReadonlyMap<string, string> | undefined): Plugin {
  return trusted ? useTrustedDocuments(trusted) : useAutomaticPersistedQueries();
}

/** GatewayYoga.persistedParams: the plugin's own `onParams` hook, run for an operation that did not come over HTTP. */
function paramsResolver(plugin: Plugin, yoga: YogaServerInstance<ServerContext, Context>): (params: GraphQLParams) => Promise<GraphQLParams> {
  // what the plugin may read of a websocket operation's request: it has no method or URL of its own
  const request = new yoga.fetchAPI.Request(`http://localhost${yoga.graphqlEndpoint}`, { method: 'POST' });
  return async (params) => {
    let out: GraphQLParams = params.query === '' ? { ...params, query: undefined } : params;
    const payload: Partial<OnParamsEventPayload> = { params: out, request, context: {}, fetchAPI: yoga.fetchAPI, setParams: (p) => (out = p) };
    await plugin.onParams?.(payload as OnParamsEventPayload);
    return out;
  };
}

/** Yoga's masking of an unexpected error: graphql-yoga's maskError, and the original error logged when it was masked. */
function masker(log: Logger): (error: GraphQLError) => GraphQLError {
  return (error) => {
    const masked = maskError(error, UNEXPECTED_ERROR_MESSAGE) as GraphQLError;
    if (masked !== error) log.error(error);
    return masked;
  };
}

/** A parse error is not cached, so a refused oversized document is refused (and counted) every time it comes. */
const noErrorCache = { get: () => undefined, set: () => {} };

export function createGatewayYoga(config: Config, services: Services, options: GatewayYogaOptions = {}): GatewayYoga {
  const { metrics } = options;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const trusted = config.graphql.trustedDocuments;
  // Yoga's logger is services.log itself (`logging` below)
  const maskUnexpected = masker(services.log);
  const persisted = usePersistedDocuments(trusted);
  const readiness = options.readiness ?? createReadiness(() => services.database.ping());
  const subscriptionLimit = useSubscriptionLimit(config.graphql.maxSubscriptionsPerKey, {
    observer: {
      opened: (field, transport) => metrics?.subscriptionsOpen.inc({ field, transport }),
      closed: (field, transport) => metrics?.subscriptionsOpen.dec({ field, transport }),
      refused: (field) => metrics?.subscriptionsRefused.inc({ field }),
    },
    sessions: options.sessions,
  });
  const yoga = createYoga<ServerContext, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    healthCheckEndpoint: '/healthz',
    landingPage: false,
    logging: services.log,
    cors: corsOptions(config.http.corsOrigin),
    maxRequestBodySize: maxBodyBytes,
    // the persisted documents proposal's parameter, read by the trusted documents plugin; without a manifest it
    // stays an unexpected parameter (400)
    extraParamNames: trusted ? [DOCUMENT_ID_PARAM] : [],
    parserAndValidationCache: { errorCache: noErrorCache },
    maskedErrors: { errorMessage: UNEXPECTED_ERROR_MESSAGE },
    renderGraphiQL,
    graphiql: GRAPHIQL_OPTIONS,
    context: async (initial): Promise<Context> => {
      const requestId = initial.requestId ?? initial.request?.headers.get('x-request-id') ?? randomUUID();
      const principal =
        initial.principal !== undefined
          ? initial.principal
          : await authenticate(services.keys, initial.request?.headers.get('authorization'));
      return createContext({ services, principal, signal: initial.request?.signal, requestId, trace: initial.serverTrace?.trace });
    },
    plugins: [
      useReadinessCheck({ endpoint: '/readyz', check: (args) => readiness.check(args) }),
      persisted,
      useIncrementalDelivery(maskUnexpected),
      useIntrospectionSwitch(config.graphql.introspection),
      useArmor(config.graphql.limits, (rule) => metrics?.armorRejections.inc({ rule })),
      // before the subscription limit: that plugin must wrap the stream this one returns, not the one it drops
      useCompiledSubscriptionEvents({
        onCompileError: (errors) => services.log.error({ errors }, 'GraphQL JIT could not compile a subscription'),
        onReexecuted: () => services.log.debug('subscription event with errors executed again by graphql-tools'),
        onFallback: (reason) => services.log.debug({ reason }, 'subscription events left to graphql-tools'),
      }),
      subscriptionLimit,
      useStreamErrors(services.log),
      useWarnings(),
      // tracing off: nothing to name, and no hook to run on every operation
      ...(services.tracing ? [useOperationSpanName()] : []),
      useBodyLimitCode(maxBodyBytes),
      useErrorCodes((req) => req.headers.get('x-request-id') ?? undefined),
      useRequestId((req) => req.headers.get('x-request-id') ?? undefined),
      ...(options.plugins ?? []),
      useEndUnsendableStreams(),
      useJitForQueriesAndMutations(services.log),
    ],
  });
  // with trusted documents every request names a document by id or is refused: Yoga's pipeline answers all of them
  const fastPath: FastPathSupport | undefined =
    config.graphql.fastPath && !options.plugins?.length && !trusted ? { maskError: maskUnexpected } : undefined;
  return { yoga, subscriptions: subscriptionLimit.counter, fastPath, persistedParams: paramsResolver(persisted, yoga) };
}
