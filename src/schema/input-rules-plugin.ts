/*
 * A Pothos plugin that holds every argument to the input rules of src/util/input-rules.ts before its resolver runs:
 * String and ID values are text (no NUL), JSON values are bounded in depth. The argument types are mapped once,
 * when the schema is built, so a field only walks the parts of its arguments that can hold such values, and the
 * error names the exact argument path (`input.messages[2].content`, `filter.model`).
 */
import SchemaBuilder, {
  BasePlugin,
  mapInputFields,
  resolveInputTypeConfig,
  type InputFieldsMapping,
  type PothosOutputFieldConfig,
  type SchemaTypes,
} from '@pothos/core';
import type { GraphQLFieldResolver } from 'graphql';
import { badInput } from '../errors.js';
import { JSON_DEPTH_RULE, TEXT_RULE, isStorableText, nestsDeeperThan } from '../util/input-rules.js';

type Rule = 'text' | 'json';

/** One argument or input field that holds a ruled value somewhere inside: compiled once, walked without allocating. */
interface Step {
  name: string;
  /** How many list levels wrap it (`[[String]]`: 2). */
  listDepth: number;
  rule: Rule | null;
  /** For an input object: its own steps. */
  fields: Step[] | null;
}

const RULE_OF_SCALAR: Record<string, Rule> = { String: 'text', ID: 'text', JSON: 'json' };

/** Pothos's mapping (a Map per input type, shared between the fields that use it) as arrays of steps. */
function toSteps(map: InputFieldsMapping<SchemaTypes, Rule> | null, seen = new Map<object, Step[]>()): Step[] | null {
  if (!map) return null;
  const known = seen.get(map);
  if (known) return known;
  const steps: Step[] = [];
  seen.set(map, steps);
  for (const [name, field] of map) {
    const fields = field.kind === 'InputObject' ? toSteps(field.fields.map, seen) : null;
    steps.push({ name, listDepth: field.listDepth, rule: field.kind === 'InputObject' ? null : field.value, fields });
  }
  return steps;
}

function checkFields(obj: Record<string, unknown>, steps: Step[], path: Array<string | number>): void {
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i];
    const value = obj[step.name];
    if (value == null) continue;
    path.push(step.name);
    checkValue(value, step, step.listDepth, path);
    path.pop();
  }
}

function checkValue(value: unknown, step: Step, listDepth: number, path: Array<string | number>): void {
  if (listDepth > 0 && Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      if (value[i] == null) continue;
      path.push(i);
      checkValue(value[i], step, listDepth - 1, path);
      path.pop();
    }
  } else if (step.fields) {
    checkFields(value as Record<string, unknown>, step.fields, path);
  } else if (step.rule === 'text') {
    if (typeof value === 'string' && !isStorableText(value)) throw badInput(pathText(path), TEXT_RULE);
  } else if (step.rule === 'json' && nestsDeeperThan(value)) {
    throw badInput(pathText(path), JSON_DEPTH_RULE);
  }
}

function pathText(path: Array<string | number>): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${p}` : p;
  return out;
}

class InputRulesPlugin<Types extends SchemaTypes> extends BasePlugin<Types> {
  override wrapResolve(
    resolver: GraphQLFieldResolver<unknown, Types['Context'], object>,
    fieldConfig: PothosOutputFieldConfig<Types>,
  ): GraphQLFieldResolver<unknown, Types['Context'], object> {
    const steps = this.argumentRules(fieldConfig);
    if (!steps) return resolver;
    return (parent, args, ctx, info) => {
      checkFields(args as Record<string, unknown>, steps, []);
      return resolver(parent, args, ctx, info);
    };
  }

  override wrapSubscribe(
    subscribe: GraphQLFieldResolver<unknown, Types['Context'], object> | undefined,
    fieldConfig: PothosOutputFieldConfig<Types>,
  ): GraphQLFieldResolver<unknown, Types['Context'], object> | undefined {
    const steps = subscribe && this.argumentRules(fieldConfig);
    if (!subscribe || !steps) return subscribe;
    return (parent, args, ctx, info) => {
      checkFields(args as Record<string, unknown>, steps, []);
      return subscribe(parent, args, ctx, info);
    };
  }

  /** Where in this field's arguments a rule applies; null when nowhere (no wrapper at all then). */
  private argumentRules(fieldConfig: PothosOutputFieldConfig<Types>): Step[] | null {
    const map = mapInputFields(fieldConfig.args, this.buildCache, (input): Rule | null => {
      const type = resolveInputTypeConfig(input.type, this.buildCache);
      return type.kind === 'Scalar' ? (RULE_OF_SCALAR[type.name] ?? null) : null;
    });
    return toSteps(map as InputFieldsMapping<SchemaTypes, Rule> | null);
  }
}

const pluginName = 'inputRules';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  export namespace PothosSchemaTypes {
    interface Plugins<Types extends SchemaTypes> {
      inputRules: InputRulesPlugin<Types>;
    }
  }
}

SchemaBuilder.registerPlugin(pluginName, InputRulesPlugin);

export default pluginName;
