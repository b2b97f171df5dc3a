/*
 * Relay object identification (issue 21, item 4): global ids on Provider, Model, ApiKey, UsageRecord and
 * PromptTemplate; `node(id:)` / `nodes(ids:)` refetch them with the visibility rules of the lists; id arguments take
 * the global id and, for one release, the bare UUID with a deprecation warning; admin-only root fields answer null
 * with their own FORBIDDEN error instead of nulling the whole answer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type GqlResponse, type TestGateway } from '../kit/start-gateway.js';
import { CHAT, chatInput, expectCode, ok, type ChatOut } from './helpers.js';

/** Every node type's identifying fields, through inline fragments, as a Relay refetch query asks. */
const NODE_FIELDS = `
  __typename id
  ... on Provider { name kind }
  ... on Model { name status }
  ... on ApiKey { name prefix }
  ... on PromptTemplate { name version }
  ... on UsageRecord { invocationId model }
`;
const NODE = `query($id: ID!) { node(id: $id) { ${NODE_FIELDS} } }`;
const NODES = `query($ids: [ID!]!) { nodes(ids: $ids) { ${NODE_FIELDS} } }`;
const LISTS = `{
  providers { __typename id name kind }
  models { __typename id name status }
  apiKeys { __typename id name prefix }
  prompts { __typename id name version }
  usage(first: 500) { edges { node { __typename id invocationId model } } }
}`;

type Node = { __typename: string; id: string } & Record<string, unknown>;
interface Lists {
  providers: Node[] | null;
  models: Node[];
  apiKeys: Node[] | null;
  prompts: Node[] | null;
  usage: { edges: Array<{ node: Node }> } | null;
}

/** The database key inside a global id: base64 of "Type:key", the format README documents. */
function unwrap(globalId: string): { type: string; key: string } {
  const text = Buffer.from(globalId, 'base64').toString('utf8');
  const at = text.indexOf(':');
  return { type: text.slice(0, at), key: text.slice(at + 1) };
}
const wrap = (type: string, key: string) => Buffer.from(`${type}:${key}`).toString('base64');
const UNKNOWN_UUID = '0190a0b0-0000-7000-8000-000000000000';

let gw: TestGateway;
let invoker: { id: string; uuid: string; secret: string };
let reader: { id: string; uuid: string; secret: string };
let other: { id: string; uuid: string; secret: string };
let admin: Lists;

beforeAll(async () => {
  gw = await startGateway();
  for (const [name, status] of [['open-m', 'ACTIVE'], ['closed-m', 'ACTIVE'], ['old-m', 'RETIRED']]) {
    ok(await gw.gql(`mutation { createModel(input: { name: "${name}", status: ${status}, targets: [{ provider: "echo", upstreamModel: "echo" }] }) { id } }`));
  }
  for (const [name, model] of [['open-p', 'open-m'], ['closed-p', 'closed-m']]) {
    ok(await gw.gql(`mutation { createPrompt(input: { name: "${name}", model: "${model}", messages: [{ role: USER, content: "hi {{who}}" }] }) { id } }`));
  }
  invoker = await gw.createKey({ name: 'invoker', scopes: ['INVOKE'], allowedModels: ['echo', 'open-m', 'old-m'] });
  reader = await gw.createKey({ name: 'reader', scopes: ['INVOKE', 'READ_USAGE'], allowedModels: ['echo', 'open-m'] });
  other = await gw.createKey({ name: 'other', scopes: ['INVOKE', 'READ_USAGE'] });
  for (const k of [invoker, reader, reader, other]) ok(await gw.gql(CHAT, { input: chatInput('hello') }, k.secret));
  await gw.flushUsage();
  admin = ok(await gw.gql<Lists>(LISTS));
});
afterAll(async () => {
  await gw?.stop();
});

const allListed = (l: Lists): Node[] => [
  ...(l.providers ?? []),
  ...l.models,
  ...(l.apiKeys ?? []),
  ...(l.prompts ?? []),
  ...(l.usage?.edges.map((e) => e.node) ?? []),
];

