/*
 * Team-scoped usage (issue 24): a TEAM_ADMIN of team A reads exactly A's records in usage, usageSummary, usageSeries,
 * usageRecorded and node(id:), none of B's; filters and groupBy TEAM / USER with exact counts; UsageRecord.team.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { createWsClient, type WsClient } from '../kit/ws.js';

let gw: TestGateway;

interface Key {
  id: string;
  uuid: string;
  secret: string;
}
interface Team {
  id: string;
  name: string;
}

let teamA: Team;
let teamB: Team;
/** Keys of A: two that call (a1 also reads its own usage), and A's TEAM_ADMIN (no other scope). */
let a1: Key;
let a2: Key;
let aAdmin: Key;
let b1: Key;
let bAdmin: Key;
/** A key without team. */
let solo: Key;

/** The invocation ids of each key's calls. */
const calls: Record<string, string[]> = {};

const CHAT = 'mutation($input: ChatInput!) { chat(input: $input) { id } }';
const RECORD = 'invocationId user apiKey { id } team { id name }';
const USAGE = `query($f: UsageFilter) { usage(filter: $f, first: 100) { edges { node { id ${RECORD} } } } }`;
const SUMMARY = 'query($g: UsageGroupBy, $f: UsageFilter) { usageSummary(groupBy: $g, filter: $f) { key requests } }';
const SERIES = 'query($i: UsageInterval!, $g: UsageGroupBy, $f: UsageFilter) { usageSeries(interval: $i, groupBy: $g, filter: $f) { key points { requests } } }';
const FEED = `subscription { usageRecorded { ${RECORD} } }`;

interface RecordOut {
  id: string;
  invocationId: string;
  user: string | null;
  apiKey: { id: string } | null;
  team: Team | null;
}
interface Bucket {
  key: string;
  requests: number;
}

async function createTeam(name: string): Promise<Team> {
  const r = await gw.gql<{ createTeam: Team }>('mutation($i: CreateTeamInput!) { createTeam(input: $i) { id name } }', { i: { name } });
  expect(r.errors).toBeUndefined();
  return r.data!.createTeam;
}

async function chat(key: Key, user: string | null): Promise<void> {
  const r = await gw.gql<{ chat: { id: string } }>(CHAT, { input: { model: 'echo', messages: [{ role: 'USER', content: 'hi' }], user } }, key.secret);
  expect(r.errors).toBeUndefined();
  (calls[key.id] ??= []).push(r.data!.chat.id);
}

async function usage(key: string, filter: Record<string, unknown> = {}): Promise<RecordOut[]> {
  const r = await gw.gql<{ usage: { edges: Array<{ node: RecordOut }> } }>(USAGE, { f: filter }, key);
  expect(r.errors).toBeUndefined();
  return r.data!.usage.edges.map((e) => e.node);
}

async function summary(key: string, groupBy: string | null, filter: Record<string, unknown> = {}): Promise<Bucket[]> {
  const r = await gw.gql<{ usageSummary: Bucket[] }>(SUMMARY, { g: groupBy, f: filter }, key);
  expect(r.errors).toBeUndefined();
  return r.data!.usageSummary;
}

/** Each series' total requests, by its key. */
async function seriesTotals(key: string, interval: string, groupBy: string | null, filter: Record<string, unknown> = {}): Promise<Record<string, number>> {
  const from = new Date(Date.now() - 3_600_000).toISOString();
  const r = await gw.gql<{ usageSeries: Array<{ key: string; points: Array<{ requests: number }> }> }>(SERIES, { i: interval, g: groupBy, f: { from, ...filter } }, key);
  expect(r.errors).toBeUndefined();
  return Object.fromEntries(r.data!.usageSeries.map((s) => [s.key, s.points.reduce((n, p) => n + p.requests, 0)]));
}

const byKey = (buckets: Bucket[]) => Object.fromEntries(buckets.map((b) => [b.key, b.requests]));
const sorted = (xs: string[]) => [...xs].sort();

