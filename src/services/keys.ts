/* API keys: create/update/revoke/rotate, and the cached lookup every request makes. */
import { and, desc, eq, inArray } from 'drizzle-orm';
import { LRUCache } from 'lru-cache';
import type { Db } from '../db/client.js';
import type { LogBodies } from '../call-log/types.js';
import { isDatabaseUnavailable } from '../db/is-unavailable.js';
import { apiKeys, modelAccessRequests, teams, type ApiKeyRow, type TeamRow } from '../db/schema.js';
import { displayPrefix, generateSecret, hashesEqual, hashSecret } from '../security/api-key.js';
import { cachePolicyColumns, type CachePolicyInput } from '../cache/cache-policy.js';
import { badInput, notFound, serviceUnavailable } from '../errors.js';
import { budgetAlertThresholds, checkLimits, endUserLimitColumns, limitColumns, type KeyLimitsInput } from './limit-inputs.js';
import { isUuid } from '../util/input-rules.js';
import { createRefreshingCache } from '../util/refreshing-cache.js';

export type Scope = 'INVOKE' | 'READ_USAGE' | 'TEAM_ADMIN' | 'ADMIN';

/** Who is calling: the key row (and its team) as they were when the request authenticated. */
export interface Principal {
  key: ApiKeyRow;
  scopes: ReadonlySet<Scope>;
  isAdmin: boolean;
  /** The key's team; null for a key without team. */
  team: TeamRow | null;
  /** TEAM_ADMIN of its team: manages the team's keys, prompts and usage (never another team's). */
  isTeamAdmin: boolean;
  /** Models needing approval that the key's team was granted (public names); empty without team. */
  approvedModels: ReadonlySet<string>;
}

export interface CreateKeyInput {
  name: string;
  scopes?: Scope[] | null;
  allowedModels?: string[] | null;
  limits?: KeyLimitsInput | null;
  expiresAt?: Date | null;
  /** Ids of the guardrail policies its calls run (the schema resolves names to ids). */
  guardrailPolicyIds?: string[] | null;
  cache?: CachePolicyInput | null;
  /** The team's id (the schema resolves and checks it); omitted or null: no team. */
  teamId?: string | null;
  endUserLimits?: KeyLimitsInput | null;
  budgetAlertThresholds?: number[] | null;
  /** How much of its calls the call log keeps; omitted or null: not set. */
  logBodies?: LogBodies | null;
}

export interface UpdateKeyInput {
  name?: string | null;
  scopes?: Scope[] | null;
  allowedModels?: string[] | null;
  limits?: KeyLimitsInput | null;
  expiresAt?: Date | null;
  /** Replaces its guardrail policies (ids); null or omitted leaves them. */
  guardrailPolicyIds?: string[] | null;
  /** undefined: unchanged; null: cleared; otherwise replaces the policy. */
  cache?: CachePolicyInput | null;
  /** undefined: unchanged; null: out of its team; otherwise moved into this team (an id the schema checked). */
  teamId?: string | null;
  endUserLimits?: KeyLimitsInput | null;
  /** undefined: unchanged; null: back to the default. */
  budgetAlertThresholds?: number[] | null;
  /** undefined: unchanged; null: not set. */
  logBodies?: LogBodies | null;
}

export interface KeyServiceOptions {
  /** How long a lookup (hit or miss) is trusted; bounds cross-instance staleness. */
  cacheTtlMs: number;
  /** Tells other instances that a key changed (LISTEN/NOTIFY or Redis); optional. */
  broadcast?: (secretHash: string) => void;
}

/** A key row that may still be used: neither revoked nor expired. */
export function isUsable(row: ApiKeyRow, now = Date.now()): boolean {
  return !row.revokedAt && !(row.expiresAt && row.expiresAt.getTime() <= now);
}

export function toPrincipal(row: ApiKeyRow, team: TeamRow | null = null, approvedModels: readonly string[] = []): Principal {
  const scopes = new Set(row.scopes as Scope[]);
  return {
    key: row,
    scopes,
    isAdmin: scopes.has('ADMIN'),
    team,
    // a TEAM_ADMIN scope on a key without team grants nothing
    isTeamAdmin: !!team && scopes.has('TEAM_ADMIN'),
    approvedModels: new Set(approvedModels),
  };
}

