/*
 * Delivers budget alerts to webhooks: a signed POST per alert and webhook, retried with exponential backoff, each
 * attempt recorded in webhook_deliveries. Runs on timers, never on a call's path. A periodic sweep (and the start)
 * resumes deliveries left PENDING by a stopped or dead instance once their backoff has passed; every try is claimed in
 * the database first, and only when due, so a sweep and a live retrier (here or on another instance) never both send one.
 */
import { createHmac } from 'node:crypto';
import { encodeGlobalID } from '@pothos/plugin-relay';
import { and, eq, isNull, lte, or, sql } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Db } from '../db/client.js';
import { apiKeys, budgetAlerts, teams, webhookDeliveries, webhooks, type BudgetAlertRow, type WebhookRow } from '../db/schema.js';
import type { SecretBox } from '../security/secret-box.js';
import { lazyRequire } from '../util/lazy-require.js';
import { privateAddressOf, publicOnlyDispatcher } from './webhook-address.js';

/** Loaded with the first delivery. */
const undici = lazyRequire<typeof import('undici')>('undici');

export interface WebhookDeliveryOptions {
  /** The wait before the first retry; each next one waits twice as long. @default 1000 */
  retryBaseMs: number;
  /** Tries per delivery, the first included; then it is FAILED. @default 8 */
  maxAttempts: number;
  /** How long one try may take. @default 5000 */
  timeoutMs: number;
  /** true: a TEAM_ADMIN's webhook may reach non-public addresses too. @default false */
  allowPrivateAddresses: boolean;
  /** How often PENDING deliveries are looked for (those of an instance that died). @default 30000 */
  sweepMs?: number;
}

