/* The printed schema passes the schema linter (lint-schema.ts): every definition has a description. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { lintSchema } from './lint-schema.js';

const printed = readFileSync(fileURLToPath(new URL('../../schema/schema.graphql', import.meta.url)), 'utf8');

/**
 * Invocation's `id` is the invocation id itself (ChatResult.id, UsageRecord.invocationId), as issue 26's design fixes
 * it, not a global id: InvocationEdge is the one edge whose node is not a Node.
 */
const invocationEdgeNode = (() => {
  const edge = printed.split('\n').indexOf('type InvocationEdge {');
  return `${edge + 1}:6 Edge type's field \`node\` must implement \`Node\` interface. (@graphql-eslint/relay-edge-types)`;
})();

describe('schema linter', () => {
  it('finds nothing in schema/schema.graphql (the printed Pothos schema, see schema.test.ts)', async () => {
    const problems = (await lintSchema(printed)).filter((p) => p !== invocationEdgeNode);
    expect(problems, 'add a `description:` in src/schema/*.ts, then run `npm run schema:print`').toEqual([]);
    expect(printed).toContain('type Query');
  });

  it('reports each definition that lacks a description: type, field, argument, input field, enum value, scalar', async () => {
    const sdl = `
"""Reads"""
type Query {
  """One thing"""
  thing(id: ID!): Thing
}

type Thing {
  """Its name"""
  name: String
  kind: Kind
}

"""Kinds of things"""
enum Kind {
  A
  """The second kind"""
  B
}

"""A filter"""
input ThingFilter {
  name: String
}

scalar Stamp
`;
    const problems = await lintSchema(sdl);
    const missing = problems.filter((p) => p.endsWith('(@graphql-eslint/require-description)'));
    expect(missing).toHaveLength(6);
    for (const [line, name] of [[5, 'id'], [8, 'Thing'], [11, 'kind'], [16, 'A'], [23, 'name'], [26, 'Stamp']] as const) {
      expect(missing, `line ${line}: ${name}`).toContainEqual(expect.stringMatching(new RegExp(`^${line}:\\d+ .*"${name}"`)));
    }
  });
});
