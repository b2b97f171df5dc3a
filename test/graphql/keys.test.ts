/* API keys over HTTP: lifecycle (create, update, revoke, rotate), viewer, apiKeys, and scopes on every marked field. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import type { GraphQLFormattedError } from 'graphql';
import { apiKeys } from '../../src/db/schema.js';
import { decodeGlobalId } from '../../src/schema/global-id.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { CHAT, chatInput, expectCode, ok, type ChatOut } from './helpers.js';

let gw: TestGateway;

beforeAll(async () => {
  gw = await startGateway();
});

afterAll(async () => {
  await gw?.stop();
});

const KEY_FIELDS = 'id name prefix scopes allowedModels limits { requestsPerMinute tokensPerMinute tokensPerDay monthlyBudgetUsd } expiresAt revokedAt lastUsedAt createdAt';
const CREATE = `mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret apiKey { ${KEY_FIELDS} } } }`;
const VIEWER = `{ viewer { id name scopes prefix } }`;

/** What KEY_FIELDS selects. */
interface KeyOut {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  allowedModels: string[] | null;
  limits: { requestsPerMinute: number | null; tokensPerMinute: number | null; tokensPerDay: number | null; monthlyBudgetUsd: number | null };
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
  createdAt: string;
}
type ViewerOut = Pick<KeyOut, 'id' | 'name' | 'scopes' | 'prefix'>;

async function create(input: Record<string, unknown>) {
  const d = ok(await gw.gql<{ createApiKey: { secret: string; apiKey: KeyOut } }>(CREATE, { input }));
  return d.createApiKey;
}

describe('createApiKey', () => {
  it('returns a gw_ secret with ≥ 43 random characters, and only a prefix of it on the key', async () => {
    const { secret, apiKey } = await create({ name: 'lifecycle', scopes: ['INVOKE', 'READ_USAGE'] });
    expect(secret).toMatch(/^gw_[0-9A-Za-z]{43,}$/);
    expect(apiKey.name).toBe('lifecycle');
    expect(apiKey.scopes.sort()).toEqual(['INVOKE', 'READ_USAGE']);
    expect(apiKey.prefix.startsWith('gw_')).toBe(true);
    expect(secret.startsWith(apiKey.prefix)).toBe(true);
    expect(apiKey.prefix.length).toBeLessThan(16);
    expect(apiKey.revokedAt).toBeNull();
    expect(apiKey.allowedModels).toBeNull();
    expect(new Date(apiKey.createdAt).getTime()).toBeGreaterThan(Date.now() - 60_000);
  });

  it('two keys never share a secret or prefix', async () => {
    const a = await create({ name: 'a' });
    const b = await create({ name: 'b' });
    expect(a.secret).not.toBe(b.secret);
    expect(a.apiKey.prefix).not.toBe(b.apiKey.prefix);
  });

  it('defaults to the INVOKE scope and stores limits', async () => {
    const { apiKey } = await create({ name: 'defaults', limits: { requestsPerMinute: 5, monthlyBudgetUsd: 1.5 } });
    expect(apiKey.scopes).toEqual(['INVOKE']);
    expect(apiKey.limits).toEqual({ requestsPerMinute: 5, tokensPerMinute: null, tokensPerDay: null, monthlyBudgetUsd: 1.5 });
  });

  it('the secret is never readable again: not in the schema, not in apiKeys, not in the database', async () => {
    const { secret, apiKey } = await create({ name: 'hidden' });
    const type = ok(await gw.gql<{ __type: { fields: Array<{ name: string }> } }>('{ __type(name: "ApiKey") { fields { name } } }'));
    const names = type.__type.fields.map((f) => f.name);
    expect(names).toContain('prefix');
    expect(names.some((n) => /secret|hash/i.test(n))).toBe(false);

    const list = await gw.gql(`{ apiKeys { ${KEY_FIELDS} } viewer { ${KEY_FIELDS} } }`);
    expect(list.errors).toBeUndefined();
    expect(JSON.stringify(list)).not.toContain(secret);
    expect(JSON.stringify(list)).toContain(apiKey.id);

    const [row] = await gw.app.services.database.db.select().from(apiKeys).where(eq(apiKeys.id, decodeGlobalId(apiKey.id).id));
    expect(JSON.stringify(row)).not.toContain(secret);
    expect(row.secretHash).toMatch(/^[0-9a-f]{64}$/);
    expect(gw.logs.join('')).not.toContain(secret);
  });

  it('rejects an empty name naming the field', async () => {
    expectCode(await gw.gql(CREATE, { input: { name: '   ' } }), 'BAD_USER_INPUT', 'input.name');
  });

  it('rejects negative limits naming the field', async () => {
    expectCode(await gw.gql(CREATE, { input: { name: 'x', limits: { tokensPerDay: -1 } } }), 'BAD_USER_INPUT', 'input.limits.tokensPerDay');
  });
});

