/* Query hardening with graphql-armor: depth, aliases, directives, tokens and cost per operation; no field suggestions. */
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { GraphQLError, type ValidationContext } from 'graphql';
import type { Plugin } from 'graphql-yoga';

export interface ArmorLimits {
  /** Deepest field nesting (fragments flattened; introspection exempt). */
  maxDepth: number;
  /** Aliases per operation. */
  maxAliases: number;
  /** Directives per operation. */
  maxDirectives: number;
  /** Lexical tokens per document, counted while parsing: a huge document is cut off at token `maxTokens + 1`. */
  maxTokens: number;
  /**
   * armor's cost: 2 per object field, 1 per scalar, ×1.5 per level, × a literal `first:`/`last:` (introspection exempt).
   * The default lets the largest legitimate page through (`usage(first: 500)` with every field costs ≈45,600).
   */
  maxCost: number;
}

/** The natural depth of our schema is 5 (usage → edges → node → apiKey → id); documents are small, inputs travel in variables. */
const DEFAULT_ARMOR_LIMITS: ArmorLimits = { maxDepth: 10, maxAliases: 15, maxDirectives: 20, maxTokens: 2000, maxCost: 50_000 };

export type ArmorRule = 'maxDepth' | 'maxAliases' | 'maxDirectives' | 'maxTokens' | 'costLimit';

/** Marks the errors armor raises, so they are counted wherever they surface (even from Yoga's validation cache). */
const RULE = Symbol('armorRule');
type Tagged = GraphQLError & { [RULE]?: ArmorRule };

/**
 * Over-limit operations are refused before execution with one error:
 * `extensions.code = "BAD_USER_INPUT"`, `extensions.limit = <rule>` and a message that names the limit
 * (e.g. "Query depth limit of 10 exceeded, found 12."). `onRejected` is called once per refused operation,
 * on HTTP, SSE and websockets alike (all run Yoga's envelop pipeline).
 */
export function useArmor(limits: ArmorLimits = DEFAULT_ARMOR_LIMITS, onRejected?: (rule: ArmorRule) => void): Plugin {
  const tag = (rule: ArmorRule) => (ctx: ValidationContext | null, err: GraphQLError) => {
    const t = err as Tagged;
    t[RULE] = rule;
    const ext = err.extensions as Record<string, unknown>;
    ext.code = 'BAD_USER_INPUT';
    ext.limit = rule;
    // armor prefixes every message with "Syntax Error:", which is wrong for all but the token limit
    if (rule !== 'maxTokens') err.message = err.message.replace(/^Syntax Error: /, '');
    // validation rules report (so validation returns the error like any other; thrown, it would bypass the
    // validation hooks and reach graphql-ws as an internal error); the token limit must throw to stop the parser
    ctx?.reportError(err);
  };
  const validation = (rule: ArmorRule) => ({ onReject: [tag(rule)], propagateOnRejection: false });
  const armor = EnvelopArmorPlugin({
    maxDepth: { n: limits.maxDepth, ignoreIntrospection: true, flattenFragments: true, ...validation('maxDepth') },
    maxAliases: { n: limits.maxAliases, ...validation('maxAliases') },
    maxDirectives: { n: limits.maxDirectives, ...validation('maxDirectives') },
    maxTokens: { n: limits.maxTokens, onReject: [tag('maxTokens')], propagateOnRejection: true },
    costLimit: { maxCost: limits.maxCost, ignoreIntrospection: true, ...validation('costLimit') },
    blockFieldSuggestion: { enabled: true },
  });
  const count = (errors: readonly unknown[]) => {
    // one count per operation, for the first limit it broke
    const hit = errors.find((e): e is Tagged => typeof e === 'object' && e !== null && (e as Tagged)[RULE] !== undefined);
    if (hit) onRejected?.(hit[RULE]!);
  };
  return {
    onPluginInit({ addPlugin }) {
      addPlugin(armor as unknown as Plugin);
    },
    onParse() {
      return ({ result }) => {
        if (result instanceof Error) count([result]);
      };
    },
    onValidate() {
      return ({ result }) => {
        if (result.length) count(result);
      };
    },
  };
}
