/*
 * One operation per root field and argument variant, for every field of Query, Mutation and Subscription the
 * schema has: nothing here names a field, so a field added to the schema is in the matrix the next run.
 */
import { getNamedType, isLeafType, parse, validate, type GraphQLObjectType, type GraphQLSchema } from 'graphql';
import { argumentVariants, nameKeyedKinds } from './argument-variants.js';
import { selectionFor } from './selection.js';
import type { Targets } from './targets.js';

export type RootKind = 'query' | 'mutation' | 'subscription';

export interface MatrixOperation {
  root: RootKind;
  field: string;
  /** What the arguments aim at. */
  label: string;
  variables: Record<string, unknown>;
  /** The operation without these fields (`Type.field`) in its selection. */
  hidden(fields: ReadonlySet<string>): string;
}

/** Object levels opened below a root field. */
const SELECTION_DEPTH = 3;

export function rootFields(schema: GraphQLSchema): Array<{ root: RootKind; type: GraphQLObjectType }> {
  const roots: Array<{ root: RootKind; type: GraphQLObjectType | null | undefined }> = [
    { root: 'query', type: schema.getQueryType() },
    { root: 'mutation', type: schema.getMutationType() },
    { root: 'subscription', type: schema.getSubscriptionType() },
  ];
  return roots.filter((r): r is { root: RootKind; type: GraphQLObjectType } => !!r.type);
}

export function matrixOperations(schema: GraphQLSchema, targets: Targets): MatrixOperation[] {
  const out: MatrixOperation[] = [];
  const nameKeyed = nameKeyedKinds(rootFields(schema).map((r) => r.type), targets);
  for (const { root, type } of rootFields(schema)) {
    for (const field of Object.values(type.getFields())) {
      const named = getNamedType(field.type);
      for (const variant of argumentVariants(field, targets, nameKeyed)) {
        const used = field.args.filter((a) => a.name in variant.args);
        const defs = used.map((a) => `$${a.name}: ${String(a.type)}`).join(', ');
        const bindings = used.map((a) => `${a.name}: $${a.name}`).join(', ');
        const hidden = (fields: ReadonlySet<string>) => {
          const selection = isLeafType(named) ? '' : ` { ${selectionFor(schema, named, SELECTION_DEPTH, fields)} }`;
          const query = `${root} Matrix_${field.name}${defs ? `(${defs})` : ''} { ${field.name}${bindings ? `(${bindings})` : ''}${selection} }`;
          const problems = validate(schema, parse(query));
          if (problems.length) throw new Error(`generated an invalid operation for ${root} ${field.name}: ${problems.map((p) => p.message).join('; ')}\n${query}`);
          return query;
        };
        hidden(new Set()); // validated now: a field the generator cannot call fails here, by name
        out.push({ root, field: field.name, label: variant.label, variables: variant.args, hidden });
      }
    }
  }
  return out;
}
