/* graphql-ws (graphql-transport-ws) for tests: a client with the key in connectionParams, and a raw handshake probe. */
import { createClient, type Client, type FormattedExecutionResult } from 'graphql-ws';
import WebSocket from 'ws';
import type { AnyJson } from './json.js';

export const wsUrl = (baseUrl: string) => `${baseUrl.replace(/^http/, 'ws')}/graphql`;

export interface WsClient extends Client {
  /** Close events the client saw, newest last. */
  closes: Array<{ code: number; reason: string }>;
}

/** A graphql-ws client that never retries, so a refused connection shows up as an error at once. */
export function createWsClient(baseUrl: string, key?: string | null, connectionParams?: Record<string, unknown>): WsClient {
  const closes: Array<{ code: number; reason: string }> = [];
  const client = createClient({
    url: wsUrl(baseUrl),
    webSocketImpl: WebSocket,
    connectionParams: connectionParams ?? (key ? { authorization: `Bearer ${key}` } : {}),
    retryAttempts: 0,
    lazy: true,
    on: {
      closed: (e) => {
        const ev = e as { code?: number; reason?: string };
        closes.push({ code: ev.code ?? 0, reason: String(ev.reason ?? '') });
      },
    },
  }) as WsClient;
  client.closes = closes;
  return client;
}

/** Runs one operation to completion; resolves with every result, rejects with the socket close event or error. */
export function wsCollect<T = AnyJson>(
  client: Client,
  query: string,
  variables?: Record<string, unknown>,
  timeoutMs = 10_000,
): Promise<FormattedExecutionResult<T, Record<string, unknown>>[]> {
  return new Promise((resolve, reject) => {
    const out: FormattedExecutionResult<T, Record<string, unknown>>[] = [];
    const timer = setTimeout(() => {
      dispose();
      reject(new Error(`ws operation did not complete within ${timeoutMs} ms (${out.length} results)`));
    }, timeoutMs);
    const dispose = client.subscribe<T, Record<string, unknown>>(
      { query, variables },
      {
        next: (r) => void out.push(r),
        error: (e) => {
          clearTimeout(timer);
          reject(e);
        },
        complete: () => {
          clearTimeout(timer);
          resolve(out);
        },
      },
    );
  });
}

export type HandshakeOutcome = { acked: true } | { acked: false; code: number; reason: string };

/**
 * Opens a raw graphql-transport-ws socket and sends connection_init with `payload`:
 * resolves with ack, or with the close code when the server refuses.
 */
export function wsHandshake(baseUrl: string, payload: Record<string, unknown> | undefined, timeoutMs = 5000): Promise<HandshakeOutcome> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(wsUrl(baseUrl), 'graphql-transport-ws');
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error(`no ack and no close within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('open', () => socket.send(JSON.stringify(payload === undefined ? { type: 'connection_init' } : { type: 'connection_init', payload })));
    socket.on('message', (data) => {
      const msg = JSON.parse(String(data)) as { type: string };
      if (msg.type === 'connection_ack') {
        clearTimeout(timer);
        socket.close(1000);
        resolve({ acked: true });
      }
    });
    socket.on('close', (code, reason) => {
      clearTimeout(timer);
      resolve({ acked: false, code, reason: reason.toString() });
    });
    socket.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}
