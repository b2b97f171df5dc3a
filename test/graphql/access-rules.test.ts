/*
 * Who may read what, one rule on GraphQL and REST: a key's model listing is the models it may invoke (none without
 * INVOKE), prompt templates are read by the keys that may run them, and a key cannot be given an expiry in the past.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { expectCode, ok } from './helpers.js';

/** An OpenAI-style error body of the REST routes. */
type RestError = { error: { code: string; message: string } };

let gw: TestGateway;
let reader: string;
let limited: string;
let invoker: string;

const MODELS = '{ models { name } }';
const ONE_MODEL = 'query($n: String!) { model(name: $n) { name } }';
const PROMPTS = '{ prompts { name version } }';
const ONE_PROMPT = 'query($n: String!) { prompt(name: $n) { name messages { content } } }';
const RUN = 'mutation($n: String!, $v: JSON) { runPrompt(name: $n, variables: $v) { message { content } } }';

async function restModels(key: string): Promise<{ status: number; ids: string[] }> {
  const res = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
  const body = (await res.json()) as { data?: Array<{ id: string }> };
  return { status: res.status, ids: (body.data ?? []).map((m) => m.id).sort() };
}

const restGet = (path: string, key: string) => fetch(`${gw.url}${path}`, { headers: { authorization: `Bearer ${key}` } });
const restRun = (name: string, key: string) =>
  fetch(`${gw.url}/v1/prompts/${name}/run`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ variables: { who: 'you' } }),
  });

beforeAll(async () => {
  gw = await startGateway();
  ok(await gw.gql('mutation { createModel(input: { name: "echo-2", targets: [{ provider: "echo", upstreamModel: "echo" }] }) { id } }'));
  for (const [name, model] of [['greet', 'echo'], ['secret-sauce', 'echo-2']]) {
    ok(await gw.gql(`mutation { createPrompt(input: { name: "${name}", model: "${model}", messages: [{ role: USER, content: "${name} for {{who}}" }] }) { id } }`));
  }
  reader = (await gw.createKey({ name: 'reader', scopes: ['READ_USAGE'] })).secret;
  limited = (await gw.createKey({ name: 'limited', scopes: ['INVOKE'], allowedModels: ['echo'] })).secret;
  invoker = (await gw.createKey({ name: 'invoker', scopes: ['INVOKE'] })).secret;
});
afterAll(async () => {
  await gw?.stop();
});

describe('model listing: the models the key may invoke, the same on GraphQL and REST', () => {
  it('a key without INVOKE may invoke none: an empty list on both, and no single model either', async () => {
    expect(ok(await gw.gql(MODELS, undefined, reader)).models).toEqual([]);
    expect(ok(await gw.gql(ONE_MODEL, { n: 'echo' }, reader)).model).toBeNull();
    expect(await restModels(reader)).toEqual({ status: 200, ids: [] });
    const one = await restGet('/v1/models/echo', reader);
    expect(one.status).toBe(404);
    expect(((await one.json()) as RestError).error.code).toBe('MODEL_NOT_FOUND');
  });

  it('an INVOKE key sees the same models on both surfaces, within its allow-list', async () => {
    for (const [key, expected] of [
      [limited, ['echo']],
      [invoker, ['echo', 'echo-2']],
    ] as const) {
      const graphql = ok(await gw.gql<{ models: Array<{ name: string }> }>(MODELS, undefined, key)).models.map((m) => m.name).sort();
      expect(graphql).toEqual(expected);
      expect(await restModels(key)).toEqual({ status: 200, ids: graphql });
    }
  });
});

describe('prompt templates: read by the keys that may run them', () => {
  it('ADMIN reads every template', async () => {
    const names = ok(await gw.gql(PROMPTS)).prompts.map((p: { name: string }) => p.name).sort();
    expect(names).toEqual(['greet', 'secret-sauce']);
  });

  it('an INVOKE key reads the templates whose model it may invoke; others do not exist for it', async () => {
    expect(ok(await gw.gql(PROMPTS, undefined, limited)).prompts.map((p: { name: string }) => p.name)).toEqual(['greet']);
    expect(ok(await gw.gql(ONE_PROMPT, { n: 'greet' }, limited)).prompt.messages).toEqual([{ content: 'greet for {{who}}' }]);
    expect(ok(await gw.gql(ONE_PROMPT, { n: 'secret-sauce' }, limited)).prompt).toBeNull();
    // running it answers as for an unknown prompt (not "model echo-2 is not allowed", which would describe it)
    expectCode(await gw.gql(RUN, { n: 'secret-sauce', v: { who: 'me' } }, limited), 'NOT_FOUND');
    const rest = await restRun('secret-sauce', limited);
    expect(rest.status).toBe(404);
    expect(((await rest.json()) as RestError).error.code).toBe('NOT_FOUND');
    // while the ones it may run run
    expect(ok(await gw.gql(RUN, { n: 'greet', v: { who: 'me' } }, limited)).runPrompt.message.content).toContain('greet for me');
    expect((await restRun('greet', limited)).status).toBe(200);
    // an INVOKE key without an allow-list reads both
    expect(ok(await gw.gql(PROMPTS, undefined, invoker)).prompts).toHaveLength(2);
  });

  it('a key without INVOKE reads none', async () => {
    expect(ok(await gw.gql(PROMPTS, undefined, reader)).prompts).toEqual([]);
    expect(ok(await gw.gql(ONE_PROMPT, { n: 'greet' }, reader)).prompt).toBeNull();
  });
});

describe('key expiry', () => {
  const CREATE = 'mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { apiKey { id expiresAt } } }';
  const UPDATE = 'mutation($id: ID!, $i: UpdateApiKeyInput!) { updateApiKey(id: $id, input: $i) { expiresAt } }';

  it('createApiKey and updateApiKey refuse an expiresAt in the past, naming it', async () => {
    const past = new Date(Date.now() - 60_000).toISOString();
    expectCode(await gw.gql(CREATE, { i: { name: 'stale', expiresAt: past } }), 'BAD_USER_INPUT', 'input.expiresAt');
    expectCode(await gw.gql(CREATE, { i: { name: 'stale', expiresAt: '2001-01-01T00:00:00Z' } }), 'BAD_USER_INPUT', 'input.expiresAt');
    const future = new Date(Date.now() + 86_400_000).toISOString();
    const created = ok(await gw.gql(CREATE, { i: { name: 'fresh', expiresAt: future } })).createApiKey.apiKey;
    expect(Date.parse(created.expiresAt)).toBe(Date.parse(future));
    expectCode(await gw.gql(UPDATE, { id: created.id, i: { expiresAt: past } }), 'BAD_USER_INPUT', 'input.expiresAt');
    // clearing the expiry, or moving it further out, is fine
    expect(ok(await gw.gql(UPDATE, { id: created.id, i: { expiresAt: null } })).updateApiKey.expiresAt).toBeNull();
    const later = new Date(Date.now() + 2 * 86_400_000).toISOString();
    expect(Date.parse(ok(await gw.gql(UPDATE, { id: created.id, i: { expiresAt: later } })).updateApiKey.expiresAt)).toBe(Date.parse(later));
  });
});
