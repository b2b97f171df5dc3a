/*
 * Issue 20 item 9: revoking, rotating, expiring or narrowing a key ends what it already has open, over graphql-ws
 * (the socket closes with 4403, or the one operation gets an error) and SSE (an error event, then complete),
 * within KEY_CACHE_TTL_MS; a change that keeps what a subscription needs leaves it running.
 * Across instances: test/limits/key-invalidation.test.ts.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeys } from '../../src/db/schema.js';
import { createEchoAdapter } from '../../src/providers/echo/index.js';
import { openFeed, untilLive, within, type Feed } from '../kit/feed.js';
import { readSse } from '../kit/sse.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { CHAT, CHAT_STREAM, chatInput, ok, sleep, waitFor } from './helpers.js';

const TTL_MS = 2000;
/** What a loaded machine may add on top (a database round trip, the test's own polling). */
const SLACK_MS = 1000;
const TRANSPORTS = ['ws', 'sse'] as const;

let gw: TestGateway;
/** Makes usage records for every ADMIN feed to see. */
let invoker: { id: string; secret: string };

beforeAll(async () => {
  // slow words: a chatStream is still running when its key changes
  gw = await startGateway({ KEY_CACHE_TTL_MS: String(TTL_MS) }, { adapters: { ECHO: createEchoAdapter({ wordDelayMs: 150 }) } });
  invoker = await gw.createKey({ name: 'invoker', scopes: ['INVOKE'] });
});

afterAll(async () => {
  await gw?.stop();
});

const UPDATE = 'mutation($id: ID!, $input: UpdateApiKeyInput!) { updateApiKey(id: $id, input: $input) { id } }';

/** Opens a feed on each transport and waits until both receive records. */
async function liveFeeds(secret: string, chatAs = invoker.secret): Promise<Feed[]> {
  const feeds = TRANSPORTS.map((t) => openFeed(gw.url, secret, t));
  await untilLive(gw, feeds, chatAs);
  return feeds;
}

/** Both feeds end within `ms`, each with exactly `code`; the websocket is then closed with 4403, or left open. */
async function expectEnded(feeds: Feed[], code: string, ms: number, socket: 'closed' | 'open') {
  for (const f of feeds) {
    const end = await within(f.ended, ms, `the ${f.transport} feed to end`);
    expect(end.codes, f.transport).toEqual([code]);
    if (f.transport === 'sse') expect(end.completed).toBe(true);
  }
  const ws = feeds.find((f) => f.transport === 'ws')!;
  if (socket === 'closed') expect(await within(ws.socketClosed, 1000, 'the websocket to close')).toBe(4403);
  else expect(await Promise.race([ws.socketClosed, sleep(300).then(() => 'still open')])).toBe('still open');
  // nothing more arrives: a record written now reaches no one of these
  const seen = feeds.map((f) => f.records.length);
  ok(await gw.gql(CHAT, { input: chatInput('after') }, invoker.secret));
  await gw.flushUsage();
  await sleep(100);
  expect(feeds.map((f) => f.records.length)).toEqual(seen);
}

