/*
 * Budget alerts: after a call settles, each key's and team's month counter is compared with its thresholds. A
 * crossing is claimed once per subject, month and threshold by the unique index (across every instance); the
 * instance whose insert wins queues its webhook deliveries in the same transaction, then publishes it, logs it and
 * sends them.
 */
import { and, desc, eq, inArray, type SQL } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Db } from '../db/client.js';
import { budgetAlerts, type BudgetAlertRow } from '../db/schema.js';
import type { BudgetReading } from '../gateway/limits.js';
import type { BudgetAlertScope } from './access.js';
import { effectiveThresholds } from './limit-inputs.js';
import type { TeamEvents } from './team-events.js';
import type { WebhookDelivery } from './webhook-delivery.js';
import { byIdsInOrder } from '../db/by-ids.js';

/** Claims remembered per instance, so a subject over a threshold asks the database once, not on every call. */
const MAX_REMEMBERED = 100_000;

export type BudgetAlertService = ReturnType<typeof createBudgetAlertService>;

export function createBudgetAlertService(db: Db, deps: { events: TeamEvents; deliveries: Pick<WebhookDelivery, 'queue' | 'start'>; log: Logger }) {
  // subject/period/threshold already claimed (by any instance) or being claimed now
  const claimed = new Set<string>();

  async function claim(r: BudgetReading, threshold: number): Promise<void> {
    // the alert and its deliveries together: a failure between them would leave an alert no webhook ever receives
    const won = await db.transaction(async (tx) => {
      const [row] = await tx
        .insert(budgetAlerts)
        .values({
          subjectKind: r.subjectKind,
          subjectId: r.subjectId,
          teamId: r.teamId,
          period: r.period,
          threshold,
          budgetUsd: r.budgetUsd,
          spentUsd: r.spentUsd,
        })
        .onConflictDoNothing()
        .returning();
      // another instance (or an earlier run) raised it
      if (!row) return undefined;
      return { alert: row, deliveries: await deps.deliveries.queue(tx, row) };
    });
    if (!won) return;
    const { alert } = won;
    deps.events.budgetAlertRaised(alert);
    deps.log.warn(
      { alert: alert.id, subjectKind: alert.subjectKind, subjectId: alert.subjectId, teamId: alert.teamId, period: alert.period, threshold, budgetUsd: alert.budgetUsd, spentUsd: alert.spentUsd },
      `budget alert: ${Math.round(threshold * 100)} % of the monthly budget reached`,
    );
    deps.deliveries.start(won.deliveries);
  }

  return {
    /** A settled month counter; never throws, never blocks the caller (the work runs on its own). */
    observe(r: BudgetReading): void {
      if (!(r.budgetUsd > 0)) return;
      for (const threshold of effectiveThresholds(r.thresholds)) {
        if (r.spentUsd < threshold * r.budgetUsd) continue;
        const mark = `${r.subjectKind}:${r.subjectId}:${r.period}:${threshold}`;
        if (claimed.has(mark)) continue;
        if (claimed.size >= MAX_REMEMBERED) claimed.clear();
        claimed.add(mark);
        claim(r, threshold).catch((err: unknown) => {
          // not claimed: the next settled call tries again
          claimed.delete(mark);
          deps.log.warn({ err, subjectKind: r.subjectKind, subjectId: r.subjectId, threshold }, 'budget alert: could not be recorded; will retry on the next call');
        });
      }
    },

    /** Alerts by id, null where there is none (node loading). */
    byIds: (ids: readonly string[]): Promise<Array<BudgetAlertRow | null>> => byIdsInOrder(ids, (valid) => db.select().from(budgetAlerts).where(inArray(budgetAlerts.id, valid))),

    /** Newest first, as the scope allows. */
    list(scope: BudgetAlertScope, first: number): Promise<BudgetAlertRow[]> {
      let where: SQL | undefined;
      if ('teamId' in scope) where = eq(budgetAlerts.teamId, scope.teamId);
      else if ('apiKeyId' in scope) where = and(eq(budgetAlerts.subjectKind, 'API_KEY'), eq(budgetAlerts.subjectId, scope.apiKeyId));
      return db.select().from(budgetAlerts).where(where).orderBy(desc(budgetAlerts.createdAt), desc(budgetAlerts.id)).limit(first);
    },
  };
}
