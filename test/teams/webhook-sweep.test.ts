/*
 * Deliveries left PENDING by an instance that stopped (or died) are resumed by another instance's periodic sweep once
 * their backoff has passed; while instances sweep and retry side by side, each try is sent once.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway } from '../kit/start-gateway.js';
import { ok, waitFor } from '../graphql/helpers.js';
import { chat, freshDatabase, TEST_DATABASE_URL } from '../limits/kit.js';
import { createModel } from './access-kit.js';

const CREATE_WEBHOOK = 'mutation($input: CreateWebhookInput!) { createWebhook(input: $input) { webhook { id } } }';

interface Try {
  delivery: string;
  status: number;
  at: number;
}

async function startReceiver(statusFor: (tryNumber: number) => number) {
  const tries: Try[] = [];
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const delivery = String(req.headers['x-gateway-delivery']);
      const status = statusFor(tries.filter((t) => t.delivery === delivery).length + 1);
      tries.push({ delivery, status, at: Date.now() });
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, tries, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe.skipIf(!TEST_DATABASE_URL)('webhook delivery sweep (Postgres)', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  beforeAll(async () => {
    db = await freshDatabase(TEST_DATABASE_URL!);
  });
  afterAll(async () => {
    await db?.drop();
  });

  it("a running instance resumes a stopped instance's pending delivery after its backoff", async () => {
    let accepting = false;
    const receiver = await startReceiver(() => (accepting ? 200 : 503));
    const env = { DATABASE_URL: db.url, WEBHOOK_RETRY_BASE_MS: '1000', WEBHOOK_MAX_ATTEMPTS: '5' };
    const a = await startGateway(env);
    // started before the delivery exists: its start-time resume finds nothing
    const b = await startGateway(env, { webhookSweepMs: 200 });
    let aStopped = false;
    try {
      const priced = await createModel(a, { inputPricePerMTok: 1_000_000, outputPricePerMTok: 1_000_000 });
      const key = await a.createKey({ limits: { monthlyBudgetUsd: 10 }, budgetAlertThresholds: [0.5] });
      ok(await a.gql(CREATE_WEBHOOK, { input: { url: `${receiver.url}/hook` } }));
      expect((await chat(a, key.secret, { model: priced, maxTokens: 10 })).ok).toBe(true);
      await waitFor(() => receiver.tries.length >= 1, 'the first, refused try');
      await a.stop();
      aStopped = true;
      accepting = true;
      await waitFor(() => receiver.tries.some((t) => t.status === 200), 'the delivery resumed by the sweep', 15_000);
      const [first, second] = receiver.tries;
      expect(receiver.tries).toHaveLength(2);
      expect(second!.delivery).toBe(first!.delivery);
      // not before the backoff (1 s after the refused try)
      expect(second!.at - first!.at).toBeGreaterThanOrEqual(900);
    } finally {
      if (!aStopped) await a.stop();
      await b.stop();
      await receiver.close();
    }
  }, 60_000);

  it('sweeps on two instances and a live retrier send each try once', async () => {
    const receiver = await startReceiver((n) => (n <= 2 ? 500 : 200));
    const env = { DATABASE_URL: db.url, WEBHOOK_RETRY_BASE_MS: '800', WEBHOOK_MAX_ATTEMPTS: '5' };
    const a = await startGateway(env, { webhookSweepMs: 50 });
    const b = await startGateway(env, { webhookSweepMs: 50 });
    try {
      const priced = await createModel(a, { inputPricePerMTok: 1_000_000, outputPricePerMTok: 1_000_000 });
      const key = await a.createKey({ limits: { monthlyBudgetUsd: 10 }, budgetAlertThresholds: [0.5] });
      ok(await a.gql(CREATE_WEBHOOK, { input: { url: `${receiver.url}/hook` } }));
      expect((await chat(a, key.secret, { model: priced, maxTokens: 10 })).ok).toBe(true);
      await waitFor(() => receiver.tries.some((t) => t.status === 200), 'the delivery', 20_000);
      await new Promise((r) => setTimeout(r, 1500));
      expect(receiver.tries.map((t) => t.status)).toEqual([500, 500, 200]);
      const gaps = receiver.tries.slice(1).map((t, i) => t.at - receiver.tries[i]!.at);
      expect(gaps[0]).toBeGreaterThanOrEqual(700);
      expect(gaps[1]).toBeGreaterThanOrEqual(1500);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
      await receiver.close();
    }
  }, 60_000);
});
