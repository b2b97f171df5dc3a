/* Starts a real gateway on a random port for a test, with helpers to talk GraphQL to it. */
import { Writable } from 'node:stream';
import { createApp, type App, type AppOptions } from '../../src/app.js';
import { testConfig } from '../../src/config.js';
import { createEchoAdapter } from '../../src/providers/echo/index.js';
import { decodeGlobalId } from '../../src/schema/global-id.js';
import type { AnyJson } from './json.js';

export const ADMIN_KEY = 'gw_test_admin_key_0123456789abcdefghijklmnop';

export interface GqlResponse<T = AnyJson> {
  status: number;
  headers: Headers;
  data?: T;
  errors?: Array<{ message: string; path?: string[]; extensions?: Record<string, AnyJson> }>;
  extensions?: Record<string, AnyJson>;
}

export interface TestGateway {
  app: App;
  url: string;
  adminKey: string;
  /** Every log line written, for tests that look for secrets. */
  logs: string[];
  gql<T = AnyJson>(query: string, variables?: Record<string, unknown>, key?: string | null): Promise<GqlResponse<T>>;
  /** Creates a key through the API: its secret, its global id (ApiKey.id) and the database's UUID inside it. */
  createKey(input?: Record<string, unknown>): Promise<{ id: string; uuid: string; secret: string }>;
  /** Waits until the usage writer has flushed everything. */
  flushUsage(): Promise<void>;
  stop(): Promise<void>;
}

export async function startGateway(
  env: Record<string, string | undefined> = {},
  options: AppOptions = {},
): Promise<TestGateway> {
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  const config = testConfig({ GATEWAY_ADMIN_KEY: ADMIN_KEY, LOG_LEVEL: 'info', USAGE_FLUSH_MS: '20', ...env });
  const app = await createApp(config, {
    adapters: { ECHO: createEchoAdapter(), ...options.adapters },
    logDestination: sink,
    ...options,
  });
  const url = await app.start(0, '127.0.0.1');

  async function gql<T>(query: string, variables?: Record<string, unknown>, key: string | null = ADMIN_KEY): Promise<GqlResponse<T>> {
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' };
    if (key) headers.authorization = `Bearer ${key}`;
    const res = await fetch(`${url}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
    const body = (await res.json()) as GqlResponse<T>;
    return { ...body, status: res.status, headers: res.headers };
  }

  return {
    app,
    url,
    adminKey: ADMIN_KEY,
    logs,
    gql,
    async createKey(input = {}) {
      const res = await gql<{ createApiKey: { secret: string; apiKey: { id: string } } }>(
        'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret apiKey { id } } }',
        { input: { name: 'test key', scopes: ['INVOKE'], ...input } },
      );
      if (!res.data) throw new Error(`createApiKey failed: ${JSON.stringify(res.errors)}`);
      const id = res.data.createApiKey.apiKey.id;
      return { id, uuid: decodeGlobalId(id).id, secret: res.data.createApiKey.secret };
    },
    async flushUsage() {
      await app.usage.flush();
      for (let i = 0; i < 100 && app.usage.pending() > 0; i++) {
        await new Promise((r) => setTimeout(r, 20));
        await app.usage.flush();
      }
    },
    stop: () => app.stop(2000),
  };
}