/** The feed of one subscriber: every record it received. */
interface Feed {
  received: RecordOut[];
  errors: unknown[];
  client: WsClient;
  stop(): Promise<void>;
}

function subscribe(secret: string): Promise<Feed> {
  const client = createWsClient(gw.url, secret);
  const feed: Feed = { received: [], errors: [], client, stop: async () => {} };
  const unsubscribe = client.subscribe<{ usageRecorded: RecordOut }>(
    { query: FEED },
    { next: (r) => (r.data ? feed.received.push(r.data.usageRecorded) : feed.errors.push(r.errors)), error: (e) => feed.errors.push(e), complete: () => {} },
  );
  feed.stop = async () => {
    unsubscribe();
    await client.dispose();
  };
  // subscribed once the server acknowledged the connection (the subscribe message follows on the same socket)
  return new Promise((resolve, reject) => {
    client.on('connected', () => setTimeout(() => resolve(feed), 200));
    client.on('error', reject);
  });
}

async function waitFor(what: string, done: () => boolean, ms = 15_000): Promise<void> {
  const until = Date.now() + ms;
  while (!done()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let adminFeed: Feed;
let aFeed: Feed;
let bFeed: Feed;

beforeAll(async () => {
  gw = await startGateway();
  [teamA, teamB] = [await createTeam(`A ${process.pid}`), await createTeam(`B ${process.pid}`)];
  a1 = await gw.createKey({ name: 'a1', scopes: ['INVOKE', 'READ_USAGE'], team: teamA.id });
  a2 = await gw.createKey({ name: 'a2', scopes: ['INVOKE'], team: teamA.id });
  aAdmin = await gw.createKey({ name: 'a admin', scopes: ['TEAM_ADMIN'], team: teamA.id });
  b1 = await gw.createKey({ name: 'b1', scopes: ['INVOKE'], team: teamB.id });
  bAdmin = await gw.createKey({ name: 'b admin', scopes: ['TEAM_ADMIN'], team: teamB.id });
  solo = await gw.createKey({ name: 'solo', scopes: ['INVOKE', 'READ_USAGE'] });
  [adminFeed, aFeed, bFeed] = await Promise.all([subscribe(gw.adminKey), subscribe(aAdmin.secret), subscribe(bAdmin.secret)]);

  // A: 5 calls (u1 ×3, u2, none); B: 4 calls (u1 ×2, u3 ×2); no team: 1 call (u1)
  for (const [key, user] of [
    [a1, 'u1'],
    [a1, 'u1'],
    [a1, 'u2'],
    [a2, 'u1'],
    [a2, null],
    [b1, 'u1'],
    [b1, 'u3'],
    [b1, 'u1'],
    [b1, 'u3'],
    [solo, 'u1'],
  ] as Array<[Key, string | null]>) {
    await chat(key, user);
  }
  await gw.flushUsage();
  await waitFor('the feeds', () => adminFeed.received.length >= 10 && aFeed.received.length >= 5 && bFeed.received.length >= 4);
  // anything that should not have come would have come with the rest
  await new Promise((r) => setTimeout(r, 300));
}, 120_000);

afterAll(async () => {
  await Promise.all([adminFeed?.stop(), aFeed?.stop(), bFeed?.stop()]);
  await gw?.stop();
});

const aCalls = () => sorted([...calls[a1.id]!, ...calls[a2.id]!]);
const bCalls = () => sorted(calls[b1.id]!);

describe("a TEAM_ADMIN reads exactly its team's usage", () => {
  it("usage: A's five records, with their keys and team, none of B's or the key without team", async () => {
    const records = await usage(aAdmin.secret);
    expect(sorted(records.map((r) => r.invocationId))).toEqual(aCalls());
    expect(records.every((r) => r.team?.id === teamA.id && r.team.name === teamA.name)).toBe(true);
    // the keys of its team, which a TEAM_ADMIN reads
    expect(sorted(records.map((r) => r.apiKey?.id ?? 'none'))).toEqual(sorted([a1.id, a1.id, a1.id, a2.id, a2.id]));
    const forB = await usage(bAdmin.secret);
    expect(sorted(forB.map((r) => r.invocationId))).toEqual(bCalls());
    expect(forB.every((r) => r.team?.id === teamB.id)).toBe(true);
  });

  it("filters cannot reach another team's records", async () => {
    expect(await usage(aAdmin.secret, { team: teamB.id })).toEqual([]);
    expect(await usage(aAdmin.secret, { apiKeyId: b1.id })).toEqual([]);
    expect(await usage(aAdmin.secret, { apiKeyId: solo.id })).toEqual([]);
    expect(await summary(aAdmin.secret, null, { team: teamB.id })).toEqual([]);
    expect(await summary(aAdmin.secret, 'USER', { user: 'u3' })).toEqual([]);
    expect((await usage(aAdmin.secret, { team: teamA.id })).length).toBe(5);
    expect((await usage(aAdmin.secret, { apiKeyId: a2.id })).length).toBe(2);
  });

  it('usageSummary: totals, by key, by end user and by team, exact', async () => {
    expect(await summary(aAdmin.secret, null)).toEqual([{ key: 'all', requests: 5 }]);
    expect(byKey(await summary(aAdmin.secret, 'API_KEY'))).toEqual({ [a1.id]: 3, [a2.id]: 2 });
    expect(byKey(await summary(aAdmin.secret, 'USER'))).toEqual({ '': 1, u1: 3, u2: 1 });
    expect(await summary(aAdmin.secret, 'TEAM')).toEqual([{ key: teamA.id, requests: 5 }]);
    expect(byKey(await summary(aAdmin.secret, 'MODEL'))).toEqual({ echo: 5 });
    expect(byKey(await summary(bAdmin.secret, 'USER'))).toEqual({ u1: 2, u3: 2 });
  });

  it('usageSeries: only its team, every interval and grouping', async () => {
    for (const interval of ['MINUTE', 'HOUR', 'DAY']) {
      expect(await seriesTotals(aAdmin.secret, interval, null)).toEqual({ all: 5 });
      expect(await seriesTotals(aAdmin.secret, interval, 'TEAM')).toEqual({ [teamA.id]: 5 });
      expect(await seriesTotals(aAdmin.secret, interval, 'USER')).toEqual({ '': 1, u1: 3, u2: 1 });
      expect(await seriesTotals(aAdmin.secret, interval, 'API_KEY')).toEqual({ [a1.id]: 3, [a2.id]: 2 });
      expect(await seriesTotals(bAdmin.secret, interval, 'TEAM')).toEqual({ [teamB.id]: 4 });
    }
  });

  it("usageRecorded: A's TEAM_ADMIN received exactly A's records, B's exactly B's", () => {
    expect(aFeed.errors).toEqual([]);
    expect(bFeed.errors).toEqual([]);
    expect(sorted(aFeed.received.map((r) => r.invocationId))).toEqual(aCalls());
    expect(aFeed.received.every((r) => r.team?.id === teamA.id)).toBe(true);
    expect(sorted(bFeed.received.map((r) => r.invocationId))).toEqual(bCalls());
    expect(adminFeed.received).toHaveLength(10);
  });

  it("node(id:): its team's records, never another team's", async () => {
    const mine = (await usage(aAdmin.secret))[0]!;
    const theirs = (await usage(bAdmin.secret))[0]!;
    const q = `query($id: ID!) { node(id: $id) { ... on UsageRecord { invocationId } } }`;
    const own = await gw.gql<{ node: { invocationId: string } | null }>(q, { id: mine.id }, aAdmin.secret);
    expect(own.data?.node?.invocationId).toBe(mine.invocationId);
    const other = await gw.gql<{ node: unknown }>(q, { id: theirs.id }, aAdmin.secret);
    expect(other.data?.node ?? null).toBeNull();
    expect(JSON.stringify(other)).not.toContain(theirs.invocationId);
  });
});

describe('everyone else', () => {
  it('a key of a team without TEAM_ADMIN reads its own records only, with its team', async () => {
    const records = await usage(a1.secret);
    expect(sorted(records.map((r) => r.invocationId))).toEqual(sorted(calls[a1.id]!));
    expect(records.every((r) => r.team?.id === teamA.id && r.apiKey?.id === a1.id)).toBe(true);
    expect(await summary(a1.secret, 'TEAM')).toEqual([{ key: teamA.id, requests: 3 }]);
    expect(await usage(a1.secret, { team: teamB.id })).toEqual([]);
  });

  it("a key without team: its own records, team null; another team's filter reads nothing", async () => {
    const records = await usage(solo.secret);
    expect(records.map((r) => [r.invocationId, r.team])).toEqual([[calls[solo.id]![0], null]]);
    expect(await summary(solo.secret, 'TEAM')).toEqual([{ key: '', requests: 1 }]);
    expect(await usage(solo.secret, { team: teamA.id })).toEqual([]);
  });

  it('a key with neither READ_USAGE nor TEAM_ADMIN is still refused', async () => {
    const r = await gw.gql(SUMMARY, { g: 'TEAM' }, a2.secret);
    expect(r.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('ADMIN: every team, filter and groupBy TEAM and USER exact', async () => {
    expect(byKey(await summary(gw.adminKey, 'TEAM'))).toEqual({ '': 1, [teamA.id]: 5, [teamB.id]: 4 });
    expect(byKey(await summary(gw.adminKey, 'USER'))).toEqual({ '': 1, u1: 6, u2: 1, u3: 2 });
    expect(byKey(await summary(gw.adminKey, 'USER', { team: teamB.id }))).toEqual({ u1: 2, u3: 2 });
    expect(await summary(gw.adminKey, null, { team: teamA.id, user: 'u1' })).toEqual([{ key: 'all', requests: 3 }]);
    expect(await seriesTotals(gw.adminKey, 'HOUR', 'TEAM')).toEqual({ '': 1, [teamA.id]: 5, [teamB.id]: 4 });
    const records = await usage(gw.adminKey, { team: teamB.id });
    expect(sorted(records.map((r) => r.invocationId))).toEqual(bCalls());
    expect(records.every((r) => r.team?.name === teamB.name)).toBe(true);
  });

  it('filter.team must be a Team global id', async () => {
    const r = await gw.gql(SUMMARY, { f: { team: a1.id } }, gw.adminKey);
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'filter.team' });
  });
});

// last: its calls add to the counts above
describe("a TEAM_ADMIN's feed follows its key", () => {
  it('ends when the key leaves the team (it would otherwise go on carrying the old team\'s records)', async () => {
    const mover = await gw.createKey({ name: 'a admin 2', scopes: ['TEAM_ADMIN'], team: teamA.id });
    const feed = await subscribe(mover.secret);
    await chat(a1, 'before');
    await waitFor('the record before the move', () => feed.received.length === 1);
    const moved = await gw.gql('mutation($id: ID!, $input: UpdateApiKeyInput!) { updateApiKey(id: $id, input: $input) { id } }', {
      id: mover.id,
      input: { team: teamB.id },
    });
    expect(moved.errors).toBeUndefined();
    await waitFor('the feed to end', () => feed.errors.length > 0);
    expect(JSON.stringify(feed.errors)).toContain('FORBIDDEN');
    await chat(a1, 'after');
    await gw.flushUsage();
    await new Promise((r) => setTimeout(r, 300));
    expect(feed.received.map((r) => r.user)).toEqual(['before']);
    await feed.stop();
  });
});