/** A key created or changed to expire in the past would be dead on arrival: almost surely a mistake (revoke ends a key). */
function checkExpiry(expiresAt: Date | null | undefined, field: string): void {
  if (expiresAt && expiresAt.getTime() <= Date.now()) throw badInput(field, 'must be in the future');
}

function checkName(name: string | null | undefined, field: string): void {
  if (name == null) return;
  if (!name.trim()) throw badInput(field, 'must not be empty');
  if (name.length > 200) throw badInput(field, 'must be at most 200 characters');
}

/**
 * How long past its TTL a cached key may still be used while the database cannot be reached: long enough to serve
 * through a database restart or failover (minutes), bounded so a revocation whose broadcast was lost cannot outlive
 * a long outage. A revocation seen before the outage removed the entry, so it still applies.
 */
const MAX_STALE_MS = 10 * 60_000;
/** How long past its TTL a cached key is still answered from while a background lookup refreshes it. */
const REVALIDATE_MS = 10_000;
/**
 * Past the revalidation window, how long a call waits for the lookup before a key that may answer stale does: a
 * database that hangs (a connect timeout is 10 s) must not hold every call of the key for a whole failed lookup.
 */
const STALE_WAIT_MS = 300;

export type KeyService = ReturnType<typeof createKeyService>;