describe('global ids', () => {
  it('every type with a stored identity answers an opaque global id naming its type, unique across types', () => {
    const nodes = allListed(admin);
    expect(new Set(nodes.map((n) => n.__typename))).toEqual(new Set(['Provider', 'Model', 'ApiKey', 'PromptTemplate', 'UsageRecord']));
    for (const n of nodes) expect(unwrap(n.id).type).toBe(n.__typename);
    expect(new Set(nodes.map((n) => n.id)).size).toBe(nodes.length);
  });

  it('nested references carry the same global ids: targets → provider, usage → apiKey, viewer, summaries by key', async () => {
    const d = ok(
      await gw.gql<{
        models: Array<{ name: string; targets: Array<{ provider: { id: string; name: string } }> }>;
        usage: { edges: Array<{ node: { apiKey: { id: string; name: string } } }> };
        usageSummary: Array<{ key: string; requests: number }>;
      }>(
        `{ models { name targets { provider { id name } } }
           usage(first: 500) { edges { node { apiKey { id name } } } }
           usageSummary(groupBy: API_KEY) { key requests } }`,
      ),
    );
    const providerIds = new Map(admin.providers!.map((p) => [p.name, p.id]));
    const targets = d.models.flatMap((m) => m.targets.map((t) => t.provider));
    expect(targets.length).toBeGreaterThan(0);
    for (const p of targets) expect(p.id).toBe(providerIds.get(p.name));
    const keyIds = new Set(admin.apiKeys!.map((k) => k.id));
    const recordKeys = d.usage.edges.map((e) => e.node.apiKey.id);
    expect(recordKeys).toContain(reader.id);
    for (const id of recordKeys) expect(keyIds.has(id)).toBe(true);
    const buckets = new Map(d.usageSummary.map((b) => [b.key, b.requests]));
    expect(buckets.get(reader.id)).toBe(2);
    expect(buckets.get(other.id)).toBe(1);
    expect(ok(await gw.gql<{ viewer: { id: string } }>('{ viewer { id } }', {}, reader.secret)).viewer.id).toBe(reader.id);
  });

  it("a usage record's invocationId is its call's ChatResult.id; its global id refetches it", async () => {
    const chat = ok(await gw.gql<{ chat: ChatOut }>(CHAT, { input: chatInput('find me') }, reader.secret)).chat;
    await gw.flushUsage();
    const page = ok(await gw.gql<{ usage: { edges: Array<{ node: { id: string; invocationId: string } }> } }>('query($f: UsageFilter) { usage(filter: $f, first: 1) { edges { node { id invocationId } } } }', { f: { apiKeyId: reader.id } }));
    const record = page.usage.edges[0].node;
    expect(record.invocationId).toBe(chat.id);
    expect(record.id).not.toBe(chat.id);
    expect(ok(await gw.gql<{ node: unknown }>(NODE, { id: record.id }, reader.secret)).node).toMatchObject({ __typename: 'UsageRecord', id: record.id, invocationId: chat.id });
  });
});

