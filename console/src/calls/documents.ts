/* The call log's GraphQL documents: a call's row in the list, the list a page at a time, and one call in full. */
import { graphql, type ResultOf, type VariablesOf } from '../graphql';

export const CallRowFields = graphql(`
  fragment CallRowFields on Invocation {
    id
    createdAt
    model
    status
    level
    apiKey {
      id
      name
    }
    usageRecord {
      id
      latencyMs
    }
    attempts {
      attempt
    }
  }
`);

export const CallsPageQuery = graphql(
  `
    query ConsoleCallsPage($filter: InvocationFilter, $first: Int, $after: String) {
      invocations(filter: $filter, first: $first, after: $after) {
        edges {
          node {
            ...CallRowFields
          }
        }
        pageInfo {
          hasNextPage
          endCursor
        }
      }
    }
  `,
  [CallRowFields],
);

export const CallAttemptFields = graphql(`
  fragment CallAttemptFields on InvocationAttempt {
    attempt
    model
    provider
    upstreamModel
    startMs
    waitMs
    ttfbMs
    durationMs
    status
    outcome
    error
  }
`);

export const CallDetailsQuery = graphql(
  `
    query ConsoleCallDetails($id: ID!) {
      invocation(id: $id) {
        id
        requestId
        traceId
        createdAt
        level
        model
        status
        parameters
        request
        response
        bodyBytes
        truncated
        apiKey {
          id
          name
          prefix
        }
        usageRecord {
          id
          provider
          upstreamModel
          errorCode
          streamed
          latencyMs
          ttftMs
          promptTokens
          completionTokens
          costUsd
        }
        attempts {
          ...CallAttemptFields
        }
      }
    }
  `,
  [CallAttemptFields],
);

export type CallRow = ResultOf<typeof CallRowFields>;
export type CallFilter = NonNullable<VariablesOf<typeof CallsPageQuery>['filter']>;
export type CallAttempt = ResultOf<typeof CallAttemptFields>;
export type CallDetails = NonNullable<ResultOf<typeof CallDetailsQuery>['invocation']>;
