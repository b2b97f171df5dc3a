/* Guardrail policies (ADMIN): named input and output rules that the keys and models naming them run on every call. */
import type { GuardrailPolicyRow } from '../db/schema.js';
import { GUARDRAIL_ACTIONS, parseGuardrailRules, type GuardrailRules } from '../guardrails/rules.js';
import { PII_KINDS } from '../guardrails/pii/span.js';
import { builder } from './builder.js';
import { ModelRef } from './catalogue.js';
import { uuidKey } from './global-id.js';
import { ApiKeyRef } from './keys.js';

const PiiKindEnum = builder.enumType('PiiKind', {
  description: 'A kind of personal data or secret the PII rule finds (README, Guardrails, says what each matches)',
  values: {
    EMAIL: { description: 'E-mail addresses' },
    PHONE: { description: 'Phone numbers: international (+ and a country code), North American, and trunk-prefixed national (0…) formats' },
    CREDIT_CARD: { description: 'Payment card numbers: 13-19 digits, optionally grouped, passing the Luhn check' },
    IBAN: { description: 'International bank account numbers, compact or grouped, with valid country format and mod-97 check digits' },
    NATIONAL_ID: { description: 'US Social Security numbers, UK National Insurance numbers, Spanish DNI/NIE (checksum verified)' },
    IP_ADDRESS: { description: 'IPv4 and IPv6 addresses' },
    SECRET: { description: 'API keys and tokens of common shapes (sk-, AKIA, ghp_, xox, gw_, JWTs) and PEM private key blocks' },
  } satisfies Record<(typeof PII_KINDS)[number], unknown>,
});

const GuardrailActionEnum = builder.enumType('GuardrailAction', {
  description: 'What a rule does with what it finds',
  values: {
    REDACT: { description: 'Replace it: PII by numbered placeholders ([EMAIL_1]), deny-list matches by [REDACTED]' },
    BLOCK: { description: 'Refuse the call with GUARDRAIL_BLOCKED, naming the policy' },
  } satisfies Record<(typeof GUARDRAIL_ACTIONS)[number], unknown>,
});

type Pii = NonNullable<GuardrailRules['pii']>;
type DenyList = NonNullable<GuardrailRules['denyList']>;

const PiiRuleRef = builder.objectRef<Pii>('PiiRule').implement({
  description: 'Personal data and secrets to redact or block',
  fields: (t) => ({
    kinds: t.field({ type: [PiiKindEnum], description: 'The kinds looked for', resolve: (r) => [...r.kinds] }),
    action: t.field({ type: GuardrailActionEnum, description: 'What is done with a match', resolve: (r) => r.action }),
    restore: t.exposeBoolean('restore', { description: 'Input rules only: placeholders the answer echoes get the original values back' }),
  }),
});

const DenyListRuleRef = builder.objectRef<DenyList>('DenyListRule').implement({
  description: 'Words and patterns that must not pass',
  fields: (t) => ({
    words: t.exposeStringList('words', { description: 'Whole words, matched case-insensitively' }),
    patterns: t.exposeStringList('patterns', { description: 'Regular expressions in RE2 syntax, matched in linear time' }),
    action: t.field({ type: GuardrailActionEnum, description: 'What is done with a match', resolve: (r) => r.action }),
  }),
});

const GuardrailRulesRef = builder.objectRef<GuardrailRules>('GuardrailRules').implement({
  description: 'The rules of one side (input or output) of a policy; a null rule is not applied',
  fields: (t) => ({
    pii: t.field({ type: PiiRuleRef, nullable: true, description: 'Personal data and secrets', resolve: (r) => r.pii }),
    denyList: t.field({ type: DenyListRuleRef, nullable: true, description: 'Denied words and patterns', resolve: (r) => r.denyList }),
    maxInputTokens: t.exposeInt('maxInputTokens', { nullable: true, description: 'Input rules only: larger prompts are blocked' }),
    jsonSchema: t.field({
      type: 'JSON',
      nullable: true,
      description: 'Output rules only: the answer must be JSON matching this schema; a unary call is retried once, then blocked',
      resolve: (r) => r.jsonSchema,
    }),
  }),
});

/** Stored rules read back through the parser that checked them on the way in. */
const rulesOf = (value: unknown, stage: 'INPUT' | 'OUTPUT') => parseGuardrailRules(value, stage.toLowerCase(), stage);

const GuardrailPolicyRef = builder.nodeRef<GuardrailPolicyRow, string | null>('GuardrailPolicy', {
  id: { resolve: (p) => p.id, parse: uuidKey },
  loadMany: (ids, ctx) => (ctx.principal?.isAdmin ? ctx.services.guardrailPolicies.byIds(ids as string[]) : ids.map(() => null)),
});
GuardrailPolicyRef.implement({
  description: 'Named guardrail rules, run by every call of the keys and models that name it (ADMIN)',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'Unique name keys and models refer to it by' }),
    description: t.exposeString('description', { nullable: true, description: 'Free text for people' }),
    input: t.field({ type: GuardrailRulesRef, nullable: true, description: 'Rules on the prompt, before any upstream is asked', resolve: (p) => rulesOf(p.input, 'INPUT') }),
    output: t.field({ type: GuardrailRulesRef, nullable: true, description: 'Rules on the answer (streams: as they stream)', resolve: (p) => rulesOf(p.output, 'OUTPUT') }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was created' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When it was last changed' }),
  }),
});

