/*
 * One urql client per signed-in key: queries and mutations over HTTP POST to /graphql, subscriptions over
 * graphql-ws on the same endpoint, both carrying the key as the gateway expects (Authorization header, or
 * connectionParams.authorization on the websocket).
 */
import { cacheExchange, Client, fetchExchange, subscriptionExchange } from '@urql/core';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';

function isCloseEvent(e: unknown): e is CloseEvent {
  return typeof e === 'object' && e !== null && 'code' in e && typeof (e as CloseEvent).code === 'number';
}

export interface ConsoleClient {
  urql: Client;
  ws: WsClient;
  dispose(): void;
}

export function createConsoleClient(key: string): ConsoleClient {
  const authorization = `Bearer ${key}`;
  const wsUrl = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}/graphql`;
  const ws = createWsClient({
    url: wsUrl,
    connectionParams: { authorization },
    lazy: true,
    // a gateway restarting or a proxy timing out: reconnect and resubscribe. Not when the gateway refused the key
    // (4401/4403 and the other 44xx codes): that answer will not change, and the open operations end with it
    retryAttempts: Infinity,
    shouldRetry: (e) => !(isCloseEvent(e) && e.code >= 4400 && e.code < 4500),
  });
  const urql = new Client({
    url: '/graphql',
    requestPolicy: 'cache-and-network',
    fetchOptions: () => ({ headers: { authorization } }),
    exchanges: [
      cacheExchange,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query || '' };
          return {
            subscribe(sink) {
              const unsubscribe = ws.subscribe(input, sink);
              return { unsubscribe };
            },
          };
        },
      }),
    ],
  });
  return { urql, ws, dispose: () => void ws.dispose() };
}
