/*
 * POST /graphql with a JSON body and a JSON answer, run straight through Yoga's envelop pipeline
 * (the same parse/validate caches, armor rules, masking, warnings and context factory as every other
 * transport — what graphql-ws does too), without the Fetch-API request/response layer, which cost as much
 * CPU per chat as the whole gateway core. Anything unusual (subscriptions, batching, bad JSON, a refused
 * document, a bad key, other Accept types, CORS, persisted queries, parameters beyond the four plain ones,
 * @defer/@stream) is handed to Yoga itself, so its answers stay the reference. Subscriptions asked for as
 * text/event-stream run the same way and go out as GraphQL over SSE (graphql-sse.ts); other operations asked for
 * that way are Yoga's.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getOperationAST, GraphQLError, type DocumentNode, type ExecutionResult, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';
import { isAsyncIterable } from 'graphql-yoga';
import { LRUCache } from 'lru-cache';
import { createContext, type Services } from '../context.js';
import { Cancellation, toAbortSignal, type CancelSignal } from '../util/cancellation.js';
import { bodyTooLarge } from '../errors.js';
import { authenticate } from './auth.js';
import { writeErrorAnswer } from './error-answer.js';
import { readBody } from './request-body.js';
import { toClientJson, withErrorCodes } from './plugins/use-error-codes.js';
import { usesIncrementalDelivery } from './plugins/use-incremental-delivery.js';
import { addWarnings } from './plugins/use-warnings.js';
import { wantsEventStream, writeSse } from './graphql-sse.js';
import { withRequestId } from './plugins/use-request-id.js';
import type { GatewayYoga } from './yoga.js';
import type { ServerTrace } from '../telemetry/server-trace.js';

const GRAPHQL_RESPONSE = 'application/graphql-response+json';

/** The media type to answer with, or undefined to let Yoga negotiate. */
function answerType(accept: string | undefined): string | undefined {
  if (!accept) return undefined;
  let end = accept.length;
  const comma = accept.indexOf(',');
  if (comma >= 0) end = comma;
  const semi = accept.indexOf(';');
  if (semi >= 0 && semi < end) end = semi;
  const first = accept.slice(0, end).trim();
  if (first === GRAPHQL_RESPONSE || first === 'application/json') return first;
  return undefined;
}

function headersOf(req: IncomingMessage): Headers {
  const h = new Headers();
  for (const [k, v] of Object.entries(req.headers)) {
    if (typeof v === 'string') h.set(k, v);
    else if (Array.isArray(v)) for (const x of v) h.append(k, x);
  }
  return h;
}

/** What plugins and resolvers may read of the request; headers built only if one asks. */
class FastRequest {
  readonly method = 'POST';
  readonly url: string | undefined;
  private built: Headers | undefined;
  constructor(
    private readonly req: IncomingMessage,
    readonly signal: CancelSignal,
  ) {
    this.url = req.url;
  }
  get headers(): Headers {
    return (this.built ??= headersOf(this.req));
  }
}

export type FastPath = ((req: IncomingMessage, res: ServerResponse, requestId: string, serverTrace?: ServerTrace) => Promise<boolean>) & {
  /** Whether the fast path runs at all (GRAPHQL_FAST_PATH, and no plugin beyond the gateway's own). */
  readonly enabled: boolean;
};

interface GraphqlParams {
  query: string;
  variables: Record<string, unknown> | undefined;
  operationName: string | undefined;
  extensions: Record<string, unknown> | undefined;
}

type BodyParams = { query?: unknown; variables?: unknown; operationName?: unknown; extensions?: unknown };

const PLAIN_PARAMS = new Set(['query', 'variables', 'operationName', 'extensions']);

/**
 * A body the fast path may run: a query text, variables and operation name of the right types, no other parameter
 * (Yoga refuses unknown ones; `documentId` belongs to trusted documents) and no persisted query extension (the
 * APQ plugin's; Yoga also refuses extensions that are not an object).
 */