const PiiRuleInput = builder.inputType('PiiRuleInput', {
  description: 'Personal data and secrets to redact or block',
  fields: (t) => ({
    kinds: t.field({ type: [PiiKindEnum], required: true, description: 'The kinds looked for (at least one)' }),
    action: t.field({ type: GuardrailActionEnum, required: true, description: 'What is done with a match' }),
    restore: t.boolean({ description: 'Input rules only: placeholders the answer echoes get the original values back (default false)' }),
  }),
});

const DenyListRuleInput = builder.inputType('DenyListRuleInput', {
  description: 'Words and patterns that must not pass',
  fields: (t) => ({
    words: t.stringList({ description: 'Whole words, matched case-insensitively' }),
    patterns: t.stringList({ description: 'Regular expressions in RE2 syntax (no backreferences or lookaround); an invalid one is BAD_USER_INPUT naming it' }),
    action: t.field({ type: GuardrailActionEnum, required: true, description: 'What is done with a match' }),
  }),
});

const GuardrailRulesInput = builder.inputType('GuardrailRulesInput', {
  description: 'The rules of one side of a policy; omitted rules are not applied',
  fields: (t) => ({
    pii: t.field({ type: PiiRuleInput, description: 'Personal data and secrets' }),
    denyList: t.field({ type: DenyListRuleInput, description: 'Denied words and patterns' }),
    maxInputTokens: t.int({ description: 'Input rules only: prompts with more tokens are blocked (a positive integer)' }),
    jsonSchema: t.field({ type: 'JSON', description: 'Output rules only: a JSON Schema the answer must match' }),
  }),
});

const CreateGuardrailPolicyInput = builder.inputType('CreateGuardrailPolicyInput', {
  description: 'A new guardrail policy',
  fields: (t) => ({
    name: t.string({ required: true, description: 'Unique name: 1-128 letters, digits and . _ : / - (not starting with a symbol)' }),
    description: t.string({ description: 'Free text for people' }),
    input: t.field({ type: GuardrailRulesInput, description: 'Rules on the prompt' }),
    output: t.field({ type: GuardrailRulesInput, description: 'Rules on the answer' }),
  }),
});

const UpdateGuardrailPolicyInput = builder.inputType('UpdateGuardrailPolicyInput', {
  description: 'Changes to a policy, in effect on every instance within seconds; an omitted field stays as it is',
  fields: (t) => ({
    name: t.string({ description: 'A new unique name (keys and models keep the policy: they store its id)' }),
    description: t.string({ description: 'Free text for people; null clears it' }),
    input: t.field({ type: GuardrailRulesInput, description: 'Replaces the input rules; null removes them' }),
    output: t.field({ type: GuardrailRulesInput, description: 'Replaces the output rules; null removes them' }),
  }),
});

builder.objectField(ApiKeyRef, 'guardrailPolicies', (t) =>
  t.field({
    type: [GuardrailPolicyRef],
    description: "ADMIN; the guardrail policies its calls run, before the model's",
    authScopes: { admin: true },
    resolve: async (k, _, ctx) => (await ctx.services.guardrailPolicies.byIds(k.guardrailPolicyIds)).filter((p) => p !== null),
  }),
);

builder.objectField(ModelRef, 'guardrailPolicies', (t) =>
  t.field({
    type: [GuardrailPolicyRef],
    description: "ADMIN; the guardrail policies every call to it runs, after the calling key's",
    authScopes: { admin: true },
    resolve: async (m, _, ctx) => (await ctx.services.guardrailPolicies.byIds(m.guardrailPolicyIds)).filter((p) => p !== null),
  }),
);

builder.queryFields((t) => ({
  guardrailPolicies: t.field({
    type: [GuardrailPolicyRef],
    description: 'ADMIN; every guardrail policy, by name',
    authScopes: { admin: true },
    resolve: (_, __, ctx) => ctx.services.guardrailPolicies.list(),
  }),
}));

builder.mutationFields((t) => ({
  createGuardrailPolicy: t.field({
    type: GuardrailPolicyRef,
    description: 'ADMIN; a new policy, applied once keys or models name it',
    authScopes: { admin: true },
    args: { input: t.arg({ type: CreateGuardrailPolicyInput, required: true, description: 'The policy' }) },
    resolve: (_, { input }, ctx) => ctx.services.guardrailPolicies.create(input),
  }),
  updateGuardrailPolicy: t.field({
    type: GuardrailPolicyRef,
    description: 'ADMIN; changes a policy, in effect on every instance within seconds',
    authScopes: { admin: true },
    args: { name: t.arg.string({ required: true, description: 'The name of the policy to change' }), input: t.arg({ type: UpdateGuardrailPolicyInput, required: true, description: 'The changes' }) },
    resolve: (_, { name, input }, ctx) => ctx.services.guardrailPolicies.update(name, input),
  }),
  deleteGuardrailPolicy: t.boolean({
    description: 'ADMIN; refused (BAD_USER_INPUT naming the keys and models) while a key or model still names the policy: remove it from them first',
    authScopes: { admin: true },
    args: { name: t.arg.string({ required: true, description: 'The name of the policy to delete' }) },
    resolve: (_, { name }, ctx) => ctx.services.guardrailPolicies.delete(name),
  }),
}));
