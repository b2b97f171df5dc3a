/* Key and team rows for the limiter suites, and admission helpers that report the refusal. */
import type { ApiKeyRow, TeamRow } from '../../src/db/schema.js';
import type { AdmitRequest } from '../../src/gateway/limits.js';
import { toPrincipal, type Scope } from '../../src/services/keys.js';

type LimitFields = 'requestsPerMinute' | 'tokensPerMinute' | 'tokensPerDay' | 'monthlyBudgetUsd';
type EndUserFields = 'endUserRequestsPerMinute' | 'endUserTokensPerMinute' | 'endUserTokensPerDay' | 'endUserMonthlyBudgetUsd';

let seq = 0;
const uuid = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

export function teamRow(fields: Partial<Pick<TeamRow, LimitFields | EndUserFields | 'budgetAlertThresholds'>> = {}): TeamRow {
  return {
    id: uuid(0x7e000 + ++seq),
    name: `team ${seq}`,
    description: null,
    requestsPerMinute: null,
    tokensPerMinute: null,
    tokensPerDay: null,
    monthlyBudgetUsd: null,
    allowedModels: null,
    endUserRequestsPerMinute: null,
    endUserTokensPerMinute: null,
    endUserTokensPerDay: null,
    endUserMonthlyBudgetUsd: null,
    budgetAlertThresholds: null,
    logBodies: null,
    createdAt: new Date(),
    ...fields,
  };
}

const INVOKE: Scope[] = ['INVOKE'];

export function keyRow(fields: Partial<Pick<ApiKeyRow, LimitFields | EndUserFields | 'budgetAlertThresholds'>> = {}, team: TeamRow | null = null): ApiKeyRow {
  return {
    id: uuid(0xbe000 + ++seq),
    name: `key ${seq}`,
    prefix: 'gw_x',
    secretHash: `x${seq}`,
    scopes: INVOKE,
    allowedModels: null,
    requestsPerMinute: null,
    tokensPerMinute: null,
    tokensPerDay: null,
    monthlyBudgetUsd: null,
    expiresAt: null,
    revokedAt: null,
    lastUsedAt: null,
    cacheMode: null,
    cacheTtlSeconds: null,
    cacheScope: null,
    guardrailPolicyIds: [],
    teamId: team?.id ?? null,
    endUserRequestsPerMinute: null,
    endUserTokensPerMinute: null,
    endUserTokensPerDay: null,
    endUserMonthlyBudgetUsd: null,
    budgetAlertThresholds: null,
    logBodies: null,
    createdAt: new Date(),
    ...fields,
  };
}

export interface Call {
  key: ApiKeyRow;
  team?: TeamRow | null;
  user?: string;
  tokens?: number;
  costUsd?: number;
  requestOnly?: boolean;
}

export const admitRequest = (c: Call): AdmitRequest => ({
  principal: toPrincipal(c.key, c.team ?? null),
  model: 'echo',
  estimatedTokens: c.tokens ?? 10,
  estimatedCostUsd: c.costUsd ?? 0,
  endUser: c.user ?? null,
  requestOnly: c.requestOnly,
});

/** 'OK' or the refusal's code and message. */
export async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'OK';
  } catch (e) {
    const err = e as { message: string; extensions?: { code?: string } };
    return `${err.extensions?.code}: ${err.message}`;
  }
}
