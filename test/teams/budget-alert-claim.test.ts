/*
 * A budget alert and its webhook deliveries are written together: when queueing the deliveries fails, the alert is
 * not claimed either, so the next settled call raises it again, this time with its deliveries.
 */
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from '../../src/config.js';
import { createDatabase, type Database } from '../../src/db/client.js';
import { budgetAlerts, webhookDeliveries, webhooks } from '../../src/db/schema.js';
import { createSecretBox } from '../../src/security/secret-box.js';
import { createBudgetAlertService } from '../../src/services/budget-alerts.js';
import { createWebhookDelivery } from '../../src/services/webhook-delivery.js';
import type { BudgetAlertRow } from '../../src/db/schema.js';
import { waitFor } from '../graphql/helpers.js';

describe('budget alert claim', () => {
  let database: Database;
  beforeAll(async () => {
    database = await createDatabase(testConfig().db);
    await database.migrate();
  });
  afterAll(async () => {
    await database?.close();
  });

  it('a failure while queueing the deliveries leaves neither the alert nor its deliveries; the next call raises both', async () => {
    const { db } = database;
    const box = createSecretBox('test-secret-test-secret');
    const log = pino({ level: 'silent' });
    await db.insert(webhooks).values({ url: 'http://8.8.8.8/hook', secretEnc: box.seal('whsec_x') });
    const real = createWebhookDelivery(db, box, log, { retryBaseMs: 1000, maxAttempts: 1, timeoutMs: 1000, allowPrivateAddresses: false });
    let failures = 1;
    const started: string[] = [];
    const raised: BudgetAlertRow[] = [];
    const service = createBudgetAlertService(db, {
      events: { budgetAlertRaised: (row: BudgetAlertRow) => raised.push(row) } as never,
      log,
      deliveries: {
        // the deliveries are written, then the step fails (a lost connection, a crash) before the claim completes
        async queue(q, alert) {
          const ids = await real.queue(q, alert);
          if (failures-- > 0) throw new Error('connection lost');
          return ids;
        },
        start: (ids) => started.push(...ids),
      },
    });
    const reading = { subjectKind: 'API_KEY' as const, subjectId: randomUUID(), teamId: null, period: '2026-12', spentUsd: 6, budgetUsd: 10, thresholds: [0.5] };

    service.observe(reading);
    await waitFor(() => failures <= 0, 'the failed claim');
    await new Promise((r) => setTimeout(r, 300));
    expect(await db.select().from(budgetAlerts)).toEqual([]);
    expect(await db.select().from(webhookDeliveries)).toEqual([]);
    expect(raised).toEqual([]);

    service.observe(reading);
    await waitFor(() => started.length === 1, 'the delivery started');
    const alerts = await db.select().from(budgetAlerts);
    expect(alerts).toHaveLength(1);
    const deliveries = await db.select().from(webhookDeliveries);
    expect(deliveries.map((d) => [d.id, d.alertId])).toEqual([[started[0], alerts[0]!.id]]);
    expect(raised.map((a) => a.id)).toEqual([alerts[0]!.id]);
    await real.stop();
  });
});
