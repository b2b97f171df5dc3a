/*
 * Redis outage with team and end-user limits: the per-instance fallback goes on from the team's and the end user's
 * shared counters as the last Redis reply showed them, not from fresh windows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { ControlledRedis, HAS_REDIS_SERVER, ok, tally, type ChatOutcome } from '../limits/kit.js';

const CHAT = 'mutation($input: ChatInput!) { chat(input: $input) { usage { totalTokens } } }';

async function chat(gw: TestGateway, secret: string, user?: string): Promise<ChatOutcome & { message?: string }> {
  const res = await gw.gql<{ chat: unknown }>(CHAT, { input: { model: 'echo', messages: [{ role: 'USER', content: 'hi' }], user } }, secret);
  if (res.data?.chat) return { ok: true, ms: 0 };
  return { ok: false, code: res.errors?.[0]?.extensions?.code, message: res.errors?.[0]?.message, ms: 0 };
}

describe.skipIf(!HAS_REDIS_SERVER)('team limits when Redis goes away', () => {
  let redis: ControlledRedis;
  let gw: TestGateway;

  beforeAll(async () => {
    redis = await ControlledRedis.start();
    gw = await startGateway({ REDIS_URL: redis.url }, { redisPrefix: 'gwteamoutage:' });
  }, 60_000);
  afterAll(async () => {
    await gw?.stop();
    await redis?.kill();
  });

  it("the fallback starts from the team's and the end user's last shared counts", async () => {
    const team = ok(
      await gw.gql<{ createTeam: { id: string } }>('mutation { createTeam(input: { name: "outage", limits: { requestsPerMinute: 5 }, endUserLimits: { requestsPerMinute: 2 } }) { id } }'),
    ).createTeam.id;
    const [k1, k2] = [await gw.createKey({ name: 'k1', team }), await gw.createKey({ name: 'k2', team })];
    expect(tally([await chat(gw, k1.secret, 'amy'), await chat(gw, k1.secret)])).toEqual({ OK: 2 });

    await redis.kill();
    // amy had 1 of her 2: one more, then refused for this end user
    const amy = [await chat(gw, k2.secret, 'amy'), await chat(gw, k2.secret, 'amy')];
    expect(amy.map((o) => o.message ?? 'OK')).toEqual(['OK', 'Rate limit exceeded: 2 requests per minute for this end user']);
    // the team had 3 of 5 by now: two more over any key, then refused for this team
    const during = [];
    for (let i = 0; i < 6; i++) during.push(await chat(gw, (i % 2 ? k1 : k2).secret));
    expect(tally(during)).toEqual({ OK: 2, RATE_LIMITED: 4 });
    expect(new Set(during.filter((o) => !o.ok).map((o) => o.message))).toEqual(new Set(['Rate limit exceeded: 5 requests per minute for this team']));
  }, 60_000);
});
