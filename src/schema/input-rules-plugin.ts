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
type Mapping = InputFieldsMapping<SchemaTypes, Rule>;

const RULE_OF_SCALAR: Record<string, Rule> = { String: 'text', ID: 'text', JSON: 'json' };

function checkValue(value: unknown, rule: Rule, path: Array<string | number>): void {
  if (rule === 'text') {
    if (typeof value === 'string' && !isStorableText(value)) throw badInput(pathText(path), TEXT_RULE);
  } else if (nestsDeeperThan(value)) {
    throw badInput(pathText(path), JSON_DEPTH_RULE);
  }
}

/** Walks list levels down to the values themselves; `path` grows and shrinks in place. */
function checkList(value: unknown, listDepth: number, path: Array<string | number>, each: (v: unknown) => void): void {
  if (value == null) return;
  if (listDepth === 0 || !Array.isArray(value)) return each(value);
  for (let i = 0; i < value.length; i++) {
    path.push(i);
    checkList(value[i], listDepth - 1, path, each);
    path.pop();
  }
}

function checkFields(obj: Record<string, unknown>, map: Mapping, path: Array<string | number>): void {
  for (const [name, field] of map) {
    const value = obj[name];
    if (value == null) continue;
    path.push(name);
    if (field.kind === 'InputObject') {
      const nested = field.fields.map;
      if (nested) checkList(value, field.listDepth, path, (v) => checkFields(v as Record<string, unknown>, nested, path));
    } else {
      checkList(value, field.listDepth, path, (v) => checkValue(v, field.value, path));
    }
    path.pop();
  }
}

function pathText(path: Array<string | number>): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${p}` : p;
  return out;
}

export class InputRulesPlugin<Types extends SchemaTypes> extends BasePlugin<Types> {
  override wrapResolve(
    resolver: GraphQLFieldResolver<unknown, Types['Context'], object>,
    fieldConfig: PothosOutputFieldConfig<Types>,
  ): GraphQLFieldResolver<unknown, Types['Context'], object> {
    const map = this.argumentRules(fieldConfig);
    if (!map) return resolver;
    return (parent, args, ctx, info) => {
      checkFields(args as Record<string, unknown>, map, []);
      return resolver(parent, args, ctx, info);
    };
  }

  override wrapSubscribe(
    subscribe: GraphQLFieldResolver<unknown, Types['Context'], object> | undefined,
    fieldConfig: PothosOutputFieldConfig<Types>,
  ): GraphQLFieldResolver<unknown, Types['Context'], object> | undefined {
    const map = subscribe && this.argumentRules(fieldConfig);
    if (!subscribe || !map) return subscribe;
    return (parent, args, ctx, info) => {
      checkFields(args as Record<string, unknown>, map, []);
      return subscribe(parent, args, ctx, info);
    };
  }

  /** Where in this field's arguments a rule applies; null when nowhere (no wrapper at all then). */
  private argumentRules(fieldConfig: PothosOutputFieldConfig<Types>): Mapping | null {
    const map = mapInputFields(fieldConfig.args, this.buildCache, (input) => {
      const type = resolveInputTypeConfig(input.type, this.buildCache);
      return type.kind === 'Scalar' ? (RULE_OF_SCALAR[type.name] ?? null) : null;
    });
    return map as Mapping | null;
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
