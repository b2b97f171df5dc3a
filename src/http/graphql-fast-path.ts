/*
 * POST /graphql with a JSON body and a JSON answer, run straight through Yoga's envelop pipeline
 * (the same parse/validate caches, armor rules, masking, warnings and context factory as every other
 * transport — what graphql-ws does too), without the Fetch-API request/response layer, which cost as much
 * CPU per chat as the whole gateway core. Anything unusual (subscriptions, batching, bad JSON, a refused
 * document, a bad key, other Accept types, CORS) is handed to Yoga itself, so its answers stay the reference.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getOperationAST, GraphQLError, type DocumentNode, type ExecutionResult } from 'graphql';
import { isAsyncIterable } from 'graphql-yoga';
import type { Services } from '../context.js';
import { Cancellation, toAbortSignal, type CancelSignal } from '../util/cancellation.js';
import { authenticate } from './auth.js';
import { withErrorCodes } from './plugins/use-error-codes.js';
import type { GatewayYoga } from './yoga.js';

const GRAPHQL_RESPONSE = 'application/graphql-response+json';

/** The media type to answer with, or undefined to let Yoga negotiate. */
function answerType(accept: string | undefined): string | undefined {
  if (!accept) return undefined;
  const first = accept.split(',')[0].split(';')[0].trim();
  if (first === GRAPHQL_RESPONSE || first === 'application/json') return first;
  return undefined;
}

/**
 * The whole body, or undefined past `max` (the rest is left unread: the 413 closes the connection). Plain
 * events rather than `for await`: the stream's async iterator costs more than the read for a small body.
 */
