/* Webhooks that receive budget alerts: gateway-wide ones (ADMIN) and a team's own (its TEAM_ADMIN or ADMIN). */
import { randomBytes } from 'node:crypto';
import { desc, eq, inArray } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { teams, webhooks, type WebhookRow } from '../db/schema.js';
import { badInput, forbidden, notFound } from '../errors.js';
import type { SecretBox } from '../security/secret-box.js';
import { isUuid } from '../util/input-rules.js';
import { managedTeamId, managesTeamObject } from './access.js';
import type { Principal } from './keys.js';

export interface CreateWebhookInput {
  url: string;
  description?: string | null;
  /** The team's id (the schema decodes its global id); null or omitted: gateway-wide, or the TEAM_ADMIN's team. */
  teamId?: string | null;
}

const MAX_URL = 2048;
const MAX_DESCRIPTION = 500;

function checkUrl(url: string): string {
  const trimmed = url.trim();
  let u: URL;
  try {
    u = new URL(trimmed);
  } catch {
    throw badInput('input.url', 'must be an absolute http(s) URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw badInput('input.url', 'must be an absolute http(s) URL');
  if (trimmed.length > MAX_URL) throw badInput('input.url', `must be at most ${MAX_URL} characters`);
  if (u.username || u.password) throw badInput('input.url', 'must not carry credentials: the signature authenticates the gateway');
  return trimmed;
}

export type WebhookService = ReturnType<typeof createWebhookService>;

export function createWebhookService(db: Db, box: SecretBox) {
  return {
    /** @param teamId null: every webhook */
    list: (teamId: string | null): Promise<WebhookRow[]> =>
      db
        .select()
        .from(webhooks)
        .where(teamId ? eq(webhooks.teamId, teamId) : undefined)
        .orderBy(desc(webhooks.createdAt), desc(webhooks.id)),

    async byIds(ids: readonly string[]): Promise<Array<WebhookRow | null>> {
      const valid = ids.filter(isUuid);
      const rows = valid.length ? await db.select().from(webhooks).where(inArray(webhooks.id, valid)) : [];
      const found = new Map(rows.map((r) => [r.id, r]));
      return ids.map((id) => found.get(id) ?? null);
    },

    /** The signing secret is returned here only (whsec_...); it is stored sealed. */
    async create(by: Principal, input: CreateWebhookInput): Promise<{ webhook: WebhookRow; secret: string }> {
      const managed = managedTeamId(by);
      if (managed === undefined) throw forbidden('Only ADMIN and TEAM_ADMIN keys manage webhooks');
      const url = checkUrl(input.url);
      if (input.description != null && input.description.length > MAX_DESCRIPTION) {
        throw badInput('input.description', `must be at most ${MAX_DESCRIPTION} characters`);
      }
      let teamId = input.teamId ?? null;
      if (managed !== null) {
        // a TEAM_ADMIN's webhooks are its team's
        if (teamId !== null && teamId !== managed) throw forbidden("A TEAM_ADMIN key creates webhooks for its own team only");
        teamId = managed;
      } else if (teamId !== null) {
        const [team] = isUuid(teamId) ? await db.select({ id: teams.id }).from(teams).where(eq(teams.id, teamId)) : [];
        if (!team) throw badInput('input.team', 'no such team');
      }
      const secret = `whsec_${randomBytes(24).toString('base64url')}`;
      const [webhook] = await db
        .insert(webhooks)
        .values({ url, description: input.description ?? null, teamId, secretEnc: box.seal(secret) })
        .returning();
      return { webhook, secret };
    },

    /** Another team's webhook is answered as one that does not exist. */
    async delete(by: Principal, id: string): Promise<WebhookRow> {
      const [row] = isUuid(id) ? await db.select().from(webhooks).where(eq(webhooks.id, id)) : [];
      if (!row || !managesTeamObject(by, row.teamId)) throw notFound('Webhook', id);
      await db.delete(webhooks).where(eq(webhooks.id, id));
      return row;
    },
  };
}
