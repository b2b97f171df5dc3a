/* graphql-ws on the same port and path, running Yoga's envelop pipeline (masking, auth, plugins) for every operation. */
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { WebSocketServer } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import type { ExecutionArgs, GraphQLError } from 'graphql';
import type { Services } from '../context.js';
import { isGatewayError } from '../errors.js';
import type { Principal } from '../services/keys.js';
import { authenticate } from './auth.js';
import type { GatewayYoga } from './yoga.js';
import { withErrorCode } from './plugins/use-error-codes.js';

type Extra = { principal?: Principal | null; [k: string]: unknown };

export interface WsOptions {
  /** Sockets that never send connection_init are closed after this long. @default 10000 */
  connectionInitWaitTimeout?: number;
}

export function attachWebSockets(server: Server, yoga: GatewayYoga, services: Services, opts: WsOptions = {}) {
  const wss = new WebSocketServer({ server, path: yoga.graphqlEndpoint, maxPayload: 1024 * 1024 });
  const disposable = useServer<Record<string, unknown>, Extra>(
    {
      connectionInitWaitTimeout: opts.connectionInitWaitTimeout ?? 10_000,
      execute: (args) => (args as unknown as { execute: (a: ExecutionArgs) => unknown }).execute(args) as never,
      subscribe: (args) => (args as unknown as { subscribe: (a: ExecutionArgs) => unknown }).subscribe(args) as never,
      onConnect: async (ctx) => {
        try {
          const principal = await authenticate(services.keys, ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization);
          // a websocket exists to invoke or watch usage: no key, no connection (close 4403)
          if (!principal) return false;
          ctx.extra.principal = principal;
          return true;
        } catch (e) {
          if (isGatewayError(e)) return false;
          throw e;
        }
      },
      onSubscribe: async (ctx, _id, params) => {
        const request = (ctx.extra as unknown as { request: unknown }).request;
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: request,
          socket: (ctx.extra as unknown as { socket: unknown }).socket,
          params,
          principal: ctx.extra.principal ?? null,
          requestId: randomUUID(),
        });
        let document;
        try {
          document = parse(params.query);
        } catch (e) {
          return [withErrorCode(e as never)];
        }
        const errors = validate(schema, document);
        if (errors.length) return errors.map((e: GraphQLError) => withErrorCode(e));
        return {
          schema,
          operationName: params.operationName,
          document,
          variableValues: params.variables,
          contextValue: await contextFactory(),
          execute,
          subscribe,
        } as unknown as ExecutionArgs;
      },
    },
    wss,
  );
  return {
    wss,
    async dispose(): Promise<void> {
      await disposable.dispose();
    },
  };
}