function isPlainRequest(params: BodyParams): params is BodyParams & { query: string } {
  if (!params || typeof params !== 'object' || Array.isArray(params) || typeof params.query !== 'string') return false;
  if (params.variables != null && (typeof params.variables !== 'object' || Array.isArray(params.variables))) return false;
  if (params.operationName != null && typeof params.operationName !== 'string') return false;
  const ext = params.extensions;
  if (ext != null && (typeof ext !== 'object' || Array.isArray(ext) || 'persistedQuery' in ext)) return false;
  for (const key in params) if (!PLAIN_PARAMS.has(key) && params[key as keyof BodyParams] != null) return false;
  return true;
}

/** A document that parsed, validated and compiled: the same query text runs it again with no hook in between. */
interface Ready {
  compiled: CompiledQuery;
  /** The operation's type and name, for the request's SERVER span. */
  operation: { type: string; name: string | undefined };
}

/** Distinct query texts kept ready; a gateway's clients send a handful, so reaching this means they vary texts. */
const MAX_READY = 1000;

export function createGraphqlFastPath(graphql: GatewayYoga, services: Services, maxBodyBytes: number): FastPath {
  /** Documents (by identity, from Yoga's parse cache) that passed validation. */
  const validated = new WeakSet<DocumentNode>();
  const support = graphql.fastPath;
  const { yoga } = graphql;
  /**
   * By query text, then operation name: looked up by the text as parsed from the body, never a joined key,
   * which would copy a document-sized string per request.
   */
  const ready = new LRUCache<string, Map<string | undefined, Ready>>({ max: MAX_READY });

  function prepare(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, query: string, operationName: string | undefined): Ready | undefined {
    const compiled = compileQuery(schema, document, operationName);
    // what graphql-jit cannot compile still runs through envelop, whose jit plugin answers with the same errors
    if (!isCompiledQuery(compiled)) return undefined;
    const r = { compiled, operation: { type: operation.operation, name: operation.name?.value } };
    let byName = ready.get(query);
    if (!byName) ready.set(query, (byName = new Map()));
    byName.set(operationName, r);
    return r;
  }

  /** What envelop would run for this document: the context factory, graphql-jit, warnings, then masking. */
  async function runDirect(
    r: Ready,
    request: FastRequest,
    graphqlParams: GraphqlParams,
    requestId: string,
    principal: Awaited<ReturnType<typeof authenticate>>,
    serverTrace: ServerTrace | undefined,
  ): Promise<ExecutionResult> {
    serverTrace?.operation(r.operation.type, r.operation.name);
    // the fields envelop's context would hold, on the one object (no spread copy)
    const contextValue = Object.assign(createContext({ services, principal, signal: request.signal, requestId, trace: serverTrace?.trace }), { request, params: graphqlParams });
    let result = (await r.compiled.query(undefined, contextValue, graphqlParams.variables)) as ExecutionResult;
    if (contextValue.warnings.length) result = addWarnings(result, contextValue.warnings);
    if (result.errors?.length) {
      result = { ...result, errors: result.errors.map((e) => support!.maskError(e)) };
    }
    return result;
  }
  /** The body is already read: Yoga answers from a rebuilt Fetch request. */
  async function viaYoga(req: IncomingMessage, res: ServerResponse, body: Buffer, requestId: string, signal: CancelSignal, serverTrace: ServerTrace | undefined): Promise<void> {
    const fetchWithContext = yoga.fetch as unknown as (url: string, init: RequestInit, ctx: { requestId: string; serverTrace?: ServerTrace }) => Promise<Response>;
    const response = await fetchWithContext(
      `http://${req.headers.host ?? 'localhost'}${req.url}`,
      { method: 'POST', headers: headersOf(req), body: new Uint8Array(body), signal: toAbortSignal(signal) },
      { requestId, serverTrace },
    );
    const headers: Record<string, string> = {};
    response.headers.forEach((v, k) => (headers[k] = v));
    // a @defer/@stream answer to an Accept that also lists multipart/mixed or text/event-stream goes out part by part
    if (response.body && !headers['content-type']?.startsWith('application/')) {
      res.writeHead(response.status, headers);
      for await (const chunk of response.body) {
        if (res.destroyed) break;
        if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve).once('close', resolve));
      }
      res.end();
      return;
    }
    const out = Buffer.from(await response.arrayBuffer());
    headers['content-length'] = String(out.length);
    res.writeHead(response.status, headers);
    res.end(out);
  }

  const handle = async (req: IncomingMessage, res: ServerResponse, requestId: string, serverTrace?: ServerTrace): Promise<boolean> => {
    if (!support) return false;
    if (req.method !== 'POST' || req.url !== yoga.graphqlEndpoint || req.headers.origin) return false;
    if (!req.headers['content-type']?.startsWith('application/json')) return false;
    const sse = wantsEventStream(req.headers.accept);
    const type = sse ? undefined : answerType(req.headers.accept);
    if (!type && !sse) return false;
    // a chunked body may pass the limit, and Yoga answers that over SSE in its own way: only announced bodies here
    if (sse && req.headers['content-length'] === undefined) return false;

    const body = await readBody(req, maxBodyBytes);
    if (!body) {
      // the rest of the body is dropped as it arrives (server.ts bounds that); the connection stays usable
      writeErrorAnswer(req, res, bodyTooLarge(maxBodyBytes), requestId);
      return true;
    }
    const ac = new Cancellation();
    res.on('close', () => {
      if (!res.writableFinished) ac.abort();
    });

    let params: BodyParams;
    try {
      params = JSON.parse(body.toString('utf8')) as BodyParams;
    } catch {
      await viaYoga(req, res, body, requestId, ac.signal, serverTrace);
      return true;
    }
    if (!isPlainRequest(params)) {
      await viaYoga(req, res, body, requestId, ac.signal, serverTrace);
      return true;
    }

    let principal;
    try {
      principal = await authenticate(services.keys, req.headers.authorization);
    } catch {
      await viaYoga(req, res, body, requestId, ac.signal, serverTrace);
      return true;
    }

    // Headers built only if a plugin asks: the context gets the request id and principal directly
    const request = new FastRequest(req, ac);
    const graphqlParams: GraphqlParams = {
      query: params.query,
      variables: (params.variables ?? undefined) as Record<string, unknown> | undefined,
      operationName: (params.operationName ?? undefined) as string | undefined,
      extensions: params.extensions as Record<string, unknown> | undefined,
    };
    // only queries and mutations are kept ready, and they go out as JSON
    const known = type && ready.get(graphqlParams.query)?.get(graphqlParams.operationName);
    if (known) {
      answer(res, type, await runDirect(known, request, graphqlParams, requestId, principal, serverTrace), requestId);
      return true;
    }

    const { schema, parse, validate, contextFactory, execute, subscribe } = yoga.getEnveloped({
      request,
      params: graphqlParams,
      requestId,
      principal,
      serverTrace,
    } as never);

    let document;
    try {
      document = parse(graphqlParams.query);
    } catch (e) {
      // answered here: parsing again in Yoga would count an armor refusal (token limit) twice
      if (!(e instanceof GraphQLError)) throw e;
      if (!type) return refuseSse(req, res, { errors: [e] }, requestId);
      send(res, type, type === GRAPHQL_RESPONSE ? 400 : 200, withRequestId(withErrorCodes({ errors: [e] }, requestId), requestId));
      return true;
    }
    const operation = getOperationAST(document, graphqlParams.operationName);
    const subscription = operation?.operation === 'subscription';
    if (!operation || subscription !== sse || usesIncrementalDelivery(document)) {
      await viaYoga(req, res, body, requestId, ac.signal, serverTrace);
      return true;
    }
    // a document that passed once passes again: the schema, the rules and the armor limits are fixed for the
    // process, and the parse cache hands back the same document object for the same text. Skipping the hooks
    // saves Yoga rebuilding its rule-set cache key (a name per rule) and every plugin's closures per request.
    if (!validated.has(document)) {
      // answered here, not by Yoga: validating twice would count an armor refusal twice
      const invalid = validate(schema, document);
      if (invalid.length) {
        if (!type) return refuseSse(req, res, { errors: invalid }, requestId);
        send(res, type, type === GRAPHQL_RESPONSE ? 400 : 200, withRequestId(withErrorCodes({ errors: invalid }, requestId), requestId));
        return true;
      }
      validated.add(document);
    }

    if (!type) {
      const contextValue = await contextFactory();
      const result = (await subscribe({
        schema,
        document,
        variableValues: graphqlParams.variables,
        operationName: graphqlParams.operationName,
        contextValue,
      })) as ExecutionResult | AsyncIterable<ExecutionResult>;
      if (!isAsyncIterable(result)) return refuseSse(req, res, result, requestId);
      // the first result names the request (useRequestId); errors in events already carry their codes (useStreamErrors)
      let named = false;
      await writeSse(req, res, result, { status: 200, headers: {} }, (r) => {
        if (named) return resultJson(r);
        named = true;
        return resultJson(withRequestId(r, requestId));
      });
      return true;
    }

    const prepared = prepare(schema, document, operation, graphqlParams.query, graphqlParams.operationName);
    if (prepared) {
      answer(res, type, await runDirect(prepared, request, graphqlParams, requestId, principal, serverTrace), requestId);
      return true;
    }

    const contextValue = await contextFactory();
    const result = (await execute({
      schema,
      document,
      variableValues: graphqlParams.variables,
      operationName: graphqlParams.operationName,
      contextValue,
    })) as ExecutionResult;
    if (isAsyncIterable(result)) throw new Error('a document with @defer or @stream reached the fast path');
    answer(res, type, result, requestId);
    return true;
  };
  return Object.assign(handle, { enabled: support !== undefined });
}