describe('a key change ends the subscriptions it no longer allows', () => {
  it('revoke: an ADMIN key\'s usageRecorded feeds (ws and SSE) end with UNAUTHENTICATED, its websocket closes with 4403', async () => {
    const key = await gw.createKey({ name: 'revoked admin', scopes: ['ADMIN', 'READ_USAGE'] });
    const feeds = await liveFeeds(key.secret);
    ok(await gw.gql('mutation($id: ID!) { revokeApiKey(id: $id) { id } }', { id: key.id }));
    await expectEnded(feeds, 'UNAUTHENTICATED', TTL_MS, 'closed');
  });

  it('rotate: what the old secret opened ends; the new secret opens a working feed', async () => {
    const key = await gw.createKey({ name: 'rotated admin', scopes: ['ADMIN'] });
    const feeds = await liveFeeds(key.secret);
    const rotated = ok(await gw.gql<{ rotateApiKey: { secret: string } }>('mutation($id: ID!) { rotateApiKey(id: $id) { secret } }', { id: key.id }));
    await expectEnded(feeds, 'UNAUTHENTICATED', TTL_MS, 'closed');
    const fresh = await liveFeeds(rotated.rotateApiKey.secret);
    for (const f of fresh) f.close();
  });

  it('expiry: the feeds end when expiresAt passes (no event announces it), not before', async () => {
    const expiresAt = Date.now() + 3000;
    const key = await gw.createKey({ name: 'expiring', scopes: ['ADMIN'], expiresAt: new Date(expiresAt).toISOString() });
    const feeds = await liveFeeds(key.secret);
    const ends = feeds.map((f) => f.ended.then(() => Date.now()));
    await expectEnded(feeds, 'UNAUTHENTICATED', expiresAt - Date.now() + TTL_MS + SLACK_MS, 'closed');
    for (const at of await Promise.all(ends)) expect(at).toBeGreaterThanOrEqual(expiresAt);
  });

  it('a key revoked behind the gateway (no invalidation reaches it) ends its feeds within the TTL', async () => {
    const key = await gw.createKey({ name: 'revoked in the database', scopes: ['READ_USAGE', 'INVOKE'] });
    const feeds = await liveFeeds(key.secret, key.secret);
    await gw.app.services.database.db.update(apiKeys).set({ revokedAt: new Date() }).where(eq(apiKeys.id, key.uuid));
    await expectEnded(feeds, 'UNAUTHENTICATED', TTL_MS + SLACK_MS, 'closed');
  });

  it('scope change: losing ADMIN ends the unfiltered feed with FORBIDDEN; the websocket stays open', async () => {
    const key = await gw.createKey({ name: 'demoted admin', scopes: ['ADMIN', 'READ_USAGE'] });
    const feeds = await liveFeeds(key.secret);
    ok(await gw.gql(UPDATE, { id: key.id, input: { scopes: ['READ_USAGE'] } }));
    await expectEnded(feeds, 'FORBIDDEN', TTL_MS, 'open');
  });

  it('scope change: losing READ_USAGE ends a key\'s own feed with FORBIDDEN', async () => {
    const key = await gw.createKey({ name: 'reader', scopes: ['READ_USAGE', 'INVOKE'] });
    const feeds = await liveFeeds(key.secret, key.secret);
    ok(await gw.gql(UPDATE, { id: key.id, input: { scopes: ['INVOKE'] } }));
    await expectEnded(feeds, 'FORBIDDEN', TTL_MS, 'open');
  });

  it('a change that keeps what the feed needs (a scope added, a new name) leaves it running', async () => {
    const key = await gw.createKey({ name: 'reader', scopes: ['READ_USAGE', 'INVOKE'] });
    const feeds = await liveFeeds(key.secret, key.secret);
    ok(await gw.gql(UPDATE, { id: key.id, input: { name: 'renamed reader', scopes: ['READ_USAGE', 'INVOKE', 'ADMIN'] } }));
    // past a whole re-check round
    await sleep(TTL_MS + 200);
    const seen = feeds.map((f) => f.records.length);
    ok(await gw.gql(CHAT, { input: chatInput('still here') }, key.secret));
    await waitFor(async () => {
      await gw.flushUsage();
      return feeds.every((f, i) => f.records.length > seen[i]);
    }, 'the feeds to keep receiving records');
    for (const f of feeds) f.close();
  });

  it('scope change: losing INVOKE ends a running chatStream (ws and SSE) with FORBIDDEN', async () => {
    const key = await gw.createKey({ name: 'streamer', scopes: ['INVOKE'] });
    const long = Array.from({ length: 40 }, (_, i) => `w${i}`).join(' ');
    const streams = TRANSPORTS.map((t) => openFeed(gw.url, key.secret, t, CHAT_STREAM.replace('($input: ChatInput!)', '').replace('(input: $input)', `(input: { model: "echo", messages: [{ role: USER, content: "${long}" }] })`)));
    await waitFor(() => streams.every((s) => s.records.length > 0), 'both streams to start');
    ok(await gw.gql(UPDATE, { id: key.id, input: { scopes: ['READ_USAGE'] } }));
    for (const s of streams) {
      const end = await within(s.ended, TTL_MS, `the ${s.transport} stream to end`);
      expect(end.codes, s.transport).toEqual(['FORBIDDEN']);
      // ended early: 40 words at 150 ms would take 6 s
      expect(s.records.length).toBeLessThan(30);
    }
  });

  it('REST streams too: losing INVOKE ends a running /v1/chat/completions stream with an error event', async () => {
    const key = await gw.createKey({ name: 'rest-streamer', scopes: ['INVOKE'] });
    const long = Array.from({ length: 40 }, (_, i) => `w${i}`).join(' ');
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key.secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'echo', stream: true, messages: [{ role: 'user', content: long }] }),
    });
    expect(res.status).toBe(200);
    const events: string[] = [];
    const done = (async () => {
      for await (const e of readSse(res.body!)) events.push(e.data);
    })();
    await waitFor(() => events.some((d) => d.includes('"content":"echo:')), 'the stream to start');
    ok(await gw.gql(UPDATE, { id: key.id, input: { scopes: ['READ_USAGE'] } }));
    await within(done, TTL_MS + SLACK_MS, 'the REST stream to end');
    const last = JSON.parse(events.at(-1)!) as { error?: { code?: string } };
    expect(last.error?.code).toBe('FORBIDDEN');
    expect(events).not.toContain('[DONE]');
    // ended early: 40 words at 150 ms would take 6 s
    expect(events.length).toBeLessThan(35);
  });

  it('a chatStream whose model comes from a defaulted variable keeps running through revalidation on an allow-listed key', async () => {
    const key = await gw.createKey({ name: 'defaulted', scopes: ['INVOKE'], allowedModels: ['echo'] });
    const long = Array.from({ length: 40 }, (_, i) => `w${i}`).join(' ');
    const query = `subscription($m: String! = "echo") { chatStream(input: { model: $m, messages: [{ role: USER, content: "${long}" }] }) { delta } }`;
    const [stream] = TRANSPORTS.filter((t) => t === 'sse').map((t) => openFeed(gw.url, key.secret, t, query));
    await waitFor(() => stream!.records.length > 0, 'the stream to start');
    // past at least one periodic revalidation (every KEY_CACHE_TTL_MS)
    expect(await Promise.race([stream!.ended.then(() => 'ended'), sleep(TTL_MS + SLACK_MS).then(() => 'running')])).toBe('running');
    stream!.close();
  });

  it("allow-list change: a chatStream ends with FORBIDDEN when its model leaves the key's allowedModels, not when another does", async () => {
    const key = await gw.createKey({ name: 'listed', scopes: ['INVOKE'], allowedModels: ['echo', 'other'] });
    const long = Array.from({ length: 40 }, (_, i) => `w${i}`).join(' ');
    const streams = TRANSPORTS.map((t) => openFeed(gw.url, key.secret, t, CHAT_STREAM.replace('($input: ChatInput!)', '').replace('(input: $input)', `(input: { model: "echo", messages: [{ role: USER, content: "${long}" }] })`)));
    await waitFor(() => streams.every((s) => s.records.length > 0), 'both streams to start');
    // another model leaves the list: the streams on echo go on
    ok(await gw.gql(UPDATE, { id: key.id, input: { allowedModels: ['echo'] } }));
    const before = streams.map((s) => s.records.length);
    await sleep(TTL_MS / 2);
    expect(await Promise.race([Promise.any(streams.map((s) => s.ended)), sleep(TTL_MS / 2).then(() => 'running')])).toBe('running');
    expect(streams.map((s) => s.records.length > before[streams.indexOf(s)]!)).toEqual([true, true]);
    ok(await gw.gql(UPDATE, { id: key.id, input: { allowedModels: ['other'] } }));
    for (const s of streams) {
      const end = await within(s.ended, TTL_MS + SLACK_MS, `the ${s.transport} stream to end`);
      expect(end.codes, s.transport).toEqual(['FORBIDDEN']);
      expect(s.records.length).toBeLessThan(35);
    }
  });
});
