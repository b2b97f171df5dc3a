/*
 * Arguments for any root field, generated from its argument types, aimed at team B:
 * - ID arguments get B's ids of the type the argument (or else the field) names, or failing that every B id in turn;
 * - String arguments get B's names of the kind the argument (or else the field) names, or failing that every B name;
 * - input objects get their required fields filled (the caller's own values), and one variant per optional field
 *   that can aim at B (an ID anywhere; a String named like a kind of B's names, in filters);
 * - optional enum arguments (groupBy, status) get one variant per value, since each reads B's data a different way;
 * - the rest gets small valid values. HINTS is the one override table, for fields whose valid value a type cannot tell.
 */
import {
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputField,
  type GraphQLInputObjectType,
  type GraphQLInputType,
} from 'graphql';
import { A_MARKER, type Targets } from './targets.js';

/** The caller's own values for fields whose type alone does not give a valid one (by field name). */
const HINTS: Record<string, unknown> = {
  model: 'echo',
  provider: 'echo',
  upstreamModel: 'echo',
  role: 'USER',
  content: `${A_MARKER} says hello`,
  interval: 'HOUR',
  url: `https://${A_MARKER.toLowerCase()}.invalid/hook`,
  reason: `${A_MARKER} would like it`,
};
/** Optional by type, needed by rule: a message without content is refused. */
const FILL_WHEN_OPTIONAL = new Set(['content']);

export interface Variant {
  /** What this variant aims at, for the summary. */
  label: string;
  args: Record<string, unknown>;
}

/** Most variants one field gets: every B id of an unnamed type, each enum value, each aiming filter field. */
const MAX_VARIANTS = 24;

type Field = GraphQLField<unknown, unknown>;
/** Where a value goes: a root field's argument, a field of an input object, a field of a filter input. */
type Place = 'argument' | 'input' | 'filter';

const isRequired = (a: GraphQLArgument | GraphQLInputField) => isNonNullType(a.type) && a.defaultValue === undefined;

interface Valued {
  label: string;
  value: unknown;
}

/**
 * @param nameKeyed kinds whose name identifies the object (some root field takes it as `name:`, as `prompt(name:)`):
 *   creating one under B's name must be refused. Other names (a key's) are labels anyone may repeat.
 */
export function argumentVariants(field: Field, targets: Targets, nameKeyed: ReadonlySet<string>): Variant[] {
  const fill = new ArgumentFiller(targets, field.name, nameKeyed);
  const base: Record<string, unknown> = {};
  const baseLabels: string[] = [];
  const aimed: Variant[] = [];
  for (const arg of field.args) {
    const required = isRequired(arg);
    const values = fill.values(arg.name, arg.type, required, 'argument');
    if (required) {
      base[arg.name] = values[0].value;
      baseLabels.push(`${arg.name}=${values[0].label}`);
    }
    for (const v of required ? values.slice(1) : values) aimed.push({ label: `${arg.name}=${v.label}`, args: { [arg.name]: v.value } });
  }
  // the same writes aimed at B through an input, on the caller's own object: `updateApiKey(id: <A's key>, input: { team: <B> })`
  const own = Object.fromEntries(field.args.filter((a) => isRequired(a) && getNamedType(a.type).name === 'ID').flatMap((a) => {
    const id = fill.ownIdFor(a.name);
    return id ? [[a.name, id]] : [];
  }));
  if (Object.keys(own).length) {
    for (const v of [...aimed]) {
      if (v.label.includes('{') && v.label.includes('B ')) aimed.push({ label: `${Object.keys(own).join(',')}=A's own, ${v.label}`, args: { ...v.args, ...own } });
    }
  }
  const variants = [{ label: baseLabels.join(', ') || 'no arguments', args: base }, ...aimed.map((v) => ({ label: v.label, args: { ...base, ...v.args } }))];
  return variants.slice(0, MAX_VARIANTS);
}

class ArgumentFiller {
  private counter = 0;
  constructor(
    private readonly targets: Targets,
    private readonly fieldName: string,
    private readonly nameKeyed: ReadonlySet<string>,
  ) {}

  /**
   * Values for one argument or input field: for a required one, first the value a plain call uses, then the
   * others aiming at B; for an optional one, only the values aiming at B (none: it is left out).
   */
  values(name: string, type: GraphQLInputType, required: boolean, place: Place): Valued[] {
    const inner = isNonNullType(type) ? type.ofType : type;
    if (isListType(inner)) {
      const item = inner.ofType as GraphQLInputType;
      if (getNamedType(item).name === 'ID') {
        const ids = this.idsFor(name, place);
        return [{ label: `[${ids.length} B ids]`, value: ids }];
      }
      if (!required) return [];
      const first = this.values(name, item, true, place)[0];
      return [{ label: `[${first.label}]`, value: [first.value] }];
    }
    const named = getNamedType(inner);
    if (named.name === 'ID') return this.idsFor(name, place).map((id) => ({ label: `B ${this.typeOf(id)}`, value: id }));
    if (named.name === 'String' && place !== 'input' && !(required && place === 'filter')) {
      const names = this.namesFor(name, place === 'argument', required);
      if (names.length) return names.map((n) => ({ label: `"${n}"`, value: n }));
    }
    if (isInputObjectType(named)) {
      const variants = this.inputVariants(named);
      return required ? variants : variants.slice(1);
    }
    if (!required && !FILL_WHEN_OPTIONAL.has(name)) {
      return isEnumType(named) && place === 'argument' ? named.getValues().map((v) => ({ label: v.name, value: v.name })) : [];
    }
    return [{ label: 'own value', value: this.ownValue(name, named.name, isEnumType(named) ? named.getValues()[0]?.name : undefined) }];
  }

