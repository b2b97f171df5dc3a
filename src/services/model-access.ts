/*
 * Model access on approval: a team asks for a model that requires approval, ADMIN approves or rejects. A decision
 * reaches every instance's key cache (keys.teamChanged) and the modelAccessRequests subscription.
 */
import { and, desc, eq, inArray, type SQL } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { modelAccessRequests, models, type ModelAccessRequestRow } from '../db/schema.js';
import { badInput, forbidden, modelNotFound, notFound } from '../errors.js';
import { isUuid } from '../util/input-rules.js';
import type { AccessStatus } from './access.js';
import type { KeyService, Principal } from './keys.js';
import type { TeamEvents } from './team-events.js';
import { byIdsInOrder } from '../db/by-ids.js';

const MAX_REASON = 2000;
const MAX_NOTE = 2000;

export type ModelAccessService = ReturnType<typeof createModelAccessService>;

export function createModelAccessService(db: Db, deps: { keys: Pick<KeyService, 'teamChanged'>; events: TeamEvents }) {
  async function byId(id: string): Promise<ModelAccessRequestRow> {
    const [row] = isUuid(id) ? await db.select().from(modelAccessRequests).where(eq(modelAccessRequests.id, id)) : [];
    if (!row) throw notFound('ModelAccessRequest', id);
    return row;
  }

  async function decide(id: string, status: 'APPROVED' | 'REJECTED', note: string | null | undefined, by: Principal): Promise<ModelAccessRequestRow> {
    if (note != null && note.length > MAX_NOTE) throw badInput('note', `must be at most ${MAX_NOTE} characters`);
    await byId(id);
    const [row] = await db
      .update(modelAccessRequests)
      .set({ status, decisionNote: note ?? null, decidedAt: new Date(), decidedByKeyId: by.key.id, updatedAt: new Date() })
      .where(eq(modelAccessRequests.id, id))
      .returning();
    await deps.keys.teamChanged(row.teamId);
    deps.events.modelAccessChanged(row);
    return row;
  }

  return {
    byId,

    /** Requests by id, null where there is none (node loading). */
    byIds: (ids: readonly string[]): Promise<Array<ModelAccessRequestRow | null>> => byIdsInOrder(ids, (valid) => db.select().from(modelAccessRequests).where(inArray(modelAccessRequests.id, valid))),

    /** @param teamId null: every team's */
    list(teamId: string | null, status?: AccessStatus | null): Promise<ModelAccessRequestRow[]> {
      const where: SQL[] = [];
      if (teamId) where.push(eq(modelAccessRequests.teamId, teamId));
      if (status) where.push(eq(modelAccessRequests.status, status));
      return db
        .select()
        .from(modelAccessRequests)
        .where(and(...where))
        .orderBy(desc(modelAccessRequests.updatedAt), desc(modelAccessRequests.id));
    },

    /** A team's request status for each model it asked for. */
    async statusesOf(teamId: string): Promise<Map<string, AccessStatus>> {
      const rows = await db.select({ model: modelAccessRequests.model, status: modelAccessRequests.status }).from(modelAccessRequests).where(eq(modelAccessRequests.teamId, teamId));
      return new Map(rows.map((r) => [r.model, r.status as AccessStatus]));
    },

    async statusOf(teamId: string, model: string): Promise<AccessStatus | null> {
      const [row] = await db
        .select({ status: modelAccessRequests.status })
        .from(modelAccessRequests)
        .where(and(eq(modelAccessRequests.teamId, teamId), eq(modelAccessRequests.model, model)));
      return (row?.status as AccessStatus | undefined) ?? null;
    },

    /**
     * The caller's team asks for a model. A PENDING or APPROVED request is answered unchanged; a REJECTED one goes
     * back to PENDING with the new reason.
     */
    async request(by: Principal, input: { model: string; reason: string }): Promise<ModelAccessRequestRow> {
      if (!by.team) throw forbidden('Only keys of a team can request model access: the access is granted to the team');
      const reason = input.reason.trim();
      if (!reason) throw badInput('input.reason', 'must not be empty');
      if (input.reason.length > MAX_REASON) throw badInput('input.reason', `must be at most ${MAX_REASON} characters`);
      const [model] = await db.select({ name: models.name, requiresApproval: models.requiresApproval }).from(models).where(eq(models.name, input.model));
      if (!model) throw modelNotFound(input.model);
      if (!model.requiresApproval) throw badInput('input.model', `model "${input.model}" does not require approval: every key allowed to use it may invoke it`);
      const teamId = by.team.id;
      const [created] = await db
        .insert(modelAccessRequests)
        .values({ teamId, model: model.name, reason, requestedByKeyId: by.key.id })
        .onConflictDoNothing()
        .returning();
      if (created) {
        deps.events.modelAccessChanged(created);
        return created;
      }
      // one request per team and model: a rejected one is asked again, others stay as they are
      const [reopened] = await db
        .update(modelAccessRequests)
        .set({ status: 'PENDING', reason, requestedByKeyId: by.key.id, decisionNote: null, decidedAt: null, decidedByKeyId: null, updatedAt: new Date() })
        .where(and(eq(modelAccessRequests.teamId, teamId), eq(modelAccessRequests.model, model.name), eq(modelAccessRequests.status, 'REJECTED')))
        .returning();
      if (reopened) {
        deps.events.modelAccessChanged(reopened);
        return reopened;
      }
      const [existing] = await db
        .select()
        .from(modelAccessRequests)
        .where(and(eq(modelAccessRequests.teamId, teamId), eq(modelAccessRequests.model, model.name)));
      return existing;
    },

    approve: (id: string, note: string | null | undefined, by: Principal) => decide(id, 'APPROVED', note, by),
    reject: (id: string, note: string | null | undefined, by: Principal) => decide(id, 'REJECTED', note, by),
  };
}
