/*
 * End users (issue 24): `user` on ChatInput / EmbedInput, OpenAI's REST `user` (through the official SDK), prompt
 * runs; what reaches UsageRecord.user, the checks on it, and usage filtered and grouped by it.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { startOpenAIMock, type OpenAIMock } from '../mocks/openai.js';
import { addMockProvider, post } from '../rest/kit.js';

let gw: TestGateway;
let mock: OpenAIMock;
/** The key every call of this file is made with, so the usage reads below see exactly these calls. */
let key: { id: string; secret: string };
let client: OpenAI;

const CHAT = 'mutation($input: ChatInput!) { chat(input: $input) { id } }';
const EMBED = 'mutation($input: EmbedInput!) { embed(input: $input) { model } }';
const RECORDS = 'query($f: UsageFilter) { usage(filter: $f, first: 100) { edges { node { invocationId model user status } } } }';

interface UsageNode {
  invocationId: string;
  model: string;
  user: string | null;
  status: string;
}

async function records(filter: Record<string, unknown> = {}): Promise<UsageNode[]> {
  await gw.flushUsage();
  const r = await gw.gql<{ usage: { edges: Array<{ node: UsageNode }> } }>(RECORDS, { f: { apiKeyId: key.id, ...filter } });
  expect(r.errors).toBeUndefined();
  return r.data!.usage.edges.map((e) => e.node);
}

async function chat(user: unknown, text = 'hello'): Promise<string> {
  const r = await gw.gql<{ chat: { id: string } }>(CHAT, { input: { model: 'echo', messages: [{ role: 'USER', content: text }], user } }, key.secret);
  expect(r.errors).toBeUndefined();
  return r.data!.chat.id;
}

beforeAll(async () => {
  [gw, mock] = await Promise.all([startGateway(), startOpenAIMock()]);
  await addMockProvider(gw, mock, [{ name: 'embed-mock', upstreamModel: 'text-embedding-3-small' }]);
  key = await gw.createKey({ name: 'end users', scopes: ['INVOKE', 'READ_USAGE'] });
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: key.secret, maxRetries: 0, timeout: 10_000 });
  const prompt = await gw.gql('mutation($i: CreatePromptInput!) { createPrompt(input: $i) { version } }', {
    i: { name: 'greet', model: 'echo', messages: [{ role: 'USER', content: 'Hi {{name}}' }] },
  });
  expect(prompt.errors).toBeUndefined();
}, 60_000);
afterAll(async () => {
  await Promise.all([gw?.stop(), mock?.close()]);
});

describe('the end user reaches the usage record', () => {
  it('from GraphQL chat and embed, trimmed; null when the call names none', async () => {
    const withUser = await chat('  alice  ');
    const without = await chat(null);
    const e = await gw.gql(EMBED, { input: { model: 'embed-mock', input: ['x'], user: 'bob' } }, key.secret);
    expect(e.errors).toBeUndefined();
    const all = await records();
    expect(all.find((r) => r.invocationId === withUser)?.user).toBe('alice');
    expect(all.find((r) => r.invocationId === without)?.user).toBeNull();
    expect(all.filter((r) => r.model === 'embed-mock').map((r) => r.user)).toEqual(['bob']);
  });

  it("from REST chat completions and embeddings through the official SDK (OpenAI's `user`)", async () => {
    const c = await client.chat.completions.create({ model: 'echo', messages: [{ role: 'user', content: 'hi' }], user: 'carol' });
    expect(c.choices[0].message.content).toBe('echo: hi');
    const stream = await client.chat.completions.create({ model: 'echo', messages: [{ role: 'user', content: 'hi' }], user: 'carol', stream: true });
    for await (const _ of stream) void _;
    await client.embeddings.create({ model: 'embed-mock', input: 'gamma', user: 'dave' });
    const rest = await records({ user: 'carol' });
    expect(rest).toHaveLength(2);
    expect(rest.every((r) => r.model === 'echo' && r.status === 'OK')).toBe(true);
    expect((await records({ user: 'dave' })).map((r) => r.model)).toEqual(['embed-mock']);
    // the REST `user` is the end user now, no longer a metadata tag
    await gw.flushUsage();
    const meta = await gw.gql<{ usage: { edges: Array<{ node: { metadata: unknown } }> } }>(
      'query($f: UsageFilter) { usage(filter: $f) { edges { node { metadata } } } }',
      { f: { apiKeyId: key.id, user: 'carol' } },
    );
    expect(meta.data!.usage.edges.map((e) => e.node.metadata)).toEqual([null, null]);
  });

  it('from prompt runs: GraphQL runPrompt and REST POST /v1/prompts/{name}/run', async () => {
    const run = await gw.gql('mutation { runPrompt(name: "greet", variables: {name: "Ann"}, user: "erin") { id } }', {}, key.secret);
    expect(run.errors).toBeUndefined();
    const res = await post(gw, '/v1/prompts/greet/run', { variables: { name: 'Bo' }, user: 'erin' }, key.secret);
    expect(res.status).toBe(200);
    expect((await records({ user: 'erin' })).map((r) => r.model)).toEqual(['echo', 'echo']);
  });
});

