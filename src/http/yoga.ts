/* createYoga: schema, one context factory, plugins, offline GraphiQL, health and readiness. */
import { randomUUID } from 'node:crypto';
import { NoSchemaIntrospectionCustomRule } from 'graphql';
import { createYoga, useReadinessCheck, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import type { Config } from '../config.js';
import { createContext, type Context, type Services } from '../context.js';
import type { Principal } from '../services/keys.js';
import { schema } from '../schema/index.js';
import { authenticate } from './auth.js';
import { useErrorCodes } from './plugins/use-error-codes.js';
import { useWarnings } from './plugins/use-warnings.js';

/** What node:http and graphql-ws hand to Yoga besides the request. */
export interface ServerContext {
  requestId?: string;
  /** Set by the websocket transport, which authenticated at connection_init. */
  principal?: Principal | null;
}

export type GatewayYoga = YogaServerInstance<ServerContext, Context>;

const DEFAULT_QUERY = `# Put your key in the Headers tab: {"Authorization": "Bearer gw_..."}
mutation Chat {
  chat(input: { model: "echo", messages: [{ role: USER, content: "Hello, gateway!" }] }) {
    message { content }
    usage { promptTokens completionTokens totalTokens costUsd }
    provider
    latencyMs
  }
}

subscription Stream {
  chatStream(input: { model: "echo", messages: [{ role: USER, content: "Stream these words one by one" }] }) {
    delta
    finishReason
    usage { totalTokens }
  }
}
`;

function useIntrospectionSwitch(enabled: boolean): Plugin {
  return {
    onValidate({ addValidationRule }) {
      if (!enabled) addValidationRule(NoSchemaIntrospectionCustomRule);
    },
  };
}

export function createGatewayYoga(config: Config, services: Services, extraPlugins: Plugin[] = []): GatewayYoga {
  return createYoga<ServerContext, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    healthCheckEndpoint: '/healthz',
    landingPage: false,
    logging: services.log,
    cors: config.http.corsOrigin ? { origin: config.http.corsOrigin.split(',').map((s) => s.trim()), credentials: false } : undefined,
    renderGraphiQL,
    graphiql: {
      title: 'GraphQL AI Gateway',
      defaultQuery: DEFAULT_QUERY,
      headers: JSON.stringify({ Authorization: 'Bearer gw_...' }, null, 2),
      subscriptionsProtocol: 'SSE',
    },
    context: async (initial): Promise<Context> => {
      const requestId = initial.requestId ?? initial.request?.headers.get('x-request-id') ?? randomUUID();
      const principal =
        initial.principal !== undefined
          ? initial.principal
          : await authenticate(services.keys, initial.request?.headers.get('authorization'));
      return createContext({ services, principal, signal: initial.request?.signal, requestId });
    },
    plugins: [
      useReadinessCheck({ endpoint: '/readyz', check: () => services.database.ping() }),
      useIntrospectionSwitch(config.graphql.introspection),
      useWarnings(),
      useErrorCodes((req) => req.headers.get('x-request-id') ?? undefined),
      ...extraPlugins,
    ],
  });
}