  /** A's own object of the type a root field's ID argument names (see idsFor), if A has one. */
  ownIdFor(argName: string): string | undefined {
    const type = this.idType(argName, 'argument');
    return type ? this.targets.ownIdByType.get(type) : undefined;
  }

  /**
   * The input with its required fields filled, then one variant per optional field that aims at B, and one per
   * B name for its `name` (creating an object under B's name: a new version of B's prompt, say).
   */
  private inputVariants(type: GraphQLInputObjectType): Valued[] {
    const place: Place = type.name.endsWith('Filter') ? 'filter' : 'input';
    const plain: Record<string, unknown> = {};
    const optional: GraphQLInputField[] = [];
    for (const f of Object.values(type.getFields())) {
      if (isRequired(f) || FILL_WHEN_OPTIONAL.has(f.name)) plain[f.name] = this.values(f.name, f.type, true, place)[0]?.value;
      else optional.push(f);
    }
    const out: Valued[] = [{ label: `{${Object.keys(plain).join(',')}}`, value: plain }];
    for (const f of optional) {
      for (const v of this.values(f.name, f.type, false, place)) out.push({ label: `{${f.name}: ${v.label}}`, value: { ...plain, [f.name]: v.value } });
    }
    const kind = place === 'input' && 'name' in type.getFields() ? mentionedKind(this.fieldName, [...this.nameKeyed]) : undefined;
    for (const n of kind ? (this.targets.namesByKind.get(kind) ?? []) : []) out.push({ label: `{name: B's "${n}"}`, value: { ...plain, name: n } });
    return out;
  }

  private ownValue(name: string, scalar: string, firstEnumValue: string | undefined): unknown {
    if (name in HINTS) return HINTS[name];
    if (firstEnumValue !== undefined) return firstEnumValue;
    switch (scalar) {
      case 'Int':
        return 1;
      case 'Float':
        return 0.5;
      case 'Boolean':
        return false;
      case 'DateTime':
        return new Date(Date.now() + 30 * 86_400_000).toISOString();
      case 'JSON':
        return {};
      default:
        return `${A_MARKER}-${this.fieldName}-${++this.counter}`;
    }
  }

  /**
   * B's ids of the type the argument names (`apiKeyId`, `team`), else (for a root field's `id`) the type the field
   * names (`revokeApiKey`), else every B id.
   */
  private idsFor(argName: string, place: Place): string[] {
    const type = this.idType(argName, place);
    const ids = type ? this.targets.idsByType.get(type)! : this.targets.allIds();
    return ids.length ? ids : ['Tm9uZTowMDAw'];
  }

  private idType(argName: string, place: Place): string | undefined {
    const kinds = [...this.targets.idsByType.keys()];
    return kindNamed(argName.replace(/Ids?$/, ''), kinds) ?? (place === 'argument' && /^ids?$/.test(argName) ? mentionedKind(this.fieldName, kinds) : undefined);
  }

  /** B's names of the kind the argument names (`user`), else (a root field's `name`) the kind the field names; else all, or none. */
  private namesFor(argName: string, isArgument: boolean, fallBackToAll: boolean): string[] {
    const kinds = [...this.targets.namesByKind.keys()];
    const kind = kindNamed(argName, kinds) ?? (isArgument && /^names?$/.test(argName) ? mentionedKind(this.fieldName, kinds) : undefined);
    if (kind) return this.targets.namesByKind.get(kind)!;
    return fallBackToAll ? this.targets.allNames() : [];
  }

  private typeOf(id: string): string {
    for (const [type, ids] of this.targets.idsByType) if (ids.includes(id)) return type;
    return 'id';
  }
}

const kindNamed = (name: string, kinds: string[]) => kinds.find((k) => k.toLowerCase() === name.toLowerCase());

/**
 * The kind a field's name mentions: the one with the longest prefix of its name inside the field's name
 * (`approveModelAccess` → ModelAccessRequest, `revokeApiKey` → ApiKey, `runPrompt` → PromptTemplate), at least 4 letters.
 */
function mentionedKind(fieldName: string, kinds: string[]): string | undefined {
  const lower = fieldName.toLowerCase();
  let best: string | undefined;
  let bestLength = 3;
  for (const kind of kinds) {
    const k = kind.toLowerCase();
    let n = k.length;
    while (n > bestLength && !lower.includes(k.slice(0, n))) n--;
    if (n > bestLength) {
      best = kind;
      bestLength = n;
    }
  }
  return best;
}

/** The kinds of B's names that root fields take as a `name:` argument (`prompt(name:)`, `runPrompt(name:)`). */
export function nameKeyedKinds(roots: ReadonlyArray<{ getFields(): Record<string, Field> }>, targets: Targets): Set<string> {
  const kinds = [...targets.namesByKind.keys()];
  const out = new Set<string>();
  for (const root of roots) {
    for (const field of Object.values(root.getFields())) {
      const kind = field.args.some((a) => a.name === 'name' && isRequired(a)) ? mentionedKind(field.name, kinds) : undefined;
      if (kind) out.add(kind);
    }
  }
  return out;
}
