/* Differences that would break a client of the public contract: every contract type, field, argument and enum value must exist in
   the printed schema with the same type, except that an output may be stricter (non-null) and an input looser. */
import {
  type GraphQLArgument,
  type GraphQLNamedType,
  type GraphQLSchema,
  type GraphQLType,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  isUnionType,
} from 'graphql';

const kindOf = (t: GraphQLNamedType): string =>
  isObjectType(t) ? 'type' : isInputObjectType(t) ? 'input' : isInterfaceType(t) ? 'interface' : isEnumType(t) ? 'enum' : isUnionType(t) ? 'union' : 'scalar';

function sameOrAllowed(got: GraphQLType, want: GraphQLType, input: boolean): boolean {
  if (String(got) === String(want)) return true;
  if (getNamedType(got).name !== getNamedType(want).name) return false;
  return input ? `${String(got)}!` === String(want) : String(got) === `${String(want)}!`;
}

export function contractDifferences(project: GraphQLSchema, contract: GraphQLSchema): string[] {
  const problems: string[] = [];
  for (const want of Object.values(contract.getTypeMap())) {
    if (want.name.startsWith('__')) continue;
    const have = project.getType(want.name);
    if (!have) {
      problems.push(`missing ${kindOf(want)} ${want.name}`);
      continue;
    }
    if (kindOf(have) !== kindOf(want)) {
      problems.push(`${want.name}: is a ${kindOf(have)}, contract says ${kindOf(want)}`);
      continue;
    }
    if (isEnumType(want) && isEnumType(have)) {
      const values = new Set(have.getValues().map((v) => v.name));
      for (const v of want.getValues()) if (!values.has(v.name)) problems.push(`enum ${want.name}: missing value ${v.name}`);
      continue;
    }
    if (!(isObjectType(want) || isInputObjectType(want) || isInterfaceType(want))) continue;
    if (!(isObjectType(have) || isInputObjectType(have) || isInterfaceType(have))) continue;
    const input = isInputObjectType(want);
    const haveFields = have.getFields();
    for (const [name, field] of Object.entries(want.getFields())) {
      const got = haveFields[name];
      if (!got) {
        problems.push(`${want.name}.${name}: missing`);
        continue;
      }
      if (!sameOrAllowed(got.type, field.type, input)) problems.push(`${want.name}.${name}: type ${String(got.type)}, contract says ${String(field.type)}`);
      const wantArgs: readonly GraphQLArgument[] = 'args' in field ? field.args : [];
      const gotArgs: readonly GraphQLArgument[] = 'args' in got ? got.args : [];
      for (const arg of wantArgs) {
        const gotArg = gotArgs.find((a) => a.name === arg.name);
        if (!gotArg) problems.push(`${want.name}.${name}(${arg.name}): missing argument`);
        else if (!sameOrAllowed(gotArg.type, arg.type, true)) problems.push(`${want.name}.${name}(${arg.name}): type ${String(gotArg.type)}, contract says ${String(arg.type)}`);
      }
      for (const gotArg of gotArgs) {
        const declared = wantArgs.some((a) => a.name === gotArg.name);
        if (!declared && String(gotArg.type).endsWith('!') && gotArg.defaultValue === undefined) {
          problems.push(`${want.name}.${name}(${gotArg.name}): extra required argument breaks contract calls`);
        }
      }
    }
  }
  return problems;
}
