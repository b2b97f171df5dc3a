/* Issue 26 review 18: the call log's GraphQL descriptions say only what the gateway does. */
import { GraphQLEnumType } from 'graphql';
import { describe, expect, it } from 'vitest';
import { schema } from '../../src/schema/index.js';

describe('AttemptOutcome', () => {
  it('CANCELLED names only what can cancel an attempt (the executor runs no parallel attempts that could win)', () => {
    const outcome = schema.getType('AttemptOutcome');
    expect(outcome).toBeInstanceOf(GraphQLEnumType);
    const description = (outcome as GraphQLEnumType).getValue('CANCELLED')?.description ?? '';
    expect(description).toMatch(/client/i);
    expect(description).not.toMatch(/another attempt|won|hedg/i);
  });
});
