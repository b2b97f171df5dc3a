/* Typed GraphQL documents: gql.tada infers each document's result and variables from the schema (graphql-env.d.ts). */
import { initGraphQLTada } from 'gql.tada';
import type { introspection } from './graphql-env.d.ts';

export const graphql = initGraphQLTada<{
  introspection: introspection;
  scalars: { DateTime: string; JSON: unknown; ID: string };
}>();

export type { ResultOf, VariablesOf } from 'gql.tada';
export { readFragment } from 'gql.tada';
