/* A usageRecorded feed held open over graphql-ws (a raw socket, to see its close code) or SSE, recording how it ends. */
import type { GraphQLFormattedError } from 'graphql';
import WebSocket from 'ws';
import type { AnyJson } from './json.js';
import { sseSubscribe } from './sse.js';
import type { TestGateway } from './start-gateway.js';
import { wsUrl } from './ws.js';

const USAGE_FEED = 'subscription { usageRecorded { id model status } }';

interface FeedEnd {
  /** extensions.code of every error the server sent for the operation. */
  codes: string[];
  /** The server completed the operation (SSE `complete`, graphql-ws `complete`). */
  completed: boolean;
}

export interface Feed {
  transport: 'ws' | 'sse';
  /** Records received, oldest first. */
  records: Array<{ id: string; model: string; status: string }>;
  /** Resolves once the server ended the operation (an error, complete, or the connection closed). */
  ended: Promise<FeedEnd>;
  /** graphql-ws: resolves with the close code when the socket closes. SSE: never resolves. */
  socketClosed: Promise<number>;
  /** The client leaves. */
  close(): void;
}

export function openFeed(baseUrl: string, secret: string, transport: 'ws' | 'sse', query = USAGE_FEED): Feed {
  return transport === 'ws' ? wsFeed(baseUrl, secret, query) : sseFeed(baseUrl, secret, query);
}

function wsFeed(baseUrl: string, secret: string, query: string): Feed {
  const socket = new WebSocket(wsUrl(baseUrl), 'graphql-transport-ws');
  const codes: string[] = [];
  const records: Feed['records'] = [];
  let end!: (e: FeedEnd) => void;
  const ended = new Promise<FeedEnd>((r) => (end = r));
  const socketClosed = new Promise<number>((resolve) => {
    socket.on('close', (code) => {
      end({ codes, completed: false });
      resolve(code);
    });
  });
  socket.on('error', () => {});
  socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${secret}` } })));
  socket.on('message', (data) => {
    const msg = JSON.parse(String(data)) as { type: string; payload?: AnyJson };
    if (msg.type === 'connection_ack') socket.send(JSON.stringify({ id: 'feed', type: 'subscribe', payload: { query } }));
    else if (msg.type === 'next' && msg.payload.errors) codes.push(...msg.payload.errors.map((e: GraphQLFormattedError) => e.extensions?.code as string));
    else if (msg.type === 'next') records.push(Object.values(msg.payload.data)[0] as Feed['records'][number]);
    else if (msg.type === 'error') {
      codes.push(...(msg.payload as GraphQLFormattedError[]).map((e) => e.extensions?.code as string));
      end({ codes, completed: false });
    } else if (msg.type === 'complete') end({ codes, completed: true });
  });
  return { transport: 'ws', records, ended, socketClosed, close: () => socket.close(1000) };
}

function sseFeed(baseUrl: string, secret: string, query: string): Feed {
  const sub = sseSubscribe(baseUrl, query, undefined, secret);
  const codes: string[] = [];
  const records: Feed['records'] = [];
  const ended = (async () => {
    try {
      for await (const r of sub.results) {
        if (r.errors) codes.push(...r.errors.map((e) => e.extensions?.code));
        else records.push(Object.values(r.data)[0] as Feed['records'][number]);
      }
    } catch {
      /* the connection broke: an end without a complete */
    }
    return { codes, completed: sub.events.some((e) => e.event === 'complete') };
  })();
  return { transport: 'sse', records, ended, socketClosed: new Promise<number>(() => {}), close: () => sub.abort() };
}

const CHAT = 'mutation($input: ChatInput!) { chat(input: $input) { id } }';

/** Makes usage records on `gw` (chats as `invoker`) until every feed has received one: they are live. */
export async function untilLive(gw: TestGateway, feeds: Feed[], invoker: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  // a feed may not be subscribed yet when the first record is written: keep writing until each has one
  while (!feeds.every((f) => f.records.length > 0)) {
    if (Date.now() > until) throw new Error(`feeds not live within ${timeoutMs} ms (records: ${feeds.map((f) => f.records.length)})`);
    const res = await gw.gql(CHAT, { input: { model: 'echo', messages: [{ role: 'USER', content: 'x' }] } }, invoker);
    if (res.errors) throw new Error(`chat failed: ${JSON.stringify(res.errors)}`);
    await gw.flushUsage();
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Rejects when `p` takes longer than `ms`. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_, reject) => (t = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms))),
  ]);
}
