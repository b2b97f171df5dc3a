/* Teams: create/update/delete, and reading them by id. A change of limits or models reaches every key of the team at once. */
import { and, asc, eq, inArray, isNotNull, isNull, ne } from 'drizzle-orm';
import type { LogBodies } from '../call-log/types.js';
import type { Db } from '../db/client.js';
import { apiKeys, prompts, teams, type TeamRow } from '../db/schema.js';
import { badInput, notFound } from '../errors.js';
import { isUuid } from '../util/input-rules.js';
import type { KeyService } from './keys.js';
import { budgetAlertThresholds, checkLimits, endUserLimitColumns, limitColumns, type KeyLimitsInput } from './limit-inputs.js';
import { byIdsInOrder } from '../db/by-ids.js';

export interface TeamInput {
  name?: string | null;
  description?: string | null;
  limits?: KeyLimitsInput | null;
  endUserLimits?: KeyLimitsInput | null;
  allowedModels?: string[] | null;
  budgetAlertThresholds?: number[] | null;
  /** How much of its keys' calls the call log keeps; undefined: unchanged, null: not set. */
  logBodies?: LogBodies | null;
}

export type CreateTeamInput = TeamInput & { name: string };

const MAX_DESCRIPTION = 2000;

function checkName(name: string, field: string): string {
  const trimmed = name.trim();
  if (!trimmed) throw badInput(field, 'must not be empty');
  if (trimmed.length > 200) throw badInput(field, 'must be at most 200 characters');
  return trimmed;
}

/** The columns an input sets: omitted fields are left out (unchanged), null clears. */
function columns(input: TeamInput): Partial<TeamRow> {
  checkLimits(input.limits, 'input.limits');
  checkLimits(input.endUserLimits, 'input.endUserLimits');
  const out: Partial<TeamRow> = { ...limitColumns(input.limits), ...endUserLimitColumns(input.endUserLimits) };
  if (input.name != null) out.name = checkName(input.name, 'input.name');
  if (input.description !== undefined) {
    if (input.description != null && input.description.length > MAX_DESCRIPTION) {
      throw badInput('input.description', `must be at most ${MAX_DESCRIPTION} characters`);
    }
    out.description = input.description?.trim() || null;
  }
  if (input.allowedModels !== undefined) {
    input.allowedModels?.forEach((m, i) => {
      if (!m.trim()) throw badInput(`input.allowedModels[${i}]`, 'must not be empty');
    });
    out.allowedModels = input.allowedModels ? [...new Set(input.allowedModels)] : null;
  }
  if (input.logBodies !== undefined) out.logBodies = input.logBodies;
  if (input.budgetAlertThresholds !== undefined) {
    out.budgetAlertThresholds = budgetAlertThresholds(input.budgetAlertThresholds, 'input.budgetAlertThresholds');
  }
  return out;
}

/** A Postgres error of this SQLSTATE, from either driver (postgres.js or PGlite), possibly wrapped by drizzle. */
function hasPgCode(err: unknown, code: string): boolean {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.code === code) return true;
  }
  return false;
}

export type TeamService = ReturnType<typeof createTeamService>;

export function createTeamService(db: Db, keys: Pick<KeyService, 'teamChanged'>) {
  async function nameTaken(name: string, exceptId?: string): Promise<boolean> {
    const rows = await db
      .select({ id: teams.id })
      .from(teams)
      .where(exceptId ? and(eq(teams.name, name), ne(teams.id, exceptId)) : eq(teams.name, name))
      .limit(1);
    return rows.length > 0;
  }

  const duplicate = (name: string) => badInput('input.name', `a team named "${name}" already exists`);

  /** Writes, and answers a unique-name race lost to another writer as the duplicate it is. */
  async function writing<T>(name: string | undefined, write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (err) {
      if (name && hasPgCode(err, '23505')) throw duplicate(name);
      throw err;
    }
  }

  async function byId(id: string): Promise<TeamRow> {
    if (!isUuid(id)) throw notFound('Team', id);
    const [row] = await db.select().from(teams).where(eq(teams.id, id));
    if (!row) throw notFound('Team', id);
    return row;
  }

  return {
    byId,

    /** By id; null where there is none. */
    byIds: (ids: readonly string[]): Promise<Array<TeamRow | null>> => byIdsInOrder(ids, (valid) => db.select().from(teams).where(inArray(teams.id, valid))),

    list: () => db.select().from(teams).orderBy(asc(teams.name)),

    async create(input: CreateTeamInput): Promise<TeamRow> {
      const cols = columns({ ...input, name: checkName(input.name, 'input.name') });
      const name = cols.name!;
      if (await nameTaken(name)) throw duplicate(name);
      const [row] = await writing(name, () => db.insert(teams).values({ ...cols, name }).returning());
      return row;
    },

    async update(id: string, input: TeamInput): Promise<TeamRow> {
      const cols = columns(input);
      const current = await byId(id);
      if (!Object.keys(cols).length) return current;
      if (cols.name && (await nameTaken(cols.name, id))) throw duplicate(cols.name);
      const [row] = await writing(cols.name, () => db.update(teams).set(cols).where(eq(teams.id, id)).returning());
      // its keys carry the team's limits and models in their cached lookups, on every instance
      await keys.teamChanged(id);
      return row;
    },

    /**
     * Refused while a usable-or-not unrevoked key or a prompt still belongs to it. Its revoked keys leave the team
     * (their usage records keep the team id), so the team's name can be used again.
     */
    async delete(id: string): Promise<TeamRow> {
      const current = await byId(id);
      const [[liveKey], [prompt]] = await Promise.all([
        db.select({ id: apiKeys.id }).from(apiKeys).where(and(eq(apiKeys.teamId, id), isNull(apiKeys.revokedAt))).limit(1),
        db.select({ id: prompts.id }).from(prompts).where(eq(prompts.teamId, id)).limit(1),
      ]);
      if (liveKey) throw badInput('id', `team "${current.name}" still has API keys: revoke them or move them to another team first`);
      if (prompt) throw badInput('id', `team "${current.name}" still has prompt templates`);
      try {
        await db.transaction(async (tx) => {
          await tx.update(apiKeys).set({ teamId: null }).where(and(eq(apiKeys.teamId, id), isNotNull(apiKeys.revokedAt)));
          await tx.delete(teams).where(eq(teams.id, id));
        });
      } catch (err) {
        // a key or prompt joined the team since the check: the foreign keys refuse the delete
        if (hasPgCode(err, '23503')) throw badInput('id', `team "${current.name}" still has API keys or prompt templates`);
        throw err;
      }
      return current;
    },
  };
}
