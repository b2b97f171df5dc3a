/* The usage connection, one page of records with the cursors either way. */
import { graphql } from '../graphql';
import { UsageRecordFields } from './record';

export const UsagePageQuery = graphql(
  `
    query ConsoleUsagePage($filter: UsageFilter, $first: Int, $after: String, $last: Int, $before: String) {
      usage(filter: $filter, first: $first, after: $after, last: $last, before: $before) {
        edges {
          node {
            ...UsageRecordFields
          }
        }
        pageInfo {
          hasNextPage
          hasPreviousPage
          startCursor
          endCursor
        }
      }
    }
  `,
  [UsageRecordFields],
);
