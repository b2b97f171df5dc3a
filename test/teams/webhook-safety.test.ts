/*
 * Where a team admin's webhooks may point: not at loopback, private or link-local addresses, checked at creation
 * and again when sending (the address may have changed since); ADMIN's webhooks may point anywhere; a team has at
 * most MAX_WEBHOOKS_PER_TEAM of them.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { expectCode, ok, waitFor } from '../graphql/helpers.js';
import { chat, freshDatabase, TEST_DATABASE_URL } from '../limits/kit.js';
import { createModel, createTeam } from './access-kit.js';

const CREATE_WEBHOOK = 'mutation($input: CreateWebhookInput!) { createWebhook(input: $input) { webhook { id url } } }';

async function startReceiver(): Promise<{ url: string; paths: string[]; close(): Promise<void> }> {
  const paths: string[] = [];
  const server: Server = createServer((req, res) => {
    paths.push(req.url ?? '');
    req.resume();
    req.on('end', () => res.writeHead(200).end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, paths, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('webhook addresses', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway();
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it("a team admin's webhook may not point at loopback, private or link-local addresses; ADMIN's may", async () => {
    const team = await createTeam(gw);
    const teamAdmin = (await gw.createKey({ scopes: ['TEAM_ADMIN'], team: team.id })).secret;
    for (const url of [
      'http://127.0.0.1:9/hook',
      'http://169.254.169.254/latest/meta-data',
      'http://10.1.2.3/hook',
      'http://192.168.0.10/hook',
      'http://[::1]:8080/hook',
      'http://[fd00::1]/hook',
      'http://[fe80::1]/hook',
      'http://[::ffff:127.0.0.1]/hook',
      'http://localhost:8080/hook',
    ]) {
      expectCode(await gw.gql(CREATE_WEBHOOK, { input: { url } }, teamAdmin), 'BAD_USER_INPUT', 'input.url');
    }
    ok(await gw.gql(CREATE_WEBHOOK, { input: { url: 'http://8.8.8.8/hook' } }, teamAdmin));
    ok(await gw.gql(CREATE_WEBHOOK, { input: { url: 'http://127.0.0.1:9/hook' } }));
    ok(await gw.gql(CREATE_WEBHOOK, { input: { url: 'http://169.254.169.254/hook', team: team.id } }));
  });

  it('a team has at most 20 webhooks', async () => {
    const team = await createTeam(gw);
    for (let i = 0; i < 20; i++) ok(await gw.gql(CREATE_WEBHOOK, { input: { url: `http://8.8.8.8/hook/${i}`, team: team.id } }));
    expectCode(await gw.gql(CREATE_WEBHOOK, { input: { url: 'http://8.8.8.8/hook/20', team: team.id } }), 'BAD_USER_INPUT', 'input.team');
  });
});

describe('WEBHOOK_ALLOW_PRIVATE_ADDRESSES', () => {
  it("lifts the rule for team admins' webhooks", async () => {
    const gw = await startGateway({ WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true' });
    try {
      const team = await createTeam(gw);
      const teamAdmin = (await gw.createKey({ scopes: ['TEAM_ADMIN'], team: team.id })).secret;
      ok(await gw.gql(CREATE_WEBHOOK, { input: { url: 'http://127.0.0.1:9/hook' } }, teamAdmin));
    } finally {
      await gw.stop();
    }
  });
});

describe.skipIf(!TEST_DATABASE_URL)("a team admin's webhook is checked again when sending (Postgres)", () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  beforeAll(async () => {
    db = await freshDatabase(TEST_DATABASE_URL!);
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('a webhook created while private addresses were allowed is refused once they are not; ADMIN\'s still delivers', async () => {
    const receiver = await startReceiver();
    const base = { DATABASE_URL: db.url, WEBHOOK_RETRY_BASE_MS: '50', WEBHOOK_MAX_ATTEMPTS: '2' };
    // stands in for a name that resolved publicly at creation and privately now
    const first = await startGateway({ ...base, WEBHOOK_ALLOW_PRIVATE_ADDRESSES: 'true' });
    let team: { id: string };
    try {
      team = await createTeam(first, { limits: { monthlyBudgetUsd: 10 } });
      const teamAdmin = (await first.createKey({ scopes: ['TEAM_ADMIN'], team: team.id })).secret;
      ok(await first.gql(CREATE_WEBHOOK, { input: { url: `${receiver.url}/team` } }, teamAdmin));
      ok(await first.gql(CREATE_WEBHOOK, { input: { url: `${receiver.url}/admin`, team: team.id } }));
    } finally {
      await first.stop();
    }
    const second = await startGateway(base);
    try {
      const priced = await createModel(second, { inputPricePerMTok: 1_000_000, outputPricePerMTok: 1_000_000 });
      const key = await second.createKey({ scopes: ['INVOKE'], team: team.id });
      expect((await chat(second, key.secret, { model: priced, maxTokens: 10 })).ok).toBe(true);
      await waitFor(() => second.logs.some((l) => l.includes('giving up')), 'the team webhook given up', 20_000);
      await waitFor(() => receiver.paths.includes('/admin'), "ADMIN's delivery", 20_000);
      expect(receiver.paths.filter((p) => p === '/team')).toEqual([]);
      const warn = JSON.parse(second.logs.find((l) => l.includes('giving up'))!) as { url: string; error: string };
      expect(warn.url).toBe(`${receiver.url}/team`);
      expect(warn.error).toMatch(/non-public address 127\.0\.0\.1/);
    } finally {
      await second.stop();
      await receiver.close();
    }
  }, 60_000);
});
