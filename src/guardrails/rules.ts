/*
 * A policy's rules, as GraphQL takes them (GuardrailRules) and as the guardrail_policies jsonb columns keep them:
 * one zod schema reads both, so a value stored by an older version is read by the same rules as a new one.
 */
import { z } from 'zod';
import { badInput } from '../errors.js';
import { compileDenyList } from './deny-list.js';
import { compileJsonSchema } from './json-schema.js';
import { PII_KINDS } from './pii/span.js';

export const GUARDRAIL_ACTIONS = ['REDACT', 'BLOCK'] as const;
export type GuardrailAction = (typeof GUARDRAIL_ACTIONS)[number];

const action = z.enum(GUARDRAIL_ACTIONS);
const nonEmptyText = z.string().min(1, 'must not be empty').refine((s) => !s.includes('\u0000'), 'must not contain NUL (U+0000) characters');

const piiRule = z.object({
  kinds: z.array(z.enum(PII_KINDS)).min(1, 'name at least one kind'),
  action,
  restore: z.boolean().nullish().transform((v) => v ?? false),
});

const denyListRule = z.object({
  words: z.array(nonEmptyText).max(10_000).nullish().transform((v) => v ?? []),
  patterns: z.array(nonEmptyText.pipe(z.string().max(1000))).max(200).nullish().transform((v) => v ?? []),
  action,
});

const rulesSchema = z.object({
  pii: piiRule.nullish().transform((v) => v ?? null),
  denyList: denyListRule.nullish().transform((v) => v ?? null),
  maxInputTokens: z.number().int().positive().nullish().transform((v) => v ?? null),
  jsonSchema: z.record(z.string(), z.unknown()).nullish().transform((v) => v ?? null),
});

export type GuardrailRules = z.infer<typeof rulesSchema>;
export type GuardrailStage = 'INPUT' | 'OUTPUT';

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `.${String(p)}`;
  return out;
}

/**
 * Reads rules for `stage`, or null for none; anything wrong (shape, an invalid deny pattern or JSON schema, a rule
 * the stage has no use for) is a BAD_USER_INPUT naming the field under `field`.
 */
export function parseGuardrailRules(value: unknown, field: string, stage: GuardrailStage): GuardrailRules | null {
  if (value === null || value === undefined) return null;
  const r = rulesSchema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw badInput(`${field}${formatPath(issue.path)}`, issue.message);
  }
  const rules = r.data;
  if (stage === 'INPUT' && rules.jsonSchema) throw badInput(`${field}.jsonSchema`, 'applies to output rules only');
  if (stage === 'OUTPUT' && rules.maxInputTokens !== null) throw badInput(`${field}.maxInputTokens`, 'applies to input rules only');
  if (stage === 'OUTPUT' && rules.pii?.restore) throw badInput(`${field}.pii.restore`, 'set restore on the input PII rule: it gives the answer back the values the prompt had redacted');
  if (rules.denyList) compileDenyList(rules.denyList.words, rules.denyList.patterns, `${field}.denyList`);
  if (rules.jsonSchema) compileJsonSchema(rules.jsonSchema, `${field}.jsonSchema`);
  return rules;
}
