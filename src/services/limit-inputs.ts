/*
 * The limit inputs keys and teams share: checked and turned into columns the same way for a key's or a team's own
 * limits, their per-end-user limits and their budget alert thresholds.
 */
import { badInput } from '../errors.js';

export interface KeyLimitsInput {
  requestsPerMinute?: number | null;
  tokensPerMinute?: number | null;
  tokensPerDay?: number | null;
  monthlyBudgetUsd?: number | null;
}

/** Limit values as a key or team stores them; null means no limit. */
export interface LimitValues {
  requestsPerMinute: number | null;
  tokensPerMinute: number | null;
  tokensPerDay: number | null;
  monthlyBudgetUsd: number | null;
}

export const LIMIT_FIELDS = ['requestsPerMinute', 'tokensPerMinute', 'tokensPerDay', 'monthlyBudgetUsd'] as const;

/** What a key or team with no thresholds of its own alerts at: half, 80% and all of its monthly budget. */
const DEFAULT_BUDGET_ALERT_THRESHOLDS: readonly number[] = [0.5, 0.8, 1];

const MAX_THRESHOLDS = 10;

/** @param field the input's path, e.g. `input.endUserLimits`, named in the error */
export function checkLimits(l: KeyLimitsInput | null | undefined, field: string): void {
  if (!l) return;
  for (const f of ['requestsPerMinute', 'tokensPerMinute', 'tokensPerDay'] as const) {
    const v = l[f];
    if (v != null && (!Number.isInteger(v) || v < 0)) throw badInput(`${field}.${f}`, 'must be a non-negative integer');
  }
  if (l.monthlyBudgetUsd != null && (!Number.isFinite(l.monthlyBudgetUsd) || l.monthlyBudgetUsd < 0)) {
    throw badInput(`${field}.monthlyBudgetUsd`, 'must be a non-negative number');
  }
}

/** The columns a limits input sets (an omitted limit is left out: unchanged on update). */
export function limitColumns(l: KeyLimitsInput | null | undefined): Partial<LimitValues> {
  const out: Partial<LimitValues> = {};
  if (!l) return out;
  for (const f of LIMIT_FIELDS) if (l[f] !== undefined) out[f] = l[f];
  return out;
}

/** The same for the per-end-user columns (`endUserRequestsPerMinute`…). */
export function endUserLimitColumns(l: KeyLimitsInput | null | undefined) {
  const own = limitColumns(l);
  const out: { endUserRequestsPerMinute?: number | null; endUserTokensPerMinute?: number | null; endUserTokensPerDay?: number | null; endUserMonthlyBudgetUsd?: number | null } = {};
  if ('requestsPerMinute' in own) out.endUserRequestsPerMinute = own.requestsPerMinute;
  if ('tokensPerMinute' in own) out.endUserTokensPerMinute = own.tokensPerMinute;
  if ('tokensPerDay' in own) out.endUserTokensPerDay = own.tokensPerDay;
  if ('monthlyBudgetUsd' in own) out.endUserMonthlyBudgetUsd = own.monthlyBudgetUsd;
  return out;
}

/** The per-end-user limits of a stored key or team, in the shape of its own limits. */
export const endUserLimitsOf = (row: {
  endUserRequestsPerMinute: number | null;
  endUserTokensPerMinute: number | null;
  endUserTokensPerDay: number | null;
  endUserMonthlyBudgetUsd: number | null;
}): LimitValues => ({
  requestsPerMinute: row.endUserRequestsPerMinute,
  tokensPerMinute: row.endUserTokensPerMinute,
  tokensPerDay: row.endUserTokensPerDay,
  monthlyBudgetUsd: row.endUserMonthlyBudgetUsd,
});

/**
 * Budget alert thresholds as stored: each a fraction of the monthly budget in (0, 10], at most 10, sorted and
 * without duplicates. null stays null (the default applies).
 */
export function budgetAlertThresholds(values: readonly number[] | null, field: string): number[] | null {
  if (values === null) return null;
  values.forEach((v, i) => {
    if (!Number.isFinite(v) || v <= 0 || v > 10) throw badInput(`${field}[${i}]`, 'must be a fraction of the monthly budget above 0 and at most 10');
  });
  const out = [...new Set(values)].sort((a, b) => a - b);
  if (out.length > MAX_THRESHOLDS) throw badInput(field, `must hold at most ${MAX_THRESHOLDS} thresholds`);
  return out;
}

/** The thresholds a key or team alerts at: its own, or the default. */
export const effectiveThresholds = (stored: readonly number[] | null): readonly number[] => stored ?? DEFAULT_BUDGET_ALERT_THRESHOLDS;
