/*
 * Budget alerts end to end: a key and its team with small monthly budgets and a priced model; calls cross 50 %, 80 %
 * and 100 % of each; a webhook receiver that fails each delivery twice (slowly) gets every alert exactly once with a
 * valid signature, retries included; the budgetAlerts query and subscription show them; the calls never wait for it.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeGlobalId } from '../../src/schema/global-id.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { expectCode, ok, waitFor } from '../graphql/helpers.js';
import { chat, dropPrefix, freshDatabase, tally, TEST_DATABASE_URL, TEST_REDIS_URL, uniquePrefix, type ChatOutcome } from '../limits/kit.js';
import { createModel, createTeam, subscribe } from './access-kit.js';

const RECEIVER_HOLD_MS = 1500;

interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  at: number;
  answered: number;
}

/** By default answers each delivery (x-gateway-delivery) with 500 twice, slowly, then 200. */
async function startReceiver(
  statusFor: (tryNumber: number) => number = (n) => (n <= 2 ? 500 : 200),
): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const tries = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const delivery = String(req.headers['x-gateway-delivery']);
      const n = (tries.get(delivery) ?? 0) + 1;
      tries.set(delivery, n);
      const status = statusFor(n);
      received.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now(), answered: status });
      setTimeout(() => res.writeHead(status).end(), status === 500 ? RECEIVER_HOLD_MS : 0);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

