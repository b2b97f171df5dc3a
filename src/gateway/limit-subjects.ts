/*
 * The subjects a call is limited as: its key, the key's team, the end user under the key and the end user under
 * the team. Each has its own counters and its own limits; admission checks all of them, then reserves on all.
 */
import { createHash } from 'node:crypto';
import type { ApiKeyRow, TeamRow } from '../db/schema.js';
import type { Principal } from '../services/keys.js';
import { endUserLimitsOf } from '../services/limit-inputs.js';
import { type BudgetReading, type KeyLimitSet, limitsOf } from './limits.js';

/** Who a refusal names: "for this key", "for this team", "for this end user". */
export type SubjectKind = 'key' | 'team' | 'endUser';

/** The usage_records a subject's day and month counters are seeded from (every field given must match). */
export interface UsageScope {
  apiKeyId?: string;
  teamId?: string;
  endUser?: string;
}

export interface LimitSubject {
  /**
   * Names the subject's counters in a process (memory limiter, the Redis fallback's handover): the key id for a
   * key, `team:<teamId>`, `<keyId>|user:<user>`, `team:<teamId>|user:<user>`.
   */
  id: string;
  kind: SubjectKind;
  limits: KeyLimitSet;
  seedScope: UsageScope;
  /** Its Redis counter keys without prefix and suffix (limits-redis-scripts.ts has the layout). */
  redisBase: string;
  /** Key and team subjects with a budget: who budget readings are about. */
  budgetOf?: Omit<BudgetReading, 'period' | 'spentUsd' | 'budgetUsd'>;
}

const teamSubjectId = (teamId: string): string => `team:${teamId}`;
/** What the id of every end-user subject contains (and no key or team id does). */
export const END_USER_ID = '|user:';

/** A key's Redis counters: hash-tagged by its team when it has one, so a call's keys all live in one slot. */
export const keyRedisBase = (key: Pick<ApiKeyRow, 'id' | 'teamId'>): string => (key.teamId ? `{${key.teamId}}:k:${key.id}` : `{${key.id}}`);

/** The end-user limits a key or team sets for each of its end users; null when it sets none. */
const endUserLimitSet = (row: ApiKeyRow | TeamRow): KeyLimitSet | null => limitsOf(endUserLimitsOf(row));

/** A team's own Redis counters (its keys' and end users' share the `{teamId}` hash tag). */
const teamRedisBase = (teamId: string): string => `{${teamId}}:t`;

const NONE: readonly LimitSubject[] = Object.freeze([]);

/** The subjects of a call with at least one limit each; empty (and allocation-free) on the no-limits fast path. */
export function subjectsOf(principal: Principal, endUser: string | null | undefined): readonly LimitSubject[] {
  const { key, team } = principal;
  const keyLimits = limitsOf(key);
  const teamLimits = team && limitsOf(team);
  const user = endUser || null;
  const keyUserLimits = user && endUserLimitSet(key);
  const teamUserLimits = user && team && endUserLimitSet(team);
  if (!keyLimits && !teamLimits && !keyUserLimits && !teamUserLimits) return NONE;

  const teamId = team?.id ?? null;
  const out: LimitSubject[] = [];
  if (keyLimits) {
    out.push({
      id: key.id,
      kind: 'key',
      limits: keyLimits,
      seedScope: { apiKeyId: key.id },
      redisBase: keyRedisBase(key),
      budgetOf: { subjectKind: 'API_KEY', subjectId: key.id, teamId, thresholds: key.budgetAlertThresholds },
    });
  }
  if (team && teamLimits) {
    out.push({
      id: teamSubjectId(team.id),
      kind: 'team',
      limits: teamLimits,
      seedScope: { teamId: team.id },
      redisBase: teamRedisBase(team.id),
      budgetOf: { subjectKind: 'TEAM', subjectId: team.id, teamId: team.id, thresholds: team.budgetAlertThresholds },
    });
  }
  if (user && (keyUserLimits || teamUserLimits)) {
    // end user strings are caller-chosen (any characters, up to 256): hashed in Redis key names
    const hash = createHash('sha1').update(user).digest('hex');
    if (keyUserLimits) {
      out.push({
        id: `${key.id}${END_USER_ID}${user}`,
        kind: 'endUser',
        limits: keyUserLimits,
        seedScope: { apiKeyId: key.id, endUser: user },
        redisBase: `${keyRedisBase(key)}:u:${hash}`,
      });
    }
    if (team && teamUserLimits) {
      out.push({
        id: `${teamSubjectId(team.id)}${END_USER_ID}${user}`,
        kind: 'endUser',
        limits: teamUserLimits,
        seedScope: { teamId: team.id, endUser: user },
        redisBase: `{${team.id}}:u:${hash}`,
      });
    }
  }
  return out;
}

/**
 * The key and the team of a call when they set no limit at all: their counters are dropped, so setting a limit
 * again re-seeds from usage_records instead of trusting counters that missed the usage in between.
 */
export function unlimitedOf(principal: Principal): Array<{ id: string; redisBase: string }> {
  const out: Array<{ id: string; redisBase: string }> = [];
  if (!limitsOf(principal.key)) out.push({ id: principal.key.id, redisBase: keyRedisBase(principal.key) });
  const team = principal.team;
  if (team && !limitsOf(team)) out.push({ id: teamSubjectId(team.id), redisBase: teamRedisBase(team.id) });
  return out;
}

/** Rpm only (a response-cache hit): what a request-only admission checks and counts on each subject. */
export function requestOnlySubjects(subjects: readonly LimitSubject[]): LimitSubject[] {
  return subjects.filter((s) => s.limits.rpm != null).map((s) => ({ ...s, limits: { rpm: s.limits.rpm, tpm: null, tpd: null, budget: null } }));
}

/** Whether admission needs the call's token and cost estimate: some subject has a token or budget limit. */
export function needsEstimate(principal: Principal, endUser: string | null | undefined): boolean {
  const spends = (l: KeyLimitSet | null | undefined) => !!l && (l.tpm != null || l.tpd != null || l.budget != null);
  const { key, team } = principal;
  if (spends(limitsOf(key)) || (team && spends(limitsOf(team)))) return true;
  if (!endUser) return false;
  return spends(endUserLimitSet(key)) || (!!team && spends(endUserLimitSet(team)));
}