describe('node(id:) and nodes(ids:) as ADMIN', () => {
  it('refetches every listed object by its id, with the fields the list answered', async () => {
    const listed = allListed(admin);
    for (const n of listed) {
      const got = ok(await gw.gql<{ node: Node }>(NODE, { id: n.id })).node;
      expect(got).toMatchObject(n);
    }
    const all = ok(await gw.gql<{ nodes: Node[] }>(NODES, { ids: listed.map((n) => n.id) })).nodes;
    expect(all).toHaveLength(listed.length);
    all.forEach((got, i) => expect(got).toMatchObject(listed[i]));
  });

  it('an unknown id is null without an error; a malformed one is BAD_USER_INPUT naming the argument', async () => {
    for (const type of ['Provider', 'Model', 'ApiKey', 'PromptTemplate']) {
      const r = await gw.gql(NODE, { id: wrap(type, UNKNOWN_UUID) });
      expect(r.errors, type).toBeUndefined();
      expect(r.data.node, type).toBeNull();
    }
    const record = unwrap(admin.usage!.edges[0].node.id).key;
    const r = await gw.gql(NODE, { id: wrap('UsageRecord', record.replace(/\|.*/, `|${UNKNOWN_UUID}`)) });
    expect(r.errors).toBeUndefined();
    expect(r.data.node).toBeNull();

    for (const bad of ['nope', '', UNKNOWN_UUID, wrap('ChatResult', UNKNOWN_UUID), wrap('Model', 'not-a-uuid'), wrap('UsageRecord', UNKNOWN_UUID), wrap('Nope', UNKNOWN_UUID)]) {
      const res = await gw.gql(NODE, { id: bad });
      expectCode(res, 'BAD_USER_INPUT', 'id');
      expect(res.data, bad).toEqual({ node: null });
    }
  });
});

describe('node(id:) and nodes(ids:) see what the lists show, no more', () => {
  it('for each key, an object answers through node exactly when its list shows it', async () => {
    for (const key of [invoker, reader, other]) {
      const r = await gw.gql<Lists>(LISTS, {}, key.secret);
      const visible = new Set(allListed(r.data!).map((n) => n.id));
      visible.add(key.id); // viewer
      const candidates = allListed(admin);
      const got = await gw.gql<{ nodes: Array<Node | null> }>(NODES, { ids: candidates.map((n) => n.id) }, key.secret);
      expect(got.data!.nodes).toHaveLength(candidates.length);
      candidates.forEach((n, i) => {
        const answer = got.data!.nodes[i];
        expect(answer?.id ?? null, `${key === invoker ? 'invoker' : key === reader ? 'reader' : 'other'}: ${n.__typename} ${String(n.name ?? n.model)}`).toBe(visible.has(n.id) ? n.id : null);
      });
    }
  });

  it('an INVOKE key: a mix of visible, invisible, admin-only, unknown and malformed ids, each answered at its index', async () => {
    const byName = (list: Node[] | null, name: string) => list!.find((n) => n.name === name)!.id;
    const ownRecord = admin.usage!.edges.find((e) => e.node.model === 'echo')!.node.id;
    const ids = [
      byName(admin.models, 'open-m'), // 0 visible
      byName(admin.models, 'closed-m'), // 1 outside its allow-list: null, as in `models`
      byName(admin.models, 'old-m'), // 2 retired: only ADMIN sees it
      byName(admin.prompts, 'open-p'), // 3 visible
      byName(admin.prompts, 'closed-p'), // 4 not runnable by it: null, as in `prompts`
      invoker.id, // 5 itself (viewer)
      other.id, // 6 another key: FORBIDDEN, as `apiKeys`
      byName(admin.providers, 'echo'), // 7 ADMIN only: FORBIDDEN, as `providers`
      ownRecord, // 8 usage without READ_USAGE: FORBIDDEN, as `usage`
      wrap('Model', UNKNOWN_UUID), // 9 unknown: null
      'garbage', // 10 malformed
      UNKNOWN_UUID, // 11 a bare UUID names no type
    ];
    const r = await gw.gql<{ nodes: Array<Node | null> }>(NODES, { ids }, invoker.secret);
    expect(r.status).toBe(200);
    expect(r.data!.nodes.map((n) => n?.id ?? null)).toEqual([ids[0], null, null, ids[3], null, ids[5], null, null, null, null, null, null]);
    const errors = (r.errors ?? []).map((e) => [e.path?.join('.'), e.extensions?.code, e.extensions?.field ?? null]);
    expect(errors.sort()).toEqual(
      [
        ['nodes.6', 'FORBIDDEN', null],
        ['nodes.7', 'FORBIDDEN', null],
        ['nodes.8', 'FORBIDDEN', null],
        ['nodes.10', 'BAD_USER_INPUT', 'ids[10]'],
        ['nodes.11', 'BAD_USER_INPUT', 'ids[11]'],
      ].sort(),
    );
  });

  it('node(id:) answers an admin-only object with null and one FORBIDDEN error at ["node"]; the rest of the query answers', async () => {
    const r = await gw.gql(`query($id: ID!) { viewer { id } node(id: $id) { id } }`, { id: admin.providers![0].id }, invoker.secret);
    expect(r.data).toEqual({ viewer: { id: invoker.id }, node: null });
    expect(r.errors?.map((e) => [e.path, e.extensions?.code])).toEqual([[['node'], 'FORBIDDEN']]);
  });

  it('a READ_USAGE key refetches its own usage records and not another key’s', async () => {
    const own = (await gw.gql<Lists>(LISTS, {}, reader.secret)).data!.usage!.edges.map((e) => e.node);
    expect(own.length).toBeGreaterThanOrEqual(2);
    for (const n of own) expect(ok(await gw.gql<{ node: Node }>(NODE, { id: n.id }, reader.secret)).node).toMatchObject(n);
    const foreign = admin.usage!.edges.map((e) => e.node).filter((n) => !own.some((o) => o.id === n.id));
    expect(foreign.length).toBeGreaterThan(0);
    for (const n of foreign) {
      const r = await gw.gql(NODE, { id: n.id }, reader.secret);
      expect(r.errors).toBeUndefined();
      expect(r.data.node).toBeNull();
    }
  });

  it('without a key: UNAUTHENTICATED', async () => {
    expectCode(await gw.gql(NODE, { id: admin.models[0].id }, null), 'UNAUTHENTICATED');
  });
});

