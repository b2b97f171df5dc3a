/* graphql-ws authentication: a key in connectionParams.authorization, refused at connection_init (4403) without one. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { createWsClient, wsCollect, wsHandshake, wsUrl } from '../kit/ws.js';
import { CHAT, chatInput, ok, waitFor } from './helpers.js';

let gw: TestGateway;

beforeAll(async () => {
  gw = await startGateway({}, { wsInitTimeoutMs: 1000 });
});

afterAll(async () => {
  await gw?.stop();
});

describe('connection_init', () => {
  it('a valid key is acknowledged', async () => {
    const { secret } = await gw.createKey({ name: 'ws' });
    expect(await wsHandshake(gw.url, { authorization: `Bearer ${secret}` })).toEqual({ acked: true });
    // the bare secret is accepted too, and the admin key
    expect(await wsHandshake(gw.url, { authorization: secret })).toEqual({ acked: true });
    expect(await wsHandshake(gw.url, { authorization: `Bearer ${gw.adminKey}` })).toEqual({ acked: true });
  });

  it.each([
    ['no payload', undefined],
    ['no authorization', {}],
    ['an empty authorization', { authorization: '' }],
    ['an unknown key', { authorization: `Bearer gw_${'u'.repeat(43)}` }],
    ['a malformed value', { authorization: 'Basic a b c' }],
    ['a non-string value', { authorization: 42 }],
  ])('%s is refused with close code 4403', async (_what, payload) => {
    const outcome = await wsHandshake(gw.url, payload as Record<string, unknown> | undefined);
    expect(outcome).toMatchObject({ acked: false, code: 4403 });
  });

  it('a revoked key and an expired key are refused with 4403', async () => {
    const revoked = await gw.createKey({ name: 'revoked' });
    ok(await gw.gql('mutation($id: ID!) { revokeApiKey(id: $id) { id } }', { id: revoked.id }));
    expect(await wsHandshake(gw.url, { authorization: `Bearer ${revoked.secret}` })).toMatchObject({ acked: false, code: 4403 });

    // an expiry can only be set ahead: a short one, then its time passes
    const until = Date.now() + 1000;
    const expired = await gw.createKey({ name: 'expired', expiresAt: new Date(until).toISOString() });
    await new Promise((r) => setTimeout(r, until + 50 - Date.now()));
    expect(await wsHandshake(gw.url, { authorization: `Bearer ${expired.secret}` })).toMatchObject({ acked: false, code: 4403 });
  });

  it('the graphql-ws client sees the refusal as a 4403 close and its operation fails', async () => {
    const client = createWsClient(gw.url, `gw_${'b'.repeat(43)}`);
    try {
      const err = await wsCollect(client, '{ viewer { id } }').then(
        () => null,
        (e) => e,
      );
      expect(err).toBeTruthy();
      expect(err.code).toBe(4403);
      expect(client.closes.map((c) => c.code)).toContain(4403);
    } finally {
      await client.dispose();
    }
  });

  it('revoking a key closes its open sockets with 4403 (ending their subscriptions); a new connection is refused', async () => {
    const { id, secret } = await gw.createKey({ name: 'revoked while connected', scopes: ['INVOKE', 'READ_USAGE'] });
    const client = createWsClient(gw.url, secret);
    let feedError: unknown;
    // a live subscription keeps the (lazy) client's socket open across the revocation
    const stopFeed = client.subscribe({ query: 'subscription { usageRecorded { id } }' }, { next: () => {}, error: (e) => void (feedError = e), complete: () => {} });
    try {
      const first = await wsCollect<{ viewer: { id: string } }>(client, '{ viewer { id } }');
      expect(first[0].data?.viewer.id).toBe(id);
      ok(await gw.gql('mutation($id: ID!) { revokeApiKey(id: $id) { id } }', { id }));
      await waitFor(() => client.closes.length > 0, 'the socket to close');
      expect(client.closes[0].code).toBe(4403);
      expect(feedError).toBeDefined();
      // the client connects again for the next operation, and is refused at connection_init
      const err = await wsCollect(client, '{ viewer { id } }').then(
        () => null,
        (e) => e,
      );
      expect(err?.code).toBe(4403);
    } finally {
      stopFeed();
      await client.dispose();
    }
  });

  it('a socket that never sends connection_init is closed (4408), not left open', async () => {
    const socket = new WebSocket(wsUrl(gw.url), 'graphql-transport-ws');
    const code = await new Promise<number>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('socket was not closed')), 5000);
      socket.on('close', (c) => {
        clearTimeout(t);
        resolve(c);
      });
      socket.on('error', () => {});
    });
    expect(code).toBe(4408);
  });
});

describe('operations over an authenticated socket', () => {
  it('usageRecorded delivers the caller’s own records only', async () => {
    const mine = await gw.createKey({ name: 'watcher', scopes: ['INVOKE', 'READ_USAGE'] });
    const other = await gw.createKey({ name: 'other', scopes: ['INVOKE'] });
    const client = createWsClient(gw.url, mine.secret);
    const seen: Array<{ model: string; status: string; apiKey: { id: string } | null; metadata: Record<string, unknown> | null }> = [];
    const dispose = client.subscribe<{ usageRecorded: (typeof seen)[number] }>(
      { query: 'subscription { usageRecorded { model status metadata apiKey { id } } }' },
      { next: (r) => r.data && seen.push(r.data.usageRecorded), error: () => {}, complete: () => {} },
    );
    try {
      // the subscription is live once a record of ours arrives; keep invoking until it does
      await waitFor(async () => {
        ok(await gw.gql(CHAT, { input: chatInput('probe', { metadata: { probe: true } }) }, mine.secret));
        await gw.flushUsage();
        return seen.length > 0;
      }, 'the first usageRecorded event');
      ok(await gw.gql(CHAT, { input: chatInput('not yours', { metadata: { who: 'other' } }) }, other.secret));
      ok(await gw.gql(CHAT, { input: chatInput('yours', { metadata: { who: 'mine' } }) }, mine.secret));
      await gw.flushUsage();
      await waitFor(() => seen.some((e) => e.metadata?.who === 'mine'), 'my second record');
      expect(seen.every((e) => e.apiKey?.id === mine.id)).toBe(true);
      expect(seen.some((e) => e.metadata?.who === 'other')).toBe(false);
      expect(seen.find((e) => e.metadata?.who === 'mine')).toMatchObject({ model: 'echo', status: 'OK' });
    } finally {
      dispose();
      await client.dispose();
    }
  });

  it('usageRecorded is FORBIDDEN without READ_USAGE', async () => {
    const { secret } = await gw.createKey({ name: 'no usage', scopes: ['INVOKE'] });
    const client = createWsClient(gw.url, secret);
    try {
      const [res] = await wsCollect(client, 'subscription { usageRecorded { id } }');
      expect(res.errors?.map((e) => e.extensions?.code)).toEqual(['FORBIDDEN']);
    } finally {
      await client.dispose();
    }
  });
});
