import { compileDenyList } from './deny-list.js';
import { compileJsonSchema, type JsonSchemaCheck } from './json-schema.js';
import { detectorsFor } from './pii/detect-pii.js';
import type { PiiKind } from './pii/span.js';
import { parseGuardrailRules, type GuardrailAction, type GuardrailRules, type GuardrailStage } from './rules.js';
import type { Scan } from './scan.js';
import { denyListScan, piiScan } from './scans.js';

/** A policy as stored: its rules are the jsonb columns, read through parseGuardrailRules. */
export interface GuardrailPolicyRow {
  id: string;
  name: string;
  input: unknown;
  output: unknown;
}

export interface CompiledRules {
  pii: { scan: Scan; kinds: readonly PiiKind[]; action: GuardrailAction; restore: boolean } | null;
  denyList: { scan: Scan; action: GuardrailAction } | null;
  maxInputTokens: number | null;
  jsonSchema: JsonSchemaCheck | null;
}

/** A policy ready to run: regexes and schemas compiled once, when it is loaded. */
export interface CompiledPolicy {
  id: string;
  name: string;
  input: CompiledRules | null;
  output: CompiledRules | null;
}

function compileRules(rules: GuardrailRules | null, field: string): CompiledRules | null {
  if (!rules) return null;
  return {
    pii: rules.pii && {
      scan: piiScan(detectorsFor(rules.pii.kinds)),
      kinds: rules.pii.kinds,
      action: rules.pii.action,
      restore: rules.pii.restore,
    },
    denyList: rules.denyList && {
      scan: denyListScan(compileDenyList(rules.denyList.words, rules.denyList.patterns, `${field}.denyList`)),
      action: rules.denyList.action,
    },
    maxInputTokens: rules.maxInputTokens,
    jsonSchema: rules.jsonSchema && compileJsonSchema(rules.jsonSchema, `${field}.jsonSchema`),
  };
}

export function compilePolicy(row: GuardrailPolicyRow): CompiledPolicy {
  const stage = (s: GuardrailStage, v: unknown) => compileRules(parseGuardrailRules(v, s.toLowerCase(), s), s.toLowerCase());
  return { id: row.id, name: row.name, input: stage('INPUT', row.input), output: stage('OUTPUT', row.output) };
}
