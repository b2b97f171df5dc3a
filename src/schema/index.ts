/* Imports every domain (they register by side effect) and builds the schema once. */
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { builder } from './builder.js';
import './scalars.js';
import './enums.js';
import './invocation.js';
import './catalogue.js';
import './model-prices.js';
import './keys.js';
import './teams.js';
import './usage.js';
import './call-log.js';
import './prompts.js';
import './guardrails.js';
import './cache.js';
import './model-access.js';
import './budget-alerts.js';

builder.queryType({ description: 'What a key may read: models, prompt templates, keys and usage' });
builder.mutationType({ description: 'Invocations (chat, embed, runPrompt) and the ADMIN changes to providers, models, keys and prompts' });
builder.subscriptionType({ description: 'Live events over graphql-ws (websocket) or server-sent events: chat tokens and usage records' });

export const schema: GraphQLSchema = builder.toSchema();

export function printedSchema(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