export function createKeyService(db: Db, opts: KeyServiceOptions) {
  /**
   * Lookups by secret hash, misses too (null: an unknown key). A principal is built once per lookup and shared by
   * the requests it serves (nothing mutates it). Past its TTL an entry still answers for a moment while one
   * lookup refreshes it in the background: awaiting the lookup would hold every request of a busy key behind the
   * database (on embedded PGlite, behind a whole usage batch) each time the TTL runs out. A revocation still lands
   * at once: it removes the entry, locally and through the broadcast. While the database is away, a key known a
   * moment ago keeps working for a bounded time only, so a revocation whose broadcast was lost cannot outlive a
   * long outage.
   */
  const cache = createRefreshingCache<Principal | null>({
    max: 50_000,
    ttlMs: opts.cacheTtlMs,
    revalidateMs: REVALIDATE_MS,
    maxStaleMs: MAX_STALE_MS,
    staleWaitMs: STALE_WAIT_MS,
    load: lookup,
  });
  const watchers = new Set<(secretHash: string) => void>();

  function invalidateHash(secretHash: string): void {
    cache.delete(secretHash);
    for (const w of watchers) w(secretHash);
  }

  function changed(row: ApiKeyRow, oldHash?: string): void {
    invalidateHash(row.secretHash);
    if (oldHash) invalidateHash(oldHash);
    opts.broadcast?.(row.secretHash);
    if (oldHash) opts.broadcast?.(oldHash);
  }

  async function byId(id: string): Promise<ApiKeyRow> {
    if (!isUuid(id)) throw notFound('ApiKey', id);
    const [row] = await db.select().from(apiKeys).where(eq(apiKeys.id, id));
    if (!row) throw notFound('ApiKey', id);
    return row;
  }

  async function lookup(h: string): Promise<Principal | null> {
    const [found] = await db.select().from(apiKeys).where(eq(apiKeys.secretHash, h));
    // the index found it by hash; the constant-time compare keeps the check itself free of timing leaks
    if (!found || !hashesEqual(found.secretHash, h)) return null;
    const [principal] = await principalsOf([found]);
    return principal;
  }

  /**
   * Keys with their teams: a team's limits and granted models travel with the key, cached and invalidated with it.
   * The teams of many keys (open sessions re-checked together) are read in two statements, whatever their number.
   */
  async function principalsOf(rows: readonly ApiKeyRow[]): Promise<Principal[]> {
    const teamIds = [...new Set(rows.flatMap((r) => (r.teamId ? [r.teamId] : [])))];
    if (!teamIds.length) return rows.map((r) => toPrincipal(r));
    const [teamRows, granted] = await Promise.all([
      db.select().from(teams).where(inArray(teams.id, teamIds)),
      db
        .select({ teamId: modelAccessRequests.teamId, model: modelAccessRequests.model })
        .from(modelAccessRequests)
        .where(and(inArray(modelAccessRequests.teamId, teamIds), eq(modelAccessRequests.status, 'APPROVED'))),
    ]);
    const teamOf = new Map(teamRows.map((t) => [t.id, t]));
    return rows.map((r) => {
      if (!r.teamId) return toPrincipal(r);
      const models = granted.filter((g) => g.teamId === r.teamId).map((g) => g.model);
      return toPrincipal(r, teamOf.get(r.teamId) ?? null, models);
    });
  }

  return {
    /** Resolves a secret to a usable key, or null (unknown, revoked, expired). Cached; misses too. */
    async authenticate(secret: string): Promise<Principal | null> {
      const now = Date.now();
      let principal: Principal | null;
      try {
        principal = await cache.get(hashSecret(secret));
      } catch (err) {
        if (!isDatabaseUnavailable(err)) throw err;
        throw Object.assign(serviceUnavailable('The API key cannot be checked now: the database is not answering; retry shortly'), { cause: err });
      }
      return principal && isUsable(principal.key, now) ? principal : null;
    },

    /** Drops a cached lookup (called when another instance says a key changed). */
    invalidate: invalidateHash,

    /** Calls `listener` with the secret hash of every key that changed, here or (through `invalidate`) elsewhere. */
    watch(listener: (secretHash: string) => void): () => void {
      watchers.add(listener);
      return () => void watchers.delete(listener);
    },

    /** These keys as they are now, with their teams, read from the database (no cache); unknown ids are left out. */
    async principalsByIds(ids: readonly string[]): Promise<Principal[]> {
      const valid = ids.filter(isUuid);
      const rows = valid.length ? await db.select().from(apiKeys).where(inArray(apiKeys.id, valid)) : [];
      return principalsOf(rows);
    },

    /**
     * A team, or what it was granted, changed: every key of the team is looked up again, here and (through the
     * broadcast) on every instance.
     */
    async teamChanged(teamId: string): Promise<void> {
      const rows = await db.select({ secretHash: apiKeys.secretHash }).from(apiKeys).where(eq(apiKeys.teamId, teamId));
      for (const r of rows) {
        invalidateHash(r.secretHash);
        opts.broadcast?.(r.secretHash);
      }
    },

    /** Drops every cached lookup (key changes announced while the broadcast channel was down were missed). */
    invalidateAll(): void {
      cache.clear();
    },

    async create(input: CreateKeyInput, secret = generateSecret()): Promise<{ row: ApiKeyRow; secret: string }> {
      checkName(input.name, 'input.name');
      checkLimits(input.limits, 'input.limits');
      checkLimits(input.endUserLimits, 'input.endUserLimits');
      checkExpiry(input.expiresAt, 'input.expiresAt');
      const thresholds = budgetAlertThresholds(input.budgetAlertThresholds ?? null, 'input.budgetAlertThresholds');
      const [row] = await db
        .insert(apiKeys)
        .values({
          name: input.name.trim(),
          prefix: displayPrefix(secret),
          secretHash: hashSecret(secret),
          scopes: input.scopes?.length ? [...new Set(input.scopes)] : ['INVOKE'],
          allowedModels: input.allowedModels ?? null,
          expiresAt: input.expiresAt ?? null,
          guardrailPolicyIds: input.guardrailPolicyIds ?? [],
          teamId: input.teamId ?? null,
          budgetAlertThresholds: thresholds,
          logBodies: input.logBodies ?? null,
          ...limitColumns(input.limits),
          ...endUserLimitColumns(input.endUserLimits),
          ...cachePolicyColumns(input.cache, 'input.cache', true),
        })
        .returning();
      return { row, secret };
    },

    async update(id: string, input: UpdateKeyInput): Promise<ApiKeyRow> {
      checkName(input.name, 'input.name');
      checkLimits(input.limits, 'input.limits');
      checkLimits(input.endUserLimits, 'input.endUserLimits');
      checkExpiry(input.expiresAt, 'input.expiresAt');
      const current = await byId(id);
      const patch: Partial<ApiKeyRow> = {
        ...limitColumns(input.limits),
        ...endUserLimitColumns(input.endUserLimits),
        ...cachePolicyColumns(input.cache, 'input.cache', true),
      };
      if (input.teamId !== undefined) patch.teamId = input.teamId;
      if (input.budgetAlertThresholds !== undefined) {
        patch.budgetAlertThresholds = budgetAlertThresholds(input.budgetAlertThresholds, 'input.budgetAlertThresholds');
      }
      if (input.name != null) patch.name = input.name.trim();
      if (input.scopes != null) {
        if (!input.scopes.length) throw badInput('input.scopes', 'must name at least one scope');
        patch.scopes = [...new Set(input.scopes)];
      }
      if (input.allowedModels !== undefined) patch.allowedModels = input.allowedModels;
      if (input.expiresAt !== undefined) patch.expiresAt = input.expiresAt;
      if (input.logBodies !== undefined) patch.logBodies = input.logBodies;
      if (input.guardrailPolicyIds != null) patch.guardrailPolicyIds = input.guardrailPolicyIds;
      if (!Object.keys(patch).length) return current;
      const [row] = await db.update(apiKeys).set(patch).where(eq(apiKeys.id, id)).returning();
      changed(row);
      return row;
    },

    async revoke(id: string): Promise<ApiKeyRow> {
      const current = await byId(id);
      if (current.revokedAt) return current;
      const [row] = await db.update(apiKeys).set({ revokedAt: new Date() }).where(eq(apiKeys.id, id)).returning();
      changed(row);
      return row;
    },

    async rotate(id: string): Promise<{ row: ApiKeyRow; secret: string }> {
      const current = await byId(id);
      if (current.revokedAt) throw badInput('id', 'a revoked key cannot be rotated');
      const secret = generateSecret();
      const [row] = await db
        .update(apiKeys)
        .set({ secretHash: hashSecret(secret), prefix: displayPrefix(secret) })
        .where(eq(apiKeys.id, id))
        .returning();
      changed(row, current.secretHash);
      return { row, secret };
    },

    /** Every key, newest first; only a team's when `teamId` is given. */
    list: (teamId?: string) =>
      db
        .select()
        .from(apiKeys)
        .where(teamId ? eq(apiKeys.teamId, teamId) : undefined)
        .orderBy(desc(apiKeys.createdAt)),
    /** The keys of these teams, newest first, for many teams in one statement. */
    async ofTeams(teamIds: readonly string[]): Promise<ApiKeyRow[][]> {
      const rows = await db.select().from(apiKeys).where(inArray(apiKeys.teamId, [...teamIds])).orderBy(desc(apiKeys.createdAt));
      return teamIds.map((t) => rows.filter((r) => r.teamId === t));
    },
    byId,

    async count(): Promise<number> {
      const rows = await db.select({ id: apiKeys.id }).from(apiKeys).limit(1);
      return rows.length;
    },

    /** GATEWAY_ADMIN_KEY is always an ADMIN key: make sure a row for it exists and is usable. */
    async ensureAdminSecret(secret: string): Promise<void> {
      const h = hashSecret(secret);
      const [row] = await db.select().from(apiKeys).where(eq(apiKeys.secretHash, h));
      if (!row) {
        await db
          .insert(apiKeys)
          .values({ name: 'GATEWAY_ADMIN_KEY', prefix: displayPrefix(secret), secretHash: h, scopes: ['ADMIN', 'INVOKE', 'READ_USAGE'] })
          .onConflictDoNothing();
      } else if (row.revokedAt || !row.scopes.includes('ADMIN') || (row.expiresAt && row.expiresAt <= new Date())) {
        await db
          .update(apiKeys)
          .set({ revokedAt: null, expiresAt: null, scopes: [...new Set([...row.scopes, 'ADMIN'])] })
          .where(eq(apiKeys.id, row.id));
      }
      invalidateHash(h);
    },

    /** Records lastUsedAt at most once a minute per key, off the request path. */
    touch: (() => {
      // an entry expires a minute after the write it stands for
      const touched = new LRUCache<string, true>({ max: 50_000, ttl: 60_000 });
      return (row: ApiKeyRow): void => {
        if (touched.has(row.id)) return;
        touched.set(row.id, true);
        db.update(apiKeys).set({ lastUsedAt: new Date() }).where(eq(apiKeys.id, row.id)).catch(() => {});
      };
    })(),
  };
}
