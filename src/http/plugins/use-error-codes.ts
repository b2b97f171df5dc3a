/* Every error leaves with an extensions.code: GraphQL's own (parse, validation, variables, bad JSON) become BAD_USER_INPUT. */
import { GraphQLError, type ExecutionResult } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';

/** Yoga's own codes for a request the client got wrong (bad JSON, parse or validation failure): all BAD_USER_INPUT here. */
const YOGA_CLIENT_CODES = new Set(['BAD_REQUEST', 'GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED']);

export function withErrorCode(err: GraphQLError, requestId?: string): GraphQLError {
  const ext = err.extensions ?? {};
  const yogaClientError = typeof ext.code === 'string' && YOGA_CLIENT_CODES.has(ext.code);
  if (typeof ext.code === 'string' && !yogaClientError && (!requestId || ext.requestId)) return err;
  // errors GraphQL raises itself (no originalError) are about the request the client sent
  const code =
    yogaClientError ? 'BAD_USER_INPUT'
    : typeof ext.code === 'string' ? ext.code
    : err.originalError && !(err.originalError instanceof GraphQLError) ? 'INTERNAL_SERVER_ERROR'
    : 'BAD_USER_INPUT';
  return new GraphQLError(err.message, {
    nodes: err.nodes,
    source: err.source,
    positions: err.positions,
    path: err.path,
    originalError: err.originalError,
    extensions: { ...ext, code, ...(requestId ? { requestId } : {}) },
  });
}

export function withErrorCodes<T extends ExecutionResult>(result: T, requestId?: string): T {
  if (!result.errors?.length) return result;
  return { ...result, errors: result.errors.map((e) => withErrorCode(e instanceof GraphQLError ? e : new GraphQLError(String((e as Error).message ?? e)), requestId)) };
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