// a timer may fire a little before its delay is up: tries due this much later still count as due
const DUE_SLACK_MS = 50;

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
  // deliveries with a timer here: the sweep leaves them to it
  const scheduled = new Set<string>();
  const backoffMs = (attempts: number): number => (attempts === 0 ? 0 : opts.retryBaseMs * 2 ** (attempts - 1));
  const inFlight = new Set<Promise<void>>();
  let stopped = false;
  // one pool for restricted webhooks: its connections resolve and check the address they connect to
  let publicOnly: ReturnType<typeof publicOnlyDispatcher> | undefined;

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
    const restricted = hook.publicOnly && !opts.allowPrivateAddresses;
    try {
      if (restricted) {
        // the name may resolve elsewhere than at creation (DNS rebinding); literals never reach the dispatcher's lookup
        const bad = await privateAddressOf(new URL(hook.url).hostname);
        if (bad) return { ok: false, error: `refused: the webhook's host resolves to the non-public address ${bad}` };
      }
      const res = await undici().fetch(hook.url, {
        dispatcher: restricted ? (publicOnly ??= publicOnlyDispatcher()) : undefined,
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

  async function attempt(deliveryId: string, early: boolean): Promise<void> {
    const [row] = await db
      .select({ d: webhookDeliveries, hook: webhooks, alert: budgetAlerts })
      .from(webhookDeliveries)
      .innerJoin(webhooks, eq(webhookDeliveries.webhookId, webhooks.id))
      .innerJoin(budgetAlerts, eq(webhookDeliveries.alertId, budgetAlerts.id))
      .where(eq(webhookDeliveries.id, deliveryId));
    // deleted meanwhile (its deliveries with it), or finished by another run: nothing to send
    if (!row || row.d.status !== 'PENDING') return;
    if (!row.hook.enabled) {
      // not PENDING forever: a disabled webhook's deliveries are given up
      await db
        .update(webhookDeliveries)
        .set({ status: 'FAILED', lastError: 'webhook disabled' })
        .where(and(eq(webhookDeliveries.id, deliveryId), eq(webhookDeliveries.status, 'PENDING')));
      return;
    }
    // the try is claimed before it is made, and only once due: of a sweep and a retrier (on any instance), one sends
    // each try. While it is under way, last_attempt_at is when it will have timed out, so no sweep takes it meanwhile.
    // `early` (a start): the previous run's wait is not kept, but a try under way elsewhere still is.
    const now = Date.now();
    const [claimed] = await db
      .update(webhookDeliveries)
      .set({ attempts: sql`${webhookDeliveries.attempts} + 1`, lastAttemptAt: new Date(now + opts.timeoutMs) })
      .where(
        and(
          eq(webhookDeliveries.id, deliveryId),
          eq(webhookDeliveries.status, 'PENDING'),
          eq(webhookDeliveries.attempts, row.d.attempts),
          or(isNull(webhookDeliveries.lastAttemptAt), lte(webhookDeliveries.lastAttemptAt, new Date(now - (early ? 0 : backoffMs(row.d.attempts)) + DUE_SLACK_MS))),
        ),
      )
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
      .set({ status: gaveUp ? 'FAILED' : 'PENDING', lastError: outcome.error ?? null, lastAttemptAt: new Date() })
      .where(eq(webhookDeliveries.id, deliveryId));
    const fields = { delivery: deliveryId, webhook: row.hook.id, url: row.hook.url, attempts, error: outcome.error };
    if (gaveUp) log.warn(fields, 'budget alert webhook: delivery failed, giving up');
    else {
      log.info(fields, 'budget alert webhook: delivery failed; will retry');
      schedule(deliveryId, opts.retryBaseMs * 2 ** (attempts - 1));
    }
  }

  function run(deliveryId: string, early = false): void {
    const p = attempt(deliveryId, early)
      .catch((err: unknown) => {
        // the database is away: try again later rather than drop the delivery
        log.warn({ err, delivery: deliveryId }, 'budget alert webhook: delivery state unreadable; will retry');
        schedule(deliveryId, opts.retryBaseMs * 4);
      })
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  }

  function schedule(deliveryId: string, delayMs: number, early = false): void {
    if (stopped) return;
    scheduled.add(deliveryId);
    const t = setTimeout(() => {
      timers.delete(t);
      scheduled.delete(deliveryId);
      run(deliveryId, early);
    }, delayMs);
    t.unref();
    timers.add(t);
  }

  /** PENDING deliveries whose next try is due and that no timer here waits for: left by a stop, a crash, another instance. */
  async function sweep(early: boolean): Promise<number> {
    const rows = await db
      .select({ id: webhookDeliveries.id, attempts: webhookDeliveries.attempts, lastAttemptAt: webhookDeliveries.lastAttemptAt })
      .from(webhookDeliveries)
      .where(eq(webhookDeliveries.status, 'PENDING'));
    const now = Date.now();
    let n = 0;
    for (const r of rows) {
      if (scheduled.has(r.id)) continue;
      if (r.lastAttemptAt && r.lastAttemptAt.getTime() + (early ? 0 : backoffMs(r.attempts)) > now) continue;
      schedule(r.id, 0, early);
      n++;
    }
    return n;
  }

  const sweeper = setInterval(() => {
    sweep(false).then(
      (n) => n && log.info({ deliveries: n }, 'budget alert webhooks: resuming pending deliveries'),
      (err: unknown) => log.warn({ err }, 'budget alert webhooks: pending deliveries not swept'),
    );
  }, opts.sweepMs ?? 30_000);
  sweeper.unref();

  return {
    /**
     * The alert's deliveries, one per enabled webhook that receives it (gateway-wide ones, and its team's), inserted
     * with `q`: the transaction that claims the alert, so an alert never exists without them. Nothing is sent until
     * `start` (after the commit).
     */
    async queue(q: Pick<Db, 'select' | 'insert'>, alert: BudgetAlertRow): Promise<string[]> {
      const hooks = await q
        .select({ id: webhooks.id })
        .from(webhooks)
        .where(and(eq(webhooks.enabled, true), alert.teamId ? or(isNull(webhooks.teamId), eq(webhooks.teamId, alert.teamId)) : isNull(webhooks.teamId)));
      if (!hooks.length) return [];
      const rows = await q
        .insert(webhookDeliveries)
        .values(hooks.map((h) => ({ alertId: alert.id, webhookId: h.id })))
        .onConflictDoNothing()
        .returning({ id: webhookDeliveries.id });
      return rows.map((r) => r.id);
    },

    /** Sends queued deliveries (committed). */
    start(ids: readonly string[]): void {
      for (const id of ids) schedule(id, 0);
    },

    /** Start-up: picks up the deliveries a previous run left PENDING, without waiting out its backoff. */
    resumePending: () => sweep(true),

    /** No new tries; waits for those under way (each is bounded by timeoutMs). */
    async stop(): Promise<void> {
      stopped = true;
      clearInterval(sweeper);
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await Promise.allSettled([...inFlight]);
      await publicOnly?.close().catch(() => {});
    },
  };
}
