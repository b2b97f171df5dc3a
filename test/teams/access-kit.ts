/* Helpers for the model access and budget alert suites: teams, team keys, models and a live subscription. */
import { createWsClient, type WsClient } from '../kit/ws.js';
import type { TestGateway } from '../kit/start-gateway.js';
import { ok } from '../graphql/helpers.js';

let seq = 0;
const uniqueName = (base: string) => `${base}-${process.pid}-${Date.now().toString(36)}-${++seq}`;

export async function createTeam(gw: TestGateway, input: Record<string, unknown> = {}): Promise<{ id: string; name: string }> {
  const res = await gw.gql<{ createTeam: { id: string; name: string } }>('mutation($input: CreateTeamInput!) { createTeam(input: $input) { id name } }', {
    input: { name: uniqueName('team'), ...input },
  });
  return ok(res).createTeam;
}

export async function createModel(gw: TestGateway, input: Record<string, unknown>): Promise<string> {
  const name = (input.name as string | undefined) ?? uniqueName('model');
  ok(
    await gw.gql('mutation($input: CreateModelInput!) { createModel(input: $input) { id } }', {
      input: { targets: [{ provider: 'echo', upstreamModel: 'echo' }], ...input, name },
    }),
  );
  return name;
}

export interface Live<T> {
  events: T[];
  /** Resolves once the subscription is acknowledged by its first ping round (events after this are seen). */
  ready: Promise<void>;
  close(): Promise<void>;
  errors: unknown[];
}

/** Opens a subscription over graphql-ws and collects its events until closed. */
export function subscribe<T>(gw: TestGateway, key: string, query: string, field: string): Live<T> {
  const client: WsClient = createWsClient(gw.url, key);
  const events: T[] = [];
  const errors: unknown[] = [];
  let readyResolve!: () => void;
  const ready = new Promise<void>((r) => (readyResolve = r));
  client.on('connected', () => setTimeout(readyResolve, 300));
  const dispose = client.subscribe<Record<string, T>>(
    { query },
    {
      next: (r) => {
        if (r.errors?.length) errors.push(r.errors);
        if (r.data) events.push(r.data[field]);
      },
      error: (e) => errors.push(e),
      complete: () => {},
    },
  );
  return {
    events,
    errors,
    ready,
    async close() {
      dispose();
      await client.dispose();
    },
  };
}
