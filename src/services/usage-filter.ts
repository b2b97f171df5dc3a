/* The usage filter, checked once and read the same way by record pages, summaries and series. */
import { badInput } from '../errors.js';
import { isUuid } from '../util/input-rules.js';
import type { UsageReadScope } from './access.js';

export interface UsageFilter {
  apiKeyId?: string | null;
  /** A team's id (the GraphQL filter's Team global id, decoded). */
  teamId?: string | null;
  /** The end user (UsageRecord.user). */
  user?: string | null;
  model?: string | null;
  provider?: string | null;
  status?: string | null;
  /** true: only records the response cache answered; false: only the others. */
  cacheHit?: boolean | null;
  from?: Date | null;
  to?: Date | null;
}

/** What a usage read may count: every field given must match. */
export interface UsageScope {
  /** Key ids the record's key must equal, all of them: the caller's own (a key other than ADMIN) and the filter's. */
  apiKeyIds: string[];
  /** Team ids the record's team must equal, all of them: the caller's (TEAM_ADMIN) and the filter's. */
  teamIds: string[];
  endUser: string | null;
  model: string | null;
  provider: string | null;
  status: string | null;
  cacheHit: boolean | null;
  /** Inclusive. */
  from: Date | null;
  /** Exclusive. */
  to: Date | null;
}

/** @param readScope whose records the caller reads (access.ts usageReadScope) */
export function toUsageScope(filter: UsageFilter | null | undefined, readScope: UsageReadScope): UsageScope {
  const apiKeyIds = readScope.kind === 'key' ? [readScope.keyId.toLowerCase()] : [];
  const teamIds = readScope.kind === 'team' ? [readScope.teamId.toLowerCase()] : [];
  if (filter?.apiKeyId) {
    if (!isUuid(filter.apiKeyId)) throw badInput('filter.apiKeyId', 'is not a valid key id');
    // the rollups hold ids as lowercase text: an id written in capitals must match them as the uuid column does
    apiKeyIds.push(filter.apiKeyId.toLowerCase());
  }
  if (filter?.teamId) {
    if (!isUuid(filter.teamId)) throw badInput('filter.team', 'is not a valid team id');
    teamIds.push(filter.teamId.toLowerCase());
  }
  const from = filter?.from ?? null;
  const to = filter?.to ?? null;
  if (from && to && from > to) throw badInput('filter.from', 'must not be after filter.to');
  // an empty string filters nothing, as it always has
  return {
    apiKeyIds,
    teamIds,
    // stored trimmed (end-user.ts)
    endUser: filter?.user?.trim() || null,
    model: filter?.model || null,
    provider: filter?.provider || null,
    status: filter?.status || null,
    cacheHit: filter?.cacheHit ?? null,
    from,
    to,
  };
}