describe('bad end users are refused, naming the field', () => {
  const bad: Array<[string, string, RegExp]> = [
    ['empty', '', /1-256 characters/],
    ['only spaces', '    ', /1-256 characters/],
    ['too long', 'u'.repeat(257), /1-256 characters/],
    ['a newline', 'ann\nsmith', /control characters/],
    ['a tab', 'ann\tsmith', /control characters/],
    ['DEL', 'ann\u007f', /control characters/],
  ];

  it.each(bad)('GraphQL chat and embed: %s → BAD_USER_INPUT input.user', async (_, user, message) => {
    const c = await gw.gql(CHAT, { input: { model: 'echo', messages: [{ role: 'USER', content: 'x' }], user } }, key.secret);
    expect(c.data).toBeNull();
    expect(c.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.user' });
    expect(c.errors?.[0]?.message).toMatch(message);
    const e = await gw.gql(EMBED, { input: { model: 'embed-mock', input: ['x'], user } }, key.secret);
    expect(e.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.user' });
  });

  it('accepts exactly 256 characters, and 256 non-ASCII characters', async () => {
    await chat('u'.repeat(256));
    await chat('é'.repeat(256));
    const users = (await records()).map((r) => r.user);
    expect(users).toContain('u'.repeat(256));
    expect(users).toContain('é'.repeat(256));
  });

  it('REST (official SDK): 400 invalid_request_error with param `user`', async () => {
    for (const user of ['', 'x'.repeat(257), 'a\u0001b']) {
      const err = await client.chat.completions.create({ model: 'echo', messages: [{ role: 'user', content: 'x' }], user }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('user');
      const emb = await client.embeddings.create({ model: 'embed-mock', input: 'x', user }).catch((e: unknown) => e);
      expect(emb).toBeInstanceOf(OpenAI.BadRequestError);
      expect((emb as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('user');
    }
    const res = await post(gw, '/v1/prompts/greet/run', { variables: { name: 'Bo' }, user: '\n' }, key.secret);
    expect(res.status).toBe(400);
    expect((await res.json()).error).toMatchObject({ type: 'invalid_request_error', param: 'user', code: 'BAD_USER_INPUT' });
  });

  it('GraphQL runPrompt: BAD_USER_INPUT naming user', async () => {
    const r = await gw.gql('mutation { runPrompt(name: "greet", variables: {name: "Ann"}, user: "  ") { id } }', {}, key.secret);
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'user' });
  });

  it('a refused call never records the invalid end user', async () => {
    const all = await records();
    expect(all.some((r) => r.user !== null && (r.user.length > 256 || [...r.user].some((ch) => ch.charCodeAt(0) < 32 || ch.charCodeAt(0) === 127) || !r.user.trim()))).toBe(false);
  });
});

describe('usage by end user', () => {
  // a key of its own: the counts below are exact
  let counted: { id: string; secret: string };
  const SUMMARY = 'query($g: UsageGroupBy, $f: UsageFilter) { usageSummary(groupBy: $g, filter: $f) { key requests } }';
  const SERIES = 'query($g: UsageGroupBy, $f: UsageFilter) { usageSeries(interval: HOUR, groupBy: $g, filter: $f) { key points { requests } } }';

  beforeAll(async () => {
    counted = await gw.createKey({ name: 'counted', scopes: ['INVOKE', 'READ_USAGE'] });
    const call = async (user: string | null) => {
      const r = await gw.gql(CHAT, { input: { model: 'echo', messages: [{ role: 'USER', content: 'x' }], user } }, counted.secret);
      expect(r.errors).toBeUndefined();
    };
    for (const user of ['ann', 'ann', 'ann', 'bo', 'bo', null]) await call(user);
    await gw.flushUsage();
  });

  it('usageSummary groupBy USER: one bucket per end user, "" for none, exact counts', async () => {
    const r = await gw.gql<{ usageSummary: Array<{ key: string; requests: number }> }>(SUMMARY, { g: 'USER', f: { apiKeyId: counted.id } }, counted.secret);
    expect(r.errors).toBeUndefined();
    expect(r.data!.usageSummary).toEqual([
      { key: '', requests: 1 },
      { key: 'ann', requests: 3 },
      { key: 'bo', requests: 2 },
    ]);
  });

  it('filter.user: usage, usageSummary and usageSeries count only that end user', async () => {
    const own = await gw.gql<{ usage: { edges: unknown[] } }>('query($f: UsageFilter) { usage(filter: $f) { edges { cursor } } }', { f: { user: 'ann' } }, counted.secret);
    expect(own.data!.usage.edges).toHaveLength(3);
    const sum = await gw.gql<{ usageSummary: Array<{ key: string; requests: number }> }>(SUMMARY, { f: { apiKeyId: counted.id, user: 'bo' } }, gw.adminKey);
    expect(sum.data!.usageSummary).toEqual([{ key: 'all', requests: 2 }]);
    const none = await gw.gql<{ usageSummary: unknown[] }>(SUMMARY, { f: { apiKeyId: counted.id, user: 'nobody' } }, gw.adminKey);
    expect(none.data!.usageSummary).toEqual([]);
    const series = await gw.gql<{ usageSeries: Array<{ key: string; points: Array<{ requests: number }> }> }>(SERIES, { f: { user: 'ann' } }, counted.secret);
    expect(series.errors).toBeUndefined();
    expect(series.data!.usageSeries.map((s) => [s.key, s.points.reduce((n, p) => n + p.requests, 0)])).toEqual([['all', 3]]);
  });

  it('usageSeries groupBy USER: one series per end user, largest first', async () => {
    for (const interval of ['MINUTE', 'HOUR', 'DAY']) {
      const r = await gw.gql<{ usageSeries: Array<{ key: string; points: Array<{ requests: number }> }> }>(
        `query($f: UsageFilter) { usageSeries(interval: ${interval}, groupBy: USER, filter: $f) { key points { requests } } }`,
        // from an hour ago: partial hours at both ends (records) besides the series read
        { f: { apiKeyId: counted.id, from: new Date(Date.now() - 3_600_000).toISOString() } },
        counted.secret,
      );
      expect(r.errors).toBeUndefined();
      expect(r.data!.usageSeries.map((s) => [s.key, s.points.reduce((n, p) => n + p.requests, 0)])).toEqual([
        ['ann', 3],
        ['bo', 2],
        ['', 1],
      ]);
    }
  });

  it("a key without ADMIN never counts another key's end users", async () => {
    const other = await gw.createKey({ name: 'other', scopes: ['READ_USAGE'] });
    const r = await gw.gql<{ usageSummary: unknown[] }>(SUMMARY, { g: 'USER', f: { user: 'ann' } }, other.secret);
    expect(r.errors).toBeUndefined();
    expect(r.data!.usageSummary).toEqual([]);
  });
});
