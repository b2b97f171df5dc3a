/* Imports every domain (they register by side effect) and builds the schema once. */
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { builder } from './builder.js';
import './scalars.js';
import './enums.js';
import './invocation.js';
import './catalogue.js';
import './keys.js';
import './usage.js';
import './prompts.js';

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});

export const schema: GraphQLSchema = builder.toSchema();

export function printedSchema(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
