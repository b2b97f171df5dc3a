/*
 * Trusted documents (GRAPHQL_TRUSTED_DOCUMENTS, @graphql-yoga/plugin-persisted-operations): only the documents of
 * the manifest run, named by their id; a document's text is refused. The id travels as Apollo's
 * `extensions.persistedQuery.sha256Hash` or as `documentId` (the GraphQL-over-HTTP persisted documents proposal),
 * in a POST body or, for queries, in a GET query string.
 */
import { defaultExtractPersistedOperationId, usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import { createGraphQLError, type GraphQLParams, type Plugin } from 'graphql-yoga';

/** The request parameter of the persisted documents proposal, beside query, variables, operationName, extensions. */
export const DOCUMENT_ID_PARAM = 'documentId';

/** An id as it is quoted back in an error: a client's string, so cut short. */
function quoted(id: string): string {
  return JSON.stringify(id.length > 100 ? `${id.slice(0, 100)}…` : id);
}

function documentIdOf(params: GraphQLParams, request: Request): string | null {
  const fromBody = (params as GraphQLParams & { documentId?: unknown }).documentId;
  if (typeof fromBody === 'string' && fromBody) return fromBody;
  if (request.method !== 'GET') return null;
  const q = request.url.indexOf('?');
  return q < 0 ? null : new URLSearchParams(request.url.slice(q + 1)).get(DOCUMENT_ID_PARAM) || null;
}

function idOf(params: GraphQLParams, request: Request): string | null {
  return defaultExtractPersistedOperationId(params, request, {}) ?? documentIdOf(params, request);
}

/**
 * Refusals, each a 4xx:
 * - a document's text (with or without an id): PERSISTED_QUERY_ONLY, 400;
 * - an id the manifest does not list: PERSISTED_QUERY_NOT_IN_LIST, 404 (not Apollo's PersistedQueryNotFound,
 *   which would make its link send the text, only to be refused again);
 * - neither text nor id: BAD_USER_INPUT naming `documentId`, 400.
 */
export function useTrustedDocuments(documents: ReadonlyMap<string, string>): Plugin {
  return usePersistedOperations({
    getPersistedOperation: (id) => documents.get(id) ?? null,
    extractPersistedOperationId: idOf,
    customErrors: {
      persistedQueryOnly: {
        message: `Only trusted documents run on this gateway: send the document's id (${DOCUMENT_ID_PARAM}, or extensions.persistedQuery.sha256Hash), not its text`,
        extensions: { code: 'PERSISTED_QUERY_ONLY', http: { status: 400 } },
      },
      notFound: ({ params, request }) =>
        createGraphQLError(`No trusted document has the id ${quoted(idOf(params, request) ?? '')}`, {
          extensions: { code: 'PERSISTED_QUERY_NOT_IN_LIST', http: { status: 404 } },
        }),
      keyNotFound: {
        message: `Send a trusted document's id in ${DOCUMENT_ID_PARAM} (or extensions.persistedQuery.sha256Hash)`,
        extensions: { code: 'BAD_USER_INPUT', field: DOCUMENT_ID_PARAM, http: { status: 400 } },
      },
    },
  });
}
