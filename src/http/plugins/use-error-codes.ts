/* Every error leaves with an extensions.code: GraphQL's own (parse, validation, variables, bad JSON) become BAD_USER_INPUT. */
import { GraphQLError, type ExecutionResult } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import { withoutStackTrace } from '../../errors.js';

/** Yoga's own codes for a request the client got wrong (bad JSON, parse or validation failure): all BAD_USER_INPUT here. */
const YOGA_CLIENT_CODES = new Set(['BAD_REQUEST', 'GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED']);

/** An error as the client sees it: Yoga's hints for the server (`http`, `unexpected`) are dropped, as Yoga's serialiser does. */
export function toClientJson(err: GraphQLError): ReturnType<GraphQLError['toJSON']> {
  const json = err.toJSON();
  const ext = json.extensions;
  if (!ext || !('http' in ext || 'unexpected' in ext)) return json;
  const { http: _http, unexpected: _unexpected, ...rest } = ext;
  return { ...json, extensions: rest };
}

export function withErrorCode(err: GraphQLError, requestId?: string): GraphQLError {
  const ext = err.extensions ?? {};
  const yogaClientError = typeof ext.code === 'string' && YOGA_CLIENT_CODES.has(ext.code);
  // An expected error wrapped by graphql-js (a GatewayError) is not passed on as originalError: its message and
  // extensions are already here, and Yoga's serialiser would rebuild it with a fresh stack trace and format that
  // stack through the source maps, which for a burst of refusals held the event loop for seconds.
  const original = err.originalError instanceof GraphQLError ? undefined : err.originalError;
  if (typeof ext.code === 'string' && !yogaClientError && (!requestId || ext.requestId) && original === err.originalError) return err;
  // errors GraphQL raises itself (no originalError) are about the request the client sent
  const code =
    yogaClientError ? 'BAD_USER_INPUT'
    : typeof ext.code === 'string' ? ext.code
    : err.originalError && !(err.originalError instanceof GraphQLError) ? 'INTERNAL_SERVER_ERROR'
    : 'BAD_USER_INPUT';
  return rebuilt(err, original, { ...ext, code, ...(requestId ? { requestId } : {}) });
}

/** The same error (message, location, path) with other extensions; no stack trace is captured for it. */
function rebuilt(err: GraphQLError, originalError: Error | undefined, extensions: Record<string, unknown>): GraphQLError {
  return withoutStackTrace(
    () => new GraphQLError(err.message, { nodes: err.nodes, source: err.source, positions: err.positions, path: err.path, originalError, extensions }),
  );
}

/**
 * A result without a `data` key, and without a server fault in it, is a request error (variables that do not
 * coerce, say): the GraphQL over HTTP spec wants a 4xx for it under application/graphql-response+json, and 200 under application/json. Yoga's status rule
 * reads `extensions.http` ({ spec: true } is skipped for application/json), so the hint goes on each error, and
 * Yoga's serialiser (and the fast path's) removes it before the answer leaves.
 */
function asRequestError(err: GraphQLError): GraphQLError {
  // a masked server fault has no data either, and stays a 5xx
  if (err.extensions?.http || err.extensions?.unexpected || err.extensions?.code === 'INTERNAL_SERVER_ERROR') return err;
  return rebuilt(err, err.originalError, { ...err.extensions, http: { status: 400, spec: true } });
}

export function withErrorCodes<T extends ExecutionResult>(result: T, requestId?: string): T {
  if (!result.errors?.length) return result;
  const requestError = !('data' in result);
  return {
    ...result,
    errors: result.errors.map((e) => {
      const coded = withErrorCode(e instanceof GraphQLError ? e : new GraphQLError(String((e as Error).message ?? e)), requestId);
      return requestError ? asRequestError(coded) : coded;
    }),
  };
}

export function useErrorCodes(requestIdOf: (request: Request) => string | undefined): Plugin {
  return {
    onResultProcess({ request, result, setResult }) {
      const id = requestIdOf(request);
      if (Array.isArray(result)) setResult(result.map((r) => withErrorCodes(r, id)));
      else if (!isAsyncIterable(result)) setResult(withErrorCodes(result, id));
    },
  };
}