function readBody(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > max) {
        cleanup();
        resolve(undefined);
        return;
      }
      chunks.push(c);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onClose = () => {
      if (!req.complete) onError(new Error('the request body was cut off'));
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

function headersOf(req: IncomingMessage): Headers {
  const h = new Headers();
  for (const [k, v] of Object.entries(req.headers)) {
    if (typeof v === 'string') h.set(k, v);
    else if (Array.isArray(v)) for (const x of v) h.append(k, x);
  }
  return h;
}

export type FastPath = (req: IncomingMessage, res: ServerResponse, requestId: string) => Promise<boolean>;

export function createGraphqlFastPath(yoga: GatewayYoga, services: Services, maxBodyBytes: number): FastPath {
  /** Documents (by identity, from Yoga's parse cache) that passed validation. */
  const validated = new WeakSet<DocumentNode>();
  /** The body is already read: Yoga answers from a rebuilt Fetch request. */
  async function viaYoga(req: IncomingMessage, res: ServerResponse, body: Buffer, requestId: string, signal: CancelSignal): Promise<void> {
    const fetchWithContext = yoga.fetch as unknown as (url: string, init: RequestInit, ctx: { requestId: string }) => Promise<Response>;
    const response = await fetchWithContext(
      `http://${req.headers.host ?? 'localhost'}${req.url}`,
      { method: 'POST', headers: headersOf(req), body: new Uint8Array(body), signal: toAbortSignal(signal) },
      { requestId },
    );
    const out = Buffer.from(await response.arrayBuffer());
    const headers: Record<string, string> = {};
    response.headers.forEach((v, k) => (headers[k] = v));
    headers['content-length'] = String(out.length);
    res.writeHead(response.status, headers);
    res.end(out);
  }

  return async (req, res, requestId) => {
    if (req.method !== 'POST' || req.url !== yoga.graphqlEndpoint || req.headers.origin) return false;
    if (!req.headers['content-type']?.startsWith('application/json')) return false;
    const type = answerType(req.headers.accept);
    if (!type) return false;

    const body = await readBody(req, maxBodyBytes);
    if (!body) {
      res.writeHead(413, { 'content-type': 'application/json', connection: 'close' });
      res.end(JSON.stringify({ errors: [{ message: `Request body larger than ${maxBodyBytes} bytes`, extensions: { code: 'BAD_USER_INPUT', requestId } }] }));
      return true;
    }
    const ac = new Cancellation();
    res.on('close', () => {
      if (!res.writableFinished) ac.abort();
    });

    let params: { query?: unknown; variables?: unknown; operationName?: unknown; extensions?: unknown };
    try {
      params = JSON.parse(body.toString('utf8')) as typeof params;
    } catch {
      await viaYoga(req, res, body, requestId, ac.signal);
      return true;
    }
    if (
      !params || typeof params !== 'object' || Array.isArray(params) || typeof params.query !== 'string' ||
      (params.variables != null && (typeof params.variables !== 'object' || Array.isArray(params.variables))) ||
      (params.operationName != null && typeof params.operationName !== 'string')
    ) {
      await viaYoga(req, res, body, requestId, ac.signal);
      return true;
    }

    let principal;
    try {
      principal = await authenticate(services.keys, req.headers.authorization);
    } catch {
      await viaYoga(req, res, body, requestId, ac.signal);
      return true;
    }

    // Headers built only if a plugin asks: the context gets the request id and principal directly
    let headers: Headers | undefined;
    const request = {
      signal: ac.signal,
      get headers() {
        return (headers ??= headersOf(req));
      },
      method: 'POST',
      url: req.url,
    };
    const graphqlParams = {
      query: params.query,
      variables: (params.variables ?? undefined) as Record<string, unknown> | undefined,
      operationName: (params.operationName ?? undefined) as string | undefined,
      extensions: params.extensions as Record<string, unknown> | undefined,
    };
    const { schema, parse, validate, contextFactory, execute } = yoga.getEnveloped({
      request,
      params: graphqlParams,
      requestId,
      principal,
    } as never);

    let document;
    try {
      document = parse(graphqlParams.query);
    } catch (e) {
      // answered here: parsing again in Yoga would count an armor refusal (token limit) twice
      if (!(e instanceof GraphQLError)) throw e;
      send(res, type, type === GRAPHQL_RESPONSE ? 400 : 200, withErrorCodes({ errors: [e] }, requestId));
      return true;
    }
    const operation = getOperationAST(document, graphqlParams.operationName);
    if (!operation || operation.operation === 'subscription') {
      await viaYoga(req, res, body, requestId, ac.signal);
      return true;
    }
    // a document that passed once passes again: the schema, the rules and the armor limits are fixed for the
    // process, and the parse cache hands back the same document object for the same text. Skipping the hooks
    // saves Yoga rebuilding its rule-set cache key (a name per rule) and every plugin's closures per request.
    if (!validated.has(document)) {
      // answered here, not by Yoga: validating twice would count an armor refusal twice
      const invalid = validate(schema, document);
      if (invalid.length) {
        send(res, type, type === GRAPHQL_RESPONSE ? 400 : 200, withErrorCodes({ errors: invalid }, requestId));
        return true;
      }
      validated.add(document);
    }

    const contextValue = await contextFactory();
    let result = (await execute({
      schema,
      document,
      variableValues: graphqlParams.variables,
      operationName: graphqlParams.operationName,
      contextValue,
    })) as ExecutionResult;
    if (isAsyncIterable(result)) throw new Error('incremental delivery is not enabled on this server');
    result = withErrorCodes(result, requestId);
    // a request error (e.g. variables that do not coerce) leaves no data: 4xx for the GraphQL response type
    send(res, type, type === GRAPHQL_RESPONSE && result.data === undefined ? 400 : 200, result);
    return true;
  };
}

function send(res: ServerResponse, type: string, status: number, result: ExecutionResult): void {
  const payload = result.errors?.length
    ? { ...result, errors: result.errors.map((e) => ({ ...e.toJSON(), extensions: withoutHttp(e.extensions) })) }
    : result;
  const out = JSON.stringify(payload);
  res.writeHead(status, { 'content-type': `${type}; charset=utf-8`, 'content-length': Buffer.byteLength(out) });
  res.end(out);
}

/** Yoga's internal status hints are for the server, not the client. */
function withoutHttp(ext: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!ext || !('http' in ext)) return ext;
  const { http: _http, ...rest } = ext;
  return rest;
}