function signatureValid(secret: string, r: Received): boolean {
  const ts = String(r.headers['x-gateway-timestamp']);
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(`${ts}.${r.body}`).digest('hex')}`);
  const got = Buffer.from(String(r.headers['x-gateway-signature']));
  return got.length === expected.length && timingSafeEqual(got, expected) && Math.abs(Date.now() / 1000 - Number(ts)) < 300;
}

interface AlertOut {
  id: string;
  subjectKind: 'TEAM' | 'API_KEY';
  team: { id: string } | null;
  apiKey: { id: string } | null;
  period: string;
  threshold: number;
  budgetUsd: number;
  spentUsd: number;
  createdAt: string;
}

const ALERT_FIELDS = 'id subjectKind team { id } apiKey { id } period threshold budgetUsd spentUsd createdAt';
const ALERTS = `query($first: Int) { budgetAlerts(first: $first) { ${ALERT_FIELDS} } }`;
const CREATE_WEBHOOK = 'mutation($input: CreateWebhookInput!) { createWebhook(input: $input) { secret webhook { id url description enabled team { id } } } }';
const WEBHOOKS = '{ webhooks { id url team { id } } }';
const DELETE_WEBHOOK = 'mutation($id: ID!) { deleteWebhook(id: $id) { id } }';

const period = () => new Date().toISOString().slice(0, 7);
const subjectOf = (a: { subjectKind: string; threshold: number }, id: string) => `${a.subjectKind}:${id}:${a.threshold}`;

describe('budget alerts and signed webhooks', () => {
  let gw: TestGateway;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  beforeAll(async () => {
    receiver = await startReceiver();
    gw = await startGateway({ WEBHOOK_RETRY_BASE_MS: '50', WEBHOOK_MAX_ATTEMPTS: '5', WEBHOOK_TIMEOUT_MS: '5000' });
  });
  afterAll(async () => {
    await gw?.stop();
    await receiver?.close();
  });

  it('webhooks: http(s) only, ADMIN or TEAM_ADMIN, a team admin sees and deletes its own team\'s only', async () => {
    const team = await createTeam(gw);
    const other = await createTeam(gw);
    const teamAdmin = (await gw.createKey({ scopes: ['TEAM_ADMIN'], team: team.id })).secret;
    const plain = (await gw.createKey({ scopes: ['INVOKE'], team: team.id })).secret;
    expectCode(await gw.gql(CREATE_WEBHOOK, { input: { url: 'ftp://example.com/hook' } }), 'BAD_USER_INPUT', 'input.url');
    expectCode(await gw.gql(CREATE_WEBHOOK, { input: { url: 'not a url' } }), 'BAD_USER_INPUT', 'input.url');
    expectCode(await gw.gql(CREATE_WEBHOOK, { input: { url: 'https://example.com/hook', description: 'x'.repeat(501) } }), 'BAD_USER_INPUT', 'input.description');
    expectCode(await gw.gql(CREATE_WEBHOOK, { input: { url: 'https://example.com/hook', team: 'nonsense' } }), 'BAD_USER_INPUT', 'input.team');
    expectCode(await gw.gql(CREATE_WEBHOOK, { input: { url: 'https://example.com/hook' } }, plain), 'FORBIDDEN');
    expectCode(await gw.gql(WEBHOOKS, {}, plain), 'FORBIDDEN');
    expectCode(await gw.gql(CREATE_WEBHOOK, { input: { url: 'https://example.com/hook', team: other.id } }, teamAdmin), 'FORBIDDEN');

    // a team admin's webhook is its team's, whether it names the team or not
    const own = ok(await gw.gql<{ createWebhook: { secret: string; webhook: { id: string; team: { id: string } | null } } }>(CREATE_WEBHOOK, { input: { url: 'https://example.com/own' } }, teamAdmin)).createWebhook;
    expect(own.secret).toMatch(/^whsec_/);
    expect(own.webhook.team?.id).toBe(team.id);
    const others = ok(await gw.gql<{ createWebhook: { webhook: { id: string } } }>(CREATE_WEBHOOK, { input: { url: 'https://example.com/other', team: other.id } })).createWebhook;
    const listed = ok(await gw.gql<{ webhooks: Array<{ id: string }> }>(WEBHOOKS, {}, teamAdmin)).webhooks.map((w) => w.id);
    expect(listed).toEqual([own.webhook.id]);
    expectCode(await gw.gql(DELETE_WEBHOOK, { id: others.webhook.id }, teamAdmin), 'NOT_FOUND');
    expect(ok(await gw.gql<{ webhooks: Array<{ id: string }> }>(WEBHOOKS)).webhooks.map((w) => w.id)).toEqual(expect.arrayContaining([own.webhook.id, others.webhook.id]));
    ok(await gw.gql(DELETE_WEBHOOK, { id: own.webhook.id }, teamAdmin));
    ok(await gw.gql(DELETE_WEBHOOK, { id: others.webhook.id }));
    expect(ok(await gw.gql<{ webhooks: Array<{ id: string }> }>(WEBHOOKS, {}, teamAdmin)).webhooks).toEqual([]);
  });

  it('each threshold of a key and of its team reaches the webhooks exactly once, signed, after retries; calls never wait', async () => {
    const team = await createTeam(gw, { limits: { monthlyBudgetUsd: 60 } });
    const elsewhere = await createTeam(gw);
    // $1 a token: each call ("hello world", maxTokens 10) costs 5 USD
    const priced = await createModel(gw, { inputPricePerMTok: 1_000_000, outputPricePerMTok: 1_000_000 });
    const spender = await gw.createKey({ name: 'spender', scopes: ['INVOKE'], team: team.id, limits: { monthlyBudgetUsd: 40 } });
    const second = await gw.createKey({ name: 'second', scopes: ['INVOKE'], team: team.id });
    const teamAdmin = await gw.createKey({ name: 'team admin', scopes: ['TEAM_ADMIN'], team: team.id });

    const global = ok(await gw.gql<{ createWebhook: { secret: string; webhook: { id: string } } }>(CREATE_WEBHOOK, { input: { url: `${receiver.url}/global`, description: 'ops' } })).createWebhook;
    const teamHook = ok(await gw.gql<{ createWebhook: { secret: string; webhook: { id: string } } }>(CREATE_WEBHOOK, { input: { url: `${receiver.url}/team` } }, teamAdmin.secret)).createWebhook;
    const elsewhereHook = ok(await gw.gql<{ createWebhook: { secret: string } }>(CREATE_WEBHOOK, { input: { url: `${receiver.url}/elsewhere`, team: elsewhere.id } })).createWebhook;
    const secrets: Record<string, string> = { '/global': global.secret, '/team': teamHook.secret, '/elsewhere': elsewhereHook.secret };

    const adminLive = subscribe<AlertOut>(gw, gw.adminKey, `subscription { budgetAlerts { ${ALERT_FIELDS} } }`, 'budgetAlerts');
    const teamLive = subscribe<AlertOut>(gw, teamAdmin.secret, `subscription { budgetAlerts { ${ALERT_FIELDS} } }`, 'budgetAlerts');
    const secondLive = subscribe<AlertOut>(gw, second.secret, `subscription { budgetAlerts { ${ALERT_FIELDS} } }`, 'budgetAlerts');
    await Promise.all([adminLive.ready, teamLive.ready, secondLive.ready]);
    try {
      // the key: 5, 10, …, 40 → 50 % at 20, 80 % at 35, 100 % at 40; the team: 50 % at 30, then the second key
      // takes it to 45, 50 (80 %), 55, 60 (100 %)
      const outs: ChatOutcome[] = [];
      for (let i = 0; i < 9; i++) outs.push(await chat(gw, spender.secret, { model: priced, maxTokens: 10 }));
      for (let i = 0; i < 5; i++) outs.push(await chat(gw, second.secret, { model: priced, maxTokens: 10 }));
      const callsDone = Date.now();
      expect(tally(outs)).toEqual({ OK: 12, QUOTA_EXCEEDED: 2 });
      expect(outs[8].code).toBe('QUOTA_EXCEEDED');
      expect(outs[13].code).toBe('QUOTA_EXCEEDED');
      // the failing receiver held each first try for RECEIVER_HOLD_MS: not one call waited for it
      expect(Math.max(...outs.map((o) => o.ms))).toBeLessThan(RECEIVER_HOLD_MS);

      // 3 alerts for the key + 3 for the team, each to /global and /team, each answered 500, 500, 200
      const accepted = () => receiver.received.filter((r) => r.answered === 200);
      await waitFor(() => accepted().length >= 12, '12 accepted deliveries', 30_000);
      expect(callsDone).toBeLessThan(Math.min(...accepted().map((r) => r.at)));
      // nothing more arrives: no duplicate, no retry after success
      await new Promise((r) => setTimeout(r, 500));
      expect(receiver.received.every((r) => r.path !== '/elsewhere')).toBe(true);
      expect(receiver.received.length).toBe(36);
      for (const r of receiver.received) {
        expect(signatureValid(secrets[r.path]!, r), `signature of a delivery to ${r.path}`).toBe(true);
        expect(r.headers['content-type']).toBe('application/json');
        expect(r.headers['x-gateway-event']).toBe('budget.threshold_crossed');
      }
      // every delivery id was tried three times, with the same body each time
      const byDelivery = new Map<string, Received[]>();
      for (const r of receiver.received) byDelivery.set(String(r.headers['x-gateway-delivery']), [...(byDelivery.get(String(r.headers['x-gateway-delivery'])) ?? []), r]);
      expect(byDelivery.size).toBe(12);
      for (const tries of byDelivery.values()) {
        expect(tries.map((t) => t.answered)).toEqual([500, 500, 200]);
        expect(new Set(tries.map((t) => t.body)).size).toBe(1);
      }

      type Payload = { id: string; type: string; createdAt: string; subject: { kind: string; id: string; name: string }; teamId: string | null; period: string; threshold: number; budgetUsd: number; spentUsd: number };
      for (const path of ['/global', '/team']) {
        const payloads = accepted()
          .filter((r) => r.path === path)
          .map((r) => JSON.parse(r.body) as Payload);
        const subjects = payloads.map((p) => `${p.subject.kind}:${p.subject.id}:${p.threshold}`).sort();
        expect(subjects).toEqual(
          [0.5, 0.8, 1].flatMap((t) => [`API_KEY:${spender.id}:${t}`, `TEAM:${team.id}:${t}`]).sort(),
        );
        for (const p of payloads) {
          expect(p.type).toBe('budget.threshold_crossed');
          expect(p.teamId).toBe(team.id);
          expect(p.period).toBe(period());
          expect(p.subject.name).toBe(p.subject.kind === 'TEAM' ? team.name : 'spender');
          expect(p.budgetUsd).toBe(p.subject.kind === 'TEAM' ? 60 : 40);
          expect(p.spentUsd).toBeGreaterThanOrEqual(p.threshold * p.budgetUsd);
          expect(decodeGlobalId(p.id).typename).toBe('BudgetAlert');
        }
      }

      // the query: ADMIN and the team admin see all six, the spender its own three, the second key none
      const adminAlerts = ok(await gw.gql<{ budgetAlerts: AlertOut[] }>(ALERTS, { first: 500 })).budgetAlerts.filter(
        (a) => a.team?.id === team.id,
      );
      expect(adminAlerts.map((a) => subjectOf(a, a.subjectKind === 'TEAM' ? a.team!.id : a.apiKey!.id)).sort()).toEqual(
        [0.5, 0.8, 1].flatMap((t) => [`API_KEY:${spender.id}:${t}`, `TEAM:${team.id}:${t}`]).sort(),
      );
      const times = adminAlerts.map((a) => Date.parse(a.createdAt));
      expect(times).toEqual([...times].sort((x, y) => y - x));
      const teamAlerts = ok(await gw.gql<{ budgetAlerts: AlertOut[] }>(ALERTS, {}, teamAdmin.secret)).budgetAlerts;
      expect(teamAlerts.map((a) => a.id).sort()).toEqual(adminAlerts.map((a) => a.id).sort());
      const ownAlerts = ok(await gw.gql<{ budgetAlerts: AlertOut[] }>(ALERTS, {}, spender.secret)).budgetAlerts;
      expect(ownAlerts.map((a) => [a.subjectKind, a.apiKey?.id, a.threshold])).toEqual([
        ['API_KEY', spender.id, 1],
        ['API_KEY', spender.id, 0.8],
        ['API_KEY', spender.id, 0.5],
      ]);
      expect(ok(await gw.gql<{ budgetAlerts: AlertOut[] }>(ALERTS, {}, second.secret)).budgetAlerts).toEqual([]);
      expectCode(await gw.gql(ALERTS, { first: 0 }), 'BAD_USER_INPUT', 'first');

      // the subscriptions: the same six for ADMIN and the team admin, nothing for the second key
      await waitFor(() => adminLive.events.length >= 6 && teamLive.events.length >= 6, 'six alerts on the subscriptions');
      expect(adminLive.events.map((a) => a.id).sort()).toEqual(adminAlerts.map((a) => a.id).sort());
      expect(teamLive.events.map((a) => a.id).sort()).toEqual(adminAlerts.map((a) => a.id).sort());
      expect(secondLive.events).toEqual([]);
      expect([...adminLive.errors, ...teamLive.errors, ...secondLive.errors]).toEqual([]);
    } finally {
      await Promise.all([adminLive.close(), teamLive.close(), secondLive.close()]);
    }
  }, 90_000);
});

describe('a webhook that never accepts', () => {
  let gw: TestGateway;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  beforeAll(async () => {
    receiver = await startReceiver(() => 500);
    gw = await startGateway({ WEBHOOK_RETRY_BASE_MS: '100', WEBHOOK_MAX_ATTEMPTS: '3' });
  });
  afterAll(async () => {
    await gw?.stop();
    await receiver?.close();
  });

  it('is tried WEBHOOK_MAX_ATTEMPTS times with doubling waits, then given up (logged at warn)', async () => {
    const priced = await createModel(gw, { inputPricePerMTok: 1_000_000, outputPricePerMTok: 1_000_000 });
    const key = await gw.createKey({ limits: { monthlyBudgetUsd: 10 }, budgetAlertThresholds: [0.5] });
    ok(await gw.gql(CREATE_WEBHOOK, { input: { url: `${receiver.url}/down` } }));
    expect((await chat(gw, key.secret, { model: priced, maxTokens: 10 })).ok).toBe(true);
    await waitFor(() => gw.logs.some((l) => l.includes('giving up')), 'the delivery given up', 20_000);
    await new Promise((r) => setTimeout(r, 800));
    expect(receiver.received).toHaveLength(3);
    const sent = receiver.received.map((r) => r.at);
    // each wait at least the backoff (100, then 200 ms) after the previous 500 (held RECEIVER_HOLD_MS)
    expect(sent[1]! - sent[0]!).toBeGreaterThanOrEqual(RECEIVER_HOLD_MS + 100 - 20);
    expect(sent[2]! - sent[1]!).toBeGreaterThanOrEqual(RECEIVER_HOLD_MS + 200 - 20);
    const warn = gw.logs.find((l) => l.includes('giving up'))!;
    expect(JSON.parse(warn)).toMatchObject({ level: 40, attempts: 3, error: 'HTTP 500' });
  });
});

describe.skipIf(!TEST_DATABASE_URL)('budget alerts across instances and restarts (Postgres)', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  const prefix = uniquePrefix();
  beforeAll(async () => {
    db = await freshDatabase(TEST_DATABASE_URL!);
  });
  afterAll(async () => {
    await db?.drop();
    if (TEST_REDIS_URL) await dropPrefix(TEST_REDIS_URL, prefix);
  });

  it.skipIf(!TEST_REDIS_URL)('calls split over two instances raise each threshold once; the other instance\'s subscribers see it', async () => {
    const receiver = await startReceiver(() => 200);
    const env = { DATABASE_URL: db.url, REDIS_URL: TEST_REDIS_URL, WEBHOOK_RETRY_BASE_MS: '50' };
    const a = await startGateway(env, { redisPrefix: prefix });
    const b = await startGateway(env, { redisPrefix: prefix });
    const liveB = subscribe<AlertOut>(b, b.adminKey, `subscription { budgetAlerts { ${ALERT_FIELDS} } }`, 'budgetAlerts');
    try {
      await liveB.ready;
      const priced = await createModel(a, { inputPricePerMTok: 1_000_000, outputPricePerMTok: 1_000_000 });
      const key = await a.createKey({ limits: { monthlyBudgetUsd: 40 } });
      ok(await a.gql(CREATE_WEBHOOK, { input: { url: `${receiver.url}/global` } }));
      // one after another, alternating: 5 USD each, so 8 are admitted and the thresholds fall on both instances
      const outs: ChatOutcome[] = [];
      for (let i = 0; i < 10; i++) outs.push(await chat(i % 2 ? a : b, key.secret, { model: priced, maxTokens: 10 }));
      expect(tally(outs).OK).toBe(8);
      await waitFor(() => receiver.received.length >= 3, 'three deliveries', 15_000);
      await waitFor(() => liveB.events.length >= 3, 'three alerts on instance B', 15_000);
      await new Promise((r) => setTimeout(r, 500));
      const thresholds = receiver.received.map((r) => (JSON.parse(r.body) as { threshold: number }).threshold).sort();
      expect(thresholds).toEqual([0.5, 0.8, 1]);
      expect(liveB.events.map((e) => e.threshold).sort()).toEqual([0.5, 0.8, 1]);
      expect(ok(await b.gql<{ budgetAlerts: AlertOut[] }>(ALERTS, {}, key.secret)).budgetAlerts).toHaveLength(3);
    } finally {
      await liveB.close();
      await Promise.all([a.stop(), b.stop()]);
      await receiver.close();
    }
  }, 120_000);

  it('a delivery still being retried when the gateway stops is resumed by the next start', async () => {
    let accepting = false;
    const receiver = await startReceiver(() => (accepting ? 200 : 503));
    // one try, then a wait far longer than the test: only a restart can deliver it
    const env = { DATABASE_URL: db.url, WEBHOOK_RETRY_BASE_MS: '600000' };
    const first = await startGateway(env);
    let firstStopped = false;
    try {
      const priced = await createModel(first, { inputPricePerMTok: 1_000_000, outputPricePerMTok: 1_000_000 });
      const key = await first.createKey({ limits: { monthlyBudgetUsd: 10 } });
      ok(await first.gql(CREATE_WEBHOOK, { input: { url: `${receiver.url}/resume` } }));
      expect((await chat(first, key.secret, { model: priced, maxTokens: 10 })).ok).toBe(true);
      await waitFor(() => receiver.received.length >= 1, 'the first, refused try');
      const delivery = String(receiver.received[0]!.headers['x-gateway-delivery']);
      await first.stop();
      firstStopped = true;
      accepting = true;
      const second = await startGateway(env);
      try {
        await waitFor(() => receiver.received.some((r) => r.answered === 200), 'the resumed delivery', 10_000);
        const done = receiver.received.filter((r) => r.answered === 200);
        expect(done.map((r) => String(r.headers['x-gateway-delivery']))).toEqual([delivery]);
        expect(done[0]!.body).toBe(receiver.received[0]!.body);
      } finally {
        await second.stop();
      }
    } finally {
      if (!firstStopped) await first.stop();
      await receiver.close();
    }
  }, 120_000);
});
