/* Webhooks that receive budget alerts: gateway-wide ones (ADMIN) and a team's own (its TEAM_ADMIN or ADMIN). */
import { randomBytes } from 'node:crypto';
import { count, desc, eq, inArray } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { teams, webhooks, type WebhookRow } from '../db/schema.js';
import { badInput, forbidden, notFound } from '../errors.js';
import type { SecretBox } from '../security/secret-box.js';
import { isUuid } from '../util/input-rules.js';
import { managedTeamId, managesTeamObject } from './access.js';
import type { Principal } from './keys.js';
import { privateAddressOf } from './webhook-address.js';
import { byIdsInOrder } from '../db/by-ids.js';

export interface CreateWebhookInput {
  url: string;
  description?: string | null;
  /** The team's id (the schema decodes its global id); null or omitted: gateway-wide, or the TEAM_ADMIN's team. */
  teamId?: string | null;
}

const MAX_URL = 2048;
const MAX_DESCRIPTION = 500;
/** Webhooks per team: each alert is sent to every one of them. */
const MAX_WEBHOOKS_PER_TEAM = 20;

function checkUrl(url: string): { url: string; hostname: string } {
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
  return { url: trimmed, hostname: u.hostname };
}

/** A TEAM_ADMIN's webhook must point at a public address (checked again on every try). */
async function checkPublic(hostname: string): Promise<void> {
  let bad: string | undefined;
  try {
    bad = await privateAddressOf(hostname);
  } catch {
    throw badInput('input.url', `the host ${hostname} does not resolve`);
  }
  if (bad) throw badInput('input.url', `must not point at a loopback, private or link-local address (${hostname} is ${bad})`);
}

export type WebhookService = ReturnType<typeof createWebhookService>;

export function createWebhookService(db: Db, box: SecretBox, opts: { allowPrivateAddresses: boolean }) {
  return {
    /** @param teamId null: every webhook */
    list: (teamId: string | null): Promise<WebhookRow[]> =>
      db
        .select()
        .from(webhooks)
        .where(teamId ? eq(webhooks.teamId, teamId) : undefined)
        .orderBy(desc(webhooks.createdAt), desc(webhooks.id)),

    byIds: (ids: readonly string[]): Promise<Array<WebhookRow | null>> => byIdsInOrder(ids, (valid) => db.select().from(webhooks).where(inArray(webhooks.id, valid))),

    /** The signing secret is returned here only (whsec_...); it is stored sealed. */
    async create(by: Principal, input: CreateWebhookInput): Promise<{ webhook: WebhookRow; secret: string }> {
      const managed = managedTeamId(by);
      if (managed === undefined) throw forbidden('Only ADMIN and TEAM_ADMIN keys manage webhooks');
      const { url, hostname } = checkUrl(input.url);
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
      // ADMIN's webhooks may point anywhere (an internal alerting service); a team admin's only at public addresses
      const publicOnly = managed !== null;
      if (publicOnly && !opts.allowPrivateAddresses) await checkPublic(hostname);
      if (teamId !== null) {
        const [{ n }] = await db.select({ n: count() }).from(webhooks).where(eq(webhooks.teamId, teamId));
        if (n >= MAX_WEBHOOKS_PER_TEAM) throw badInput('input.team', `a team has at most ${MAX_WEBHOOKS_PER_TEAM} webhooks`);
      }
      const secret = `whsec_${randomBytes(24).toString('base64url')}`;
      const [webhook] = await db
        .insert(webhooks)
        .values({ url, description: input.description ?? null, teamId, secretEnc: box.seal(secret), publicOnly })
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