describe('viewer and apiKeys', () => {
  it('viewer is the calling key', async () => {
    const { secret, apiKey } = await create({ name: 'me', scopes: ['READ_USAGE'] });
    const d = ok(await gw.gql<{ viewer: ViewerOut }>(VIEWER, {}, secret));
    expect(d.viewer).toEqual({ id: apiKey.id, name: 'me', scopes: ['READ_USAGE'], prefix: apiKey.prefix });
  });

  it('viewer works for the admin key too', async () => {
    const d = ok(await gw.gql<{ viewer: ViewerOut }>(VIEWER));
    expect(d.viewer.scopes).toContain('ADMIN');
    expect(gw.adminKey.startsWith(d.viewer.prefix)).toBe(true);
  });

  it('apiKeys lists every key for ADMIN', async () => {
    const { apiKey } = await create({ name: 'listed' });
    const d = ok(await gw.gql<{ apiKeys: Array<{ id: string; name: string }> }>('{ apiKeys { id name } }'));
    expect(d.apiKeys.find((k) => k.id === apiKey.id)?.name).toBe('listed');
    expect(d.apiKeys.some((k) => k.name === 'GATEWAY_ADMIN_KEY')).toBe(true);
  });
});

describe('key lifecycle', () => {
  const UPDATE = `mutation($id: ID!, $input: UpdateApiKeyInput!) { updateApiKey(id: $id, input: $input) { ${KEY_FIELDS} } }`;
  const REVOKE = `mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }`;
  const ROTATE = `mutation($id: ID!) { rotateApiKey(id: $id) { secret apiKey { id prefix } } }`;

  it('updateApiKey changes name, scopes, limits and allowed models, and takes effect at once', async () => {
    const { secret, apiKey } = await create({ name: 'before', scopes: ['INVOKE'] });
    ok(await gw.gql(CHAT, { input: chatInput('allowed') }, secret));

    const d = ok(
      await gw.gql<{ updateApiKey: KeyOut }>(UPDATE, {
        id: apiKey.id,
        input: { name: 'after', scopes: ['READ_USAGE'], limits: { tokensPerMinute: 1000 }, allowedModels: ['echo'] },
      }),
    );
    expect(d.updateApiKey).toMatchObject({ id: apiKey.id, name: 'after', scopes: ['READ_USAGE'], allowedModels: ['echo'] });
    expect(d.updateApiKey.limits.tokensPerMinute).toBe(1000);
    expect(d.updateApiKey.prefix).toBe(apiKey.prefix);

    // the cached principal was dropped: the new scopes apply to the very next request
    expectCode(await gw.gql(CHAT, { input: chatInput('not any more') }, secret), 'FORBIDDEN');
    expect(ok(await gw.gql<{ viewer: ViewerOut }>(VIEWER, {}, secret)).viewer.name).toBe('after');
  });

  it('updateApiKey with no scopes is refused naming the field', async () => {
    const { apiKey } = await create({ name: 'x' });
    expectCode(await gw.gql(UPDATE, { id: apiKey.id, input: { scopes: [] } }), 'BAD_USER_INPUT', 'input.scopes');
  });

  it('updateApiKey on an unknown id is NOT_FOUND; on no id at all, BAD_USER_INPUT naming it', async () => {
    const unknown = Buffer.from('ApiKey:00000000-0000-4000-8000-000000000000').toString('base64');
    expectCode(await gw.gql(UPDATE, { id: unknown, input: { name: 'x' } }), 'NOT_FOUND');
    expectCode(await gw.gql(UPDATE, { id: '00000000-0000-4000-8000-000000000000', input: { name: 'x' } }), 'NOT_FOUND');
    expectCode(await gw.gql(UPDATE, { id: 'not-a-uuid', input: { name: 'x' } }), 'BAD_USER_INPUT', 'id');
  });

  it('revokeApiKey: the key is refused with UNAUTHENTICATED from the next request on', async () => {
    const { secret, apiKey } = await create({ name: 'to revoke' });
    ok(await gw.gql(VIEWER, {}, secret));
    const d = ok(await gw.gql<{ revokeApiKey: { id: string; revokedAt: string } }>(REVOKE, { id: apiKey.id }));
    expect(d.revokeApiKey.id).toBe(apiKey.id);
    expect(new Date(d.revokeApiKey.revokedAt).getTime()).toBeGreaterThan(Date.now() - 60_000);

    expectCode(await gw.gql(VIEWER, {}, secret), 'UNAUTHENTICATED');
    expectCode(await gw.gql(CHAT, { input: chatInput('hi') }, secret), 'UNAUTHENTICATED');
    // still listed for the admin, marked revoked
    const list = ok(await gw.gql<{ apiKeys: Array<{ id: string; revokedAt: string | null }> }>('{ apiKeys { id revokedAt } }'));
    expect(list.apiKeys.find((k) => k.id === apiKey.id)?.revokedAt).toBeTruthy();
  });

  it('a presented but unusable key is refused for the whole request: HTTP 401 with WWW-Authenticate, no internals in extensions', async () => {
    const { secret, apiKey } = await create({ name: 'to refuse' });
    ok(await gw.gql(REVOKE, { id: apiKey.id }));
    for (const key of [secret, 'gw_unknown_unknown_unknown_unknown_unknown', 'not a bearer value at all']) {
      const res = await gw.gql(VIEWER, {}, key);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      expect(res.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
      expect(res.errors?.[0].extensions).not.toHaveProperty('http');
    }
  });

  it('rotateApiKey: the old secret is refused, the new one works, same key id', async () => {
    const { secret: oldSecret, apiKey } = await create({ name: 'to rotate' });
    ok(await gw.gql(VIEWER, {}, oldSecret)); // warm the cache
    const d = ok(await gw.gql<{ rotateApiKey: { secret: string; apiKey: { id: string; prefix: string } } }>(ROTATE, { id: apiKey.id }));
    const fresh = d.rotateApiKey.secret;
    expect(fresh).toMatch(/^gw_[0-9A-Za-z]{43,}$/);
    expect(fresh).not.toBe(oldSecret);
    expect(d.rotateApiKey.apiKey.id).toBe(apiKey.id);
    expect(fresh.startsWith(d.rotateApiKey.apiKey.prefix)).toBe(true);

    expectCode(await gw.gql(VIEWER, {}, oldSecret), 'UNAUTHENTICATED');
    expect(ok(await gw.gql<{ viewer: { id: string } }>(VIEWER, {}, fresh)).viewer.id).toBe(apiKey.id);
    expect(ok(await gw.gql<{ chat: ChatOut }>(CHAT, { input: chatInput('rotated') }, fresh)).chat.message.content).toBe('echo: rotated');
  });

  it('a revoked key cannot be rotated back to life', async () => {
    const { apiKey } = await create({ name: 'dead' });
    ok(await gw.gql(REVOKE, { id: apiKey.id }));
    expectCode(await gw.gql(ROTATE, { id: apiKey.id }), 'BAD_USER_INPUT');
  });

  it('an expired key is refused with UNAUTHENTICATED', async () => {
    // an expiry can only be set ahead (an expiry in the past is BAD_USER_INPUT): short ones, then their time passes
    const shortUntil = Date.now() + 1500;
    const short = await create({ name: 'expired', expiresAt: new Date(shortUntil).toISOString() });

    const soon = await create({ name: 'expires', expiresAt: new Date(Date.now() + 3_600_000).toISOString() });
    ok(await gw.gql(VIEWER, {}, soon.secret));
    const soonUntil = Date.now() + 1500;
    ok(await gw.gql(`mutation($id: ID!, $input: UpdateApiKeyInput!) { updateApiKey(id: $id, input: $input) { id } }`, {
      id: soon.apiKey.id,
      input: { expiresAt: new Date(soonUntil).toISOString() },
    }));
    await new Promise((r) => setTimeout(r, Math.max(shortUntil, soonUntil) + 50 - Date.now()));
    expectCode(await gw.gql(VIEWER, {}, short.secret), 'UNAUTHENTICATED');
    expectCode(await gw.gql(VIEWER, {}, soon.secret), 'UNAUTHENTICATED');
  });

  it('lastUsedAt is recorded off the request path', async () => {
    const { secret, apiKey } = await create({ name: 'touched' });
    ok(await gw.gql(VIEWER, {}, secret));
    let last: string | null = null;
    for (let i = 0; i < 50 && !last; i++) {
      await new Promise((r) => setTimeout(r, 20));
      const d = ok(await gw.gql<{ apiKeys: Array<{ id: string; lastUsedAt: string | null }> }>('{ apiKeys { id lastUsedAt } }'));
      last = d.apiKeys.find((k) => k.id === apiKey.id)?.lastUsedAt ?? null;
    }
    expect(last).not.toBeNull();
  });
});

describe('authentication', () => {
  it('no key: fields answer UNAUTHENTICATED, introspection still works', async () => {
    expectCode(await gw.gql(VIEWER, {}, null), 'UNAUTHENTICATED');
    expectCode(await gw.gql(CHAT, { input: chatInput('hi') }, null), 'UNAUTHENTICATED');
    expectCode(await gw.gql('{ models { name } }', {}, null), 'UNAUTHENTICATED');
    expectCode(await gw.gql('{ apiKeys { id } }', {}, null), 'UNAUTHENTICATED');
    expect(ok(await gw.gql<{ __typename: string }>('{ __typename }', {}, null)).__typename).toBe('Query');
  });

  it('an unknown key is UNAUTHENTICATED, never a 500', async () => {
    const res = await gw.gql(VIEWER, {}, 'gw_' + 'x'.repeat(43));
    expectCode(res, 'UNAUTHENTICATED');
    expect(res.data ?? null).toBeNull();
  });

  it('a malformed Authorization header is UNAUTHENTICATED', async () => {
    const res = await fetch(`${gw.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Basic a b c' },
      body: JSON.stringify({ query: VIEWER }),
    });
    expect(res.status).toBeLessThan(500);
    const body = (await res.json()) as { errors: GraphQLFormattedError[] };
    expect(body.errors.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
  });
});

describe('scopes', () => {
  let invokeOnly: string;
  let usageOnly: string;

  beforeAll(async () => {
    invokeOnly = (await gw.createKey({ name: 'invoke only', scopes: ['INVOKE'] })).secret;
    usageOnly = (await gw.createKey({ name: 'usage only', scopes: ['READ_USAGE'] })).secret;
  });

  const adminOps: Array<[string, string, Record<string, unknown>?]> = [
    ['apiKeys', '{ apiKeys { id } }'],
    ['providers', '{ providers { name } }'],
    ['createProvider', 'mutation { createProvider(input: { name: "nope", kind: ECHO }) { id } }'],
    ['updateProvider', 'mutation { updateProvider(name: "echo", input: { enabled: false }) { id } }'],
    ['deleteProvider', 'mutation { deleteProvider(name: "echo") }'],
    ['createModel', 'mutation { createModel(input: { name: "nope", targets: [{ provider: "echo", upstreamModel: "x" }] }) { id } }'],
    ['updateModel', 'mutation { updateModel(name: "echo", input: { description: "hacked" }) { id } }'],
    ['deleteModel', 'mutation { deleteModel(name: "echo") }'],
    ['createApiKey', 'mutation { createApiKey(input: { name: "escalate", scopes: [ADMIN] }) { secret } }'],
    ['updateApiKey', 'mutation { updateApiKey(id: "00000000-0000-4000-8000-000000000000", input: { scopes: [ADMIN] }) { id } }'],
    ['revokeApiKey', 'mutation { revokeApiKey(id: "00000000-0000-4000-8000-000000000000") { id } }'],
    ['rotateApiKey', 'mutation { rotateApiKey(id: "00000000-0000-4000-8000-000000000000") { secret } }'],
  ];

  it.each(adminOps)('%s is FORBIDDEN for an INVOKE-only key and for a READ_USAGE-only key', async (_name, query) => {
    expectCode(await gw.gql(query, {}, invokeOnly), 'FORBIDDEN');
    expectCode(await gw.gql(query, {}, usageOnly), 'FORBIDDEN');
    expectCode(await gw.gql(query, {}, null), 'UNAUTHENTICATED');
  });

  it('nothing changed through the refused admin calls', async () => {
    const d = ok(await gw.gql<{ model: { description: string | null }; providers: Array<{ name: string; enabled: boolean }>; apiKeys: Array<{ name: string }> }>(
      '{ model(name: "echo") { description } providers { name enabled } apiKeys { name } }',
    ));
    expect(d.model.description).not.toBe('hacked');
    expect(d.providers.find((p) => p.name === 'echo')?.enabled).toBe(true);
    expect(d.providers.some((p) => p.name === 'nope')).toBe(false);
    expect(d.apiKeys.some((k) => k.name === 'escalate')).toBe(false);
  });

  it('READ_USAGE-only key cannot chat (FORBIDDEN) but reads its usage', async () => {
    expectCode(await gw.gql(CHAT, { input: chatInput('hi') }, usageOnly), 'FORBIDDEN');
    expectCode(await gw.gql('mutation { embed(input: { model: "echo", input: ["x"] }) { model } }', {}, usageOnly), 'FORBIDDEN');
    const d = ok(await gw.gql<{ usage: { edges: unknown[] } }>('{ usage { edges { cursor } } }', {}, usageOnly));
    expect(d.usage.edges).toEqual([]);
    ok(await gw.gql('{ usageSummary(groupBy: MODEL) { key } }', {}, usageOnly));
  });

  it('INVOKE-only key chats but cannot read usage', async () => {
    expect(ok(await gw.gql<{ chat: ChatOut }>(CHAT, { input: chatInput('scoped') }, invokeOnly)).chat.message.content).toBe('echo: scoped');
    expectCode(await gw.gql('{ usage { edges { cursor } } }', {}, invokeOnly), 'FORBIDDEN');
    expectCode(await gw.gql('{ usageSummary(groupBy: MODEL) { key } }', {}, invokeOnly), 'FORBIDDEN');
  });

  it('a FORBIDDEN field is reported on its own path, the other fields still resolve', async () => {
    // apiKeys is nullable: it answers null with its error, and viewer keeps its data
    const res = await gw.gql<{ viewer: { name: string }; apiKeys: null }>('{ viewer { name } apiKeys { id } }', {}, invokeOnly);
    expect(res.status).toBeLessThan(500);
    expect(res.errors?.map((e) => [e.path?.[0], e.extensions?.code])).toEqual([['apiKeys', 'FORBIDDEN']]);
    expect(res.data).toEqual({ viewer: { name: 'invoke only' }, apiKeys: null });
    // a nullable sibling keeps its data: Model.targets answers [] instead of failing for a non-admin
    const d = ok(await gw.gql<{ viewer: { name: string }; model: { targets: unknown[] } }>('{ viewer { name } model(name: "echo") { targets { upstreamModel } } }', {}, invokeOnly));
    expect(d).toEqual({ viewer: { name: 'invoke only' }, model: { targets: [] } });
  });

  it('a key restricted to some models is FORBIDDEN on the others', async () => {
    ok(await gw.gql('mutation { createModel(input: { name: "echo-restricted", targets: [{ provider: "echo", upstreamModel: "echo" }] }) { id } }'));
    const { secret } = await gw.createKey({ name: 'only echo', scopes: ['INVOKE'], allowedModels: ['echo'] });
    ok(await gw.gql(CHAT, { input: chatInput('fine') }, secret));
    expectCode(await gw.gql(CHAT, { input: chatInput('no', { model: 'echo-restricted' }) }, secret), 'FORBIDDEN');
    const models = ok(await gw.gql<{ models: Array<{ name: string }> }>('{ models { name } }', {}, secret));
    expect(models.models.map((m) => m.name)).toEqual(['echo']);
  });
});

describe('key cache past its TTL', () => {
  it('a key revoked behind the gateway (no invalidation reaches it) is refused within the TTL plus one background lookup; a live key keeps working throughout', async () => {
    const ttl = 150;
    const small = await startGateway({ KEY_CACHE_TTL_MS: String(ttl) });
    try {
      const doomed = ok(await small.gql<{ createApiKey: { secret: string; apiKey: { id: string } } }>(CREATE, { input: { name: 'doomed', scopes: ['INVOKE'] } })).createApiKey;
      const live = ok(await small.gql<{ createApiKey: { secret: string } }>(CREATE, { input: { name: 'live', scopes: ['INVOKE'] } })).createApiKey;
      ok(await small.gql(CHAT, { input: chatInput('cached now') }, doomed.secret));
      // straight into the database: the gateway's own invalidation never runs
      await small.app.services.database.db.update(apiKeys).set({ revokedAt: new Date() }).where(eq(apiKeys.id, decodeGlobalId(doomed.apiKey.id).id));
      const revokedAt = Date.now();
      let refusedAfter: number | undefined;
      let liveFailures = 0;
      while (Date.now() - revokedAt < 3000) {
        const [d, l] = await Promise.all([small.gql(CHAT, { input: chatInput('still?') }, doomed.secret), small.gql(CHAT, { input: chatInput('live') }, live.secret)]);
        if (l.errors) liveFailures++;
        if (d.errors) {
          expect(d.errors[0].extensions?.code).toBe('UNAUTHENTICATED');
          refusedAfter = Date.now() - revokedAt;
          break;
        }
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(refusedAfter).toBeDefined();
      // the stale entry may answer the request that started its refresh (and those during it), never much longer
      expect(refusedAfter!).toBeLessThan(ttl + 500);
      expect(liveFailures).toBe(0);
    } finally {
      await small.stop();
    }
  });
});
