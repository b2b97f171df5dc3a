/*
 * Every GraphQL result names its request in extensions.requestId (as x-request-id does for HTTP), so a caller can
 * find its call in the call log (Query.invocation(id:) takes a request id). A stream (SSE subscription, @defer or
 * @stream parts) names it in its first result: the request is the same for the rest.
 */
import type { ExecutionResult } from 'graphql';
import { isAsyncIterable, mapAsyncIterator, type Plugin } from 'graphql-yoga';

export function withRequestId<T extends ExecutionResult>(result: T, requestId: string): T {
  return { ...result, extensions: { ...result.extensions, requestId } };
}

/** The same stream, its first result naming the request. */
function firstWithRequestId<T extends ExecutionResult>(source: AsyncIterable<T>, requestId: string): AsyncIterableIterator<T> {
  let named = false;
  return mapAsyncIterator(source, (r: T) => {
    if (named) return r;
    named = true;
    return withRequestId(r, requestId);
  });
}

/** Yoga's HTTP answers (graphql-ws results are named in ws.ts, per operation). */
export function useRequestId(requestIdOf: (request: Request) => string | undefined): Plugin {
  return {
    onResultProcess({ request, result, setResult }) {
      const id = requestIdOf(request);
      if (!id) return;
      if (Array.isArray(result)) setResult(result.map((r: ExecutionResult) => withRequestId(r, id)));
      else if (isAsyncIterable(result)) setResult(firstWithRequestId(result, id));
      else setResult(withRequestId(result, id));
    },
  };
}