describe('admin-only root fields are nullable', () => {
  it('{ models providers } with an INVOKE key: the models, providers null, one FORBIDDEN error at ["providers"]', async () => {
    const r = await gw.gql('{ models { name } providers { name } }', {}, invoker.secret);
    expect(r.status).toBe(200);
    expect(r.data.models.map((m: { name: string }) => m.name).sort()).toEqual(['echo', 'open-m']);
    expect(r.data.providers).toBeNull();
    expect(r.errors?.map((e) => [e.path, e.extensions?.code])).toEqual([[['providers'], 'FORBIDDEN']]);
  });

  it('apiKeys, usage and usageSummary: null with their own FORBIDDEN error each; viewer and prompts still answer', async () => {
    const r = await gw.gql(
      '{ viewer { name } prompts { name } apiKeys { id } usage { edges { cursor } } usageSummary(groupBy: MODEL) { key } }',
      {},
      invoker.secret,
    );
    expect(r.data).toEqual({ viewer: { name: 'invoker' }, prompts: [{ name: 'open-p' }], apiKeys: null, usage: null, usageSummary: null });
    expect(r.errors?.map((e) => [e.path?.join('.'), e.extensions?.code]).sort()).toEqual([
      ['apiKeys', 'FORBIDDEN'],
      ['usage', 'FORBIDDEN'],
      ['usageSummary', 'FORBIDDEN'],
    ]);
  });

  it('mutations are unchanged: an admin mutation by an INVOKE key still nulls the answer', async () => {
    const r = await gw.gql('mutation { deleteModel(name: "open-m") }', {}, invoker.secret);
    expectCode(r, 'FORBIDDEN');
    expect(r.data ?? null).toBeNull();
  });
});

