/*
 * A model as its form holds it (strings, as inputs give them) and the API inputs made from it. Empty optional
 * fields mean "none" (no price, no context window, the gateway's default timeout).
 */
import { logBodiesChoice, logBodiesInput, type LogBodiesChoice } from '../../components/log-bodies-select';
import type { ResultOf, VariablesOf } from '../../graphql';
import type { CreateModelMutation, ModelFields, UpdateModelMutation } from './documents';

export type ModelRow = ResultOf<typeof ModelFields>;
export type ModelStatus = ModelRow['status'];
export type Strategy = ModelRow['strategy'];
type CreateInput = VariablesOf<typeof CreateModelMutation>['input'];
type UpdateInput = VariablesOf<typeof UpdateModelMutation>['input'];

export const STRATEGIES: Array<{ value: Strategy; label: string }> = [
  { value: 'PRIORITY', label: 'Priority (next target only on failure)' },
  { value: 'WEIGHTED', label: 'Weighted random' },
  { value: 'ROUND_ROBIN', label: 'Round robin' },
  { value: 'LEAST_BUSY', label: 'Least busy' },
  { value: 'LOWEST_LATENCY', label: 'Lowest latency' },
];

export interface TargetDraft {
  provider: string;
  upstreamModel: string;
  priority: string;
  weight: string;
}

export interface ModelDraft {
  name: string;
  description: string;
  status: ModelStatus;
  strategy: Strategy;
  targets: TargetDraft[];
  /** Comma-separated public model names, in order */
  fallbacks: string;
  timeoutMs: string;
  inputPrice: string;
  outputPrice: string;
  contextWindow: string;
  /** Keys other than ADMIN ones need their team granted it (the Access page) */
  requiresApproval: boolean;
  /** The call log level; '' for not set */
  logBodies: LogBodiesChoice;
}

export const newTarget = (provider = ''): TargetDraft => ({ provider, upstreamModel: '', priority: '0', weight: '1' });

export function emptyModelDraft(firstProvider: string): ModelDraft {
  return { name: '', description: '', status: 'ACTIVE', strategy: 'PRIORITY', targets: [newTarget(firstProvider)], fallbacks: '', timeoutMs: '', inputPrice: '', outputPrice: '', contextWindow: '', requiresApproval: false, logBodies: '' };
}

const text = (n: number | null | undefined) => (n == null ? '' : String(n));

export function draftFromModel(m: ModelRow): ModelDraft {
  return {
    name: m.name,
    description: m.description ?? '',
    status: m.status,
    strategy: m.strategy,
    targets: m.targets.map((t) => ({ provider: t.provider.name, upstreamModel: t.upstreamModel, priority: String(t.priority), weight: String(t.weight) })),
    fallbacks: m.fallbacks.join(', '),
    timeoutMs: text(m.timeoutMs),
    // prices shown from the catalogue are not the operator's: saving the form must not make them so
    inputPrice: m.priceSource === 'OPERATOR' ? text(m.inputPricePerMTok) : '',
    outputPrice: m.priceSource === 'OPERATOR' ? text(m.outputPricePerMTok) : '',
    contextWindow: text(m.contextWindow),
    requiresApproval: m.requiresApproval,
    logBodies: logBodiesChoice(m.logBodies),
  };
}

const number = (s: string): number | null => (s.trim() === '' ? null : Number(s));

function fields(d: ModelDraft) {
  return {
    description: d.description.trim() || null,
    status: d.status,
    strategy: d.strategy,
    targets: d.targets.map((t) => ({ provider: t.provider, upstreamModel: t.upstreamModel.trim(), priority: number(t.priority) ?? 0, weight: number(t.weight) ?? 1 })),
    fallbacks: d.fallbacks
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    timeoutMs: number(d.timeoutMs),
    inputPricePerMTok: number(d.inputPrice),
    outputPricePerMTok: number(d.outputPrice),
    contextWindow: number(d.contextWindow),
    requiresApproval: d.requiresApproval,
  };
}

export const toCreateModelInput = (d: ModelDraft): CreateInput => ({ name: d.name.trim(), ...fields(d), ...(d.logBodies ? { logBodies: d.logBodies } : {}) });
export const toUpdateModelInput = (d: ModelDraft): UpdateInput => ({ ...fields(d), logBodies: logBodiesInput(d.logBodies) });

/** What the form refuses before asking the gateway: numbers that are not numbers, a model without targets. */
export function modelDraftProblem(d: ModelDraft): string | null {
  if (d.targets.length === 0) return 'Add at least one target.';
  const numbers: Array<[string, string]> = [
    ['Timeout', d.timeoutMs],
    ['Input price', d.inputPrice],
    ['Output price', d.outputPrice],
    ['Context window', d.contextWindow],
    ...d.targets.flatMap((t, i): Array<[string, string]> => [
      [`Target ${i + 1} priority`, t.priority],
      [`Target ${i + 1} weight`, t.weight],
    ]),
  ];
  for (const [label, value] of numbers) if (value.trim() !== '' && !Number.isFinite(Number(value))) return `${label}: not a number.`;
  return null;
}

/** What a lifecycle status means for callers, for the confirmation before a model is set to it. */
export const STATUS_EFFECT: Record<ModelStatus, string> = {
  ACTIVE: 'The model is served normally.',
  DEPRECATED: 'The model is still served, but every answer carries a deprecation warning (extensions.warnings) so callers know to move to another model.',
  RETIRED: 'The model is no longer served: every call to it fails with MODEL_RETIRED (HTTP 410 on the REST routes), and it disappears from the model lists of non-admin keys.',
};