/** A subscription that did not start (or a document refused) as GraphQL over SSE: one `next` event with the errors. */
async function refuseSse(req: IncomingMessage, res: ServerResponse, result: ExecutionResult, requestId: string): Promise<true> {
  const coded = withRequestId(withErrorCodes(result, requestId), requestId);
  // Yoga's SSE processor reads the errors' statuses as for application/json: the spec's 4xx hints do not count
  await writeSse(req, res, coded, statusOf(coded, true), resultJson);
  return true;
}

/** An execution's result, with the status and headers Yoga gives it (its result processor's rule, see statusOf). */
function answer(res: ServerResponse, type: string, result: ExecutionResult, requestId: string): void {
  const coded = withRequestId(withErrorCodes(result, requestId), requestId);
  const { status, headers } = statusOf(coded, type !== GRAPHQL_RESPONSE);
  send(res, type, status, coded, headers);
}

/**
 * graphql-yoga's status for an execution result (getResponseInitByRespectingErrors, not exported): the highest
 * `extensions.http.status` of its errors (for application/json, spec-only statuses do not count), else 500 when an
 * unexpected error left no `data` key, else 200; `extensions.http.headers` (a retry-after) become response headers.
 */
function statusOf(result: ExecutionResult, isApplicationJson: boolean): { status: number; headers: Record<string, string> } {
  let status: number | undefined;
  let unexpected = false;
  const headers: Record<string, string> = {};
  for (const error of result.errors ?? []) {
    const http = error.extensions?.http as { status?: number; spec?: boolean; headers?: Record<string, string> } | undefined;
    if (http) {
      if (http.headers) Object.assign(headers, http.headers);
      if (isApplicationJson && http.spec) continue;
      if (http.status && (!status || http.status > status)) status = http.status;
    } else if (!(error instanceof GraphQLError) || error.extensions?.unexpected) {
      unexpected = true;
    }
  }
  return { status: status ?? (unexpected && !('data' in result) ? 500 : 200), headers };
}

/** A result as Yoga's serialiser writes it: its errors without the hints meant for the server. */
function resultJson(result: ExecutionResult): string {
  return JSON.stringify(result.errors?.length ? { ...result, errors: result.errors.map(toClientJson) } : result);
}

function send(res: ServerResponse, type: string, status: number, result: ExecutionResult, headers: Record<string, string> = {}): void {
  const out = resultJson(result);
  res.writeHead(status, { ...headers, 'content-type': `${type}; charset=utf-8`, 'content-length': Buffer.byteLength(out) });
  res.end(out);
}