describe('id arguments take global ids, and bare UUIDs for one release', () => {
  const REVOKE = 'mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }';
  const UPDATE = 'mutation($id: ID!, $input: UpdateApiKeyInput!) { updateApiKey(id: $id, input: $input) { id name } }';
  const ROTATE = 'mutation($id: ID!) { rotateApiKey(id: $id) { apiKey { id } secret } }';
  const USAGE_OF = 'query($f: UsageFilter) { usage(filter: $f, first: 500) { edges { node { id } } } usageSummary(groupBy: MODEL, filter: $f) { key requests } }';

  const warnings = (r: GqlResponse) => (r.extensions?.warnings ?? []) as string[];

  it('a global id: no warning', async () => {
    const k = await gw.createKey({ name: 'global' });
    const r = await gw.gql(UPDATE, { id: k.id, input: { name: 'renamed' } });
    expect(ok(r).updateApiKey).toEqual({ id: k.id, name: 'renamed' });
    expect(r.extensions?.warnings).toBeUndefined();
    const rotated = await gw.gql(ROTATE, { id: k.id });
    expect(ok(rotated).rotateApiKey.apiKey.id).toBe(k.id);
    expect(rotated.extensions?.warnings).toBeUndefined();
    const revoked = await gw.gql(REVOKE, { id: k.id });
    expect(ok(revoked).revokeApiKey.revokedAt).toBeTruthy();
    expect(revoked.extensions?.warnings).toBeUndefined();
  });

  it('the bare UUID inside it still works for update, rotate, revoke and filter.apiKeyId, reported as deprecated', async () => {
    const k = await gw.createKey({ name: 'bare' });
    const { type, key: bare } = unwrap(k.id);
    expect(type).toBe('ApiKey');
    expect(bare).toBe(k.uuid);

    const updated = await gw.gql(UPDATE, { id: bare, input: { name: 'renamed-bare' } });
    expect(ok(updated).updateApiKey).toEqual({ id: k.id, name: 'renamed-bare' });
    expect(warnings(updated)).toEqual([expect.stringMatching(/^id: a bare UUID is deprecated.*ApiKey\.id/)]);
    const rotated = await gw.gql(ROTATE, { id: bare });
    expect(ok(rotated).rotateApiKey.apiKey.id).toBe(k.id);
    expect(warnings(rotated)).toHaveLength(1);

    const byGlobal = await gw.gql(USAGE_OF, { f: { apiKeyId: reader.id } });
    const byBare = await gw.gql(USAGE_OF, { f: { apiKeyId: reader.uuid } });
    expect(ok(byGlobal).usage.edges.length).toBeGreaterThanOrEqual(2);
    expect(ok(byBare)).toEqual(byGlobal.data);
    expect(byGlobal.extensions?.warnings).toBeUndefined();
    // the filter is read once per field that takes it: one deprecation, reported once
    expect(warnings(byBare)).toEqual([expect.stringMatching(/^filter\.apiKeyId: a bare UUID is deprecated/)]);

    const revoked = await gw.gql(REVOKE, { id: bare });
    expect(ok(revoked).revokeApiKey.id).toBe(k.id);
    expect(warnings(revoked)).toHaveLength(1);
  });

  it("another type's global id, or no id at all: BAD_USER_INPUT naming the argument", async () => {
    const modelId = admin.models[0].id;
    for (const bad of [modelId, 'nope', wrap('ApiKey', 'not-a-uuid')]) {
      expectCode(await gw.gql(REVOKE, { id: bad }), 'BAD_USER_INPUT', 'id');
      expectCode(await gw.gql(UPDATE, { id: bad, input: { name: 'x' } }), 'BAD_USER_INPUT', 'id');
      expectCode(await gw.gql('query($f: UsageFilter) { usage(filter: $f) { edges { cursor } } }', { f: { apiKeyId: bad } }), 'BAD_USER_INPUT', 'filter.apiKeyId');
    }
    // an unknown key is still NOT_FOUND, as before
    expectCode(await gw.gql(REVOKE, { id: wrap('ApiKey', UNKNOWN_UUID) }), 'NOT_FOUND');
  });

  it('a caller without the scope hears FORBIDDEN before anything about its id', async () => {
    expectCode(await gw.gql(REVOKE, { id: 'nope' }, invoker.secret), 'FORBIDDEN');
    expectCode(await gw.gql('query($f: UsageFilter) { usage(filter: $f) { edges { cursor } } }', { f: { apiKeyId: 'nope' } }, invoker.secret), 'FORBIDDEN');
  });
});
