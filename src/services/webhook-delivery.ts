/*
 * Delivers budget alerts to webhooks: a signed POST per alert and webhook, retried with exponential backoff, each
 * attempt recorded in webhook_deliveries. Runs on timers, never on a call's path; deliveries left PENDING by a stop
 * are resumed at the next start.
 */
import { createHmac } from 'node:crypto';
import { encodeGlobalID } from '@pothos/plugin-relay';
import { and, eq, isNull, or, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Db } from '../db/client.js';
import { apiKeys, budgetAlerts, teams, webhookDeliveries, webhooks, type BudgetAlertRow, type WebhookRow } from '../db/schema.js';
import type { SecretBox } from '../security/secret-box.js';

export interface WebhookDeliveryOptions {
  /** The wait before the first retry; each next one waits twice as long. @default 1000 */
  retryBaseMs: number;
  /** Tries per delivery, the first included; then it is FAILED. @default 8 */
  maxAttempts: number;
  /** How long one try may take. @default 5000 */
  timeoutMs: number;
}

const WEBHOOK_EVENT = 'budget.threshold_crossed';

/** `x-gateway-signature`: HMAC-SHA256 of "<timestamp>.<body>" with the webhook's secret, so a receiver can check both. */
const signWebhookBody = (secret: string, timestamp: number, body: string): string =>
  `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;

/**
 * The JSON body of an alert; the same on every retry (a receiver can deduplicate by `id`). Ids are the API's global
 * ids (BudgetAlert.id, ApiKey.id, Team.id), so a receiver can look them up with `node(id:)` or `budgetAlerts`.
 */
function alertBody(alert: BudgetAlertRow, subjectName: string | null): string {
  return JSON.stringify({
    id: encodeGlobalID('BudgetAlert', alert.id),
    type: WEBHOOK_EVENT,
    createdAt: alert.createdAt.toISOString(),
    subject: { kind: alert.subjectKind, id: encodeGlobalID(alert.subjectKind === 'TEAM' ? 'Team' : 'ApiKey', alert.subjectId), name: subjectName },
    teamId: alert.teamId ? encodeGlobalID('Team', alert.teamId) : null,
    period: alert.period,
    threshold: alert.threshold,
    budgetUsd: alert.budgetUsd,
    spentUsd: alert.spentUsd,
  });
}

export type WebhookDelivery = ReturnType<typeof createWebhookDelivery>;

export function createWebhookDelivery(db: Db, box: SecretBox, log: Logger, opts: WebhookDeliveryOptions) {
  const timers = new Set<NodeJS.Timeout>();
  const inFlight = new Set<Promise<void>>();
  let stopped = false;

  async function subjectName(alert: BudgetAlertRow): Promise<string | null> {
    const [row] =
      alert.subjectKind === 'TEAM'
        ? await db.select({ name: teams.name }).from(teams).where(eq(teams.id, alert.subjectId))
        : await db.select({ name: apiKeys.name }).from(apiKeys).where(eq(apiKeys.id, alert.subjectId));
    return row?.name ?? null;
  }

  /** One try: whether the receiver took it, and why not. */
  async function post(deliveryId: string, hook: WebhookRow, body: string): Promise<{ ok: boolean; error?: string }> {
    const timestamp = Math.floor(Date.now() / 1000);
    try {
      const res = await fetch(hook.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-gateway-event': WEBHOOK_EVENT,
          'x-gateway-delivery': deliveryId,
          'x-gateway-timestamp': String(timestamp),
          'x-gateway-signature': signWebhookBody(box.open(hook.secretEnc), timestamp, body),
        },
        body,
        // a redirect is an answer, not a delivery: following it would send the signed alert somewhere unconfigured
        redirect: 'manual',
        signal: AbortSignal.timeout(opts.timeoutMs),
      });
      await res.body?.cancel().catch(() => {});
      return res.ok ? { ok: true } : { ok: false, error: `HTTP ${res.status}` };
    } catch (err) {
      return { ok: false, error: err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err) };
    }
  }

  async function attempt(deliveryId: string): Promise<void> {
    const [row] = await db
      .select({ d: webhookDeliveries, hook: webhooks, alert: budgetAlerts })
      .from(webhookDeliveries)
      .innerJoin(webhooks, eq(webhookDeliveries.webhookId, webhooks.id))
      .innerJoin(budgetAlerts, eq(webhookDeliveries.alertId, budgetAlerts.id))
      .where(eq(webhookDeliveries.id, deliveryId));
    // deleted or disabled meanwhile, or finished by another run: nothing to send
    if (!row || row.d.status !== 'PENDING' || !row.hook.enabled) return;
    // the try is claimed before it is made: of two instances resuming the same delivery, one sends each try
    const [claimed] = await db
      .update(webhookDeliveries)
      .set({ attempts: sql`${webhookDeliveries.attempts} + 1` })
      .where(and(eq(webhookDeliveries.id, deliveryId), eq(webhookDeliveries.status, 'PENDING'), eq(webhookDeliveries.attempts, row.d.attempts)))
      .returning({ attempts: webhookDeliveries.attempts });
    if (!claimed) return;
    const { attempts } = claimed;
    const outcome = await post(deliveryId, row.hook, alertBody(row.alert, await subjectName(row.alert)));
    if (outcome.ok) {
      await db.update(webhookDeliveries).set({ status: 'DELIVERED', lastError: null, deliveredAt: new Date() }).where(eq(webhookDeliveries.id, deliveryId));
      return;
    }
    const gaveUp = attempts >= opts.maxAttempts;
    await db
      .update(webhookDeliveries)
      .set({ status: gaveUp ? 'FAILED' : 'PENDING', lastError: outcome.error ?? null })
      .where(eq(webhookDeliveries.id, deliveryId));
    const fields = { delivery: deliveryId, webhook: row.hook.id, url: row.hook.url, attempts, error: outcome.error };
    if (gaveUp) log.warn(fields, 'budget alert webhook: delivery failed, giving up');
    else {
      log.info(fields, 'budget alert webhook: delivery failed; will retry');
      schedule(deliveryId, opts.retryBaseMs * 2 ** (attempts - 1));
    }
  }

  function run(deliveryId: string): void {
    const p = attempt(deliveryId)
      .catch((err: unknown) => {
        // the database is away: try again later rather than drop the delivery
        log.warn({ err, delivery: deliveryId }, 'budget alert webhook: delivery state unreadable; will retry');
        schedule(deliveryId, opts.retryBaseMs * 4);
      })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  }

  function schedule(deliveryId: string, delayMs: number): void {
    if (stopped) return;
    const t = setTimeout(() => {
      timers.delete(t);
      run(deliveryId);
    }, delayMs);
    t.unref();
    timers.add(t);
  }

  return {
    /** Queues the alert for every enabled webhook that receives it: gateway-wide ones, and its team's. */
    async enqueue(alert: BudgetAlertRow): Promise<void> {
      const hooks = await db
        .select({ id: webhooks.id })
        .from(webhooks)
        .where(and(eq(webhooks.enabled, true), alert.teamId ? or(isNull(webhooks.teamId), eq(webhooks.teamId, alert.teamId)) : isNull(webhooks.teamId)));
      if (!hooks.length) return;
      const rows = await db
        .insert(webhookDeliveries)
        .values(hooks.map((h) => ({ alertId: alert.id, webhookId: h.id })))
        .onConflictDoNothing()
        .returning({ id: webhookDeliveries.id });
      for (const r of rows) schedule(r.id, 0);
    },

    /** Start-up: picks up deliveries a previous run left PENDING. */
    async resumePending(): Promise<number> {
      const rows = await db.select({ id: webhookDeliveries.id }).from(webhookDeliveries).where(eq(webhookDeliveries.status, 'PENDING'));
      for (const r of rows) schedule(r.id, 0);
      return rows.length;
    },

    /** No new tries; waits for those under way (each is bounded by timeoutMs). */
    async stop(): Promise<void> {
      stopped = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await Promise.allSettled([...inFlight]);
    },
  };
}
