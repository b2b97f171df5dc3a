/* Catalogue over HTTP: providers (credentials encrypted, never readable), models and targets, the seeded echo. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { providers } from '../../src/db/schema.js';
import { createSecretBox } from '../../src/security/secret-box.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import type { AnyJson } from '../kit/json.js';
import { CHAT, chatInput, expectCode, ok, type ChatOut } from './helpers.js';

let gw: TestGateway;
let invokeKey: string;

beforeAll(async () => {
  gw = await startGateway();
  invokeKey = (await gw.createKey({ name: 'invoker', scopes: ['INVOKE'] })).secret;
});

afterAll(async () => {
  await gw?.stop();
});

const PROVIDER_FIELDS = 'id name kind baseUrl hasCredential enabled createdAt';
const MODEL_FIELDS =
  'id name description status strategy fallbacks inputPricePerMTok outputPricePerMTok contextWindow timeoutMs createdAt targets { provider { name kind } upstreamModel weight priority healthy }';
/** What PROVIDER_FIELDS and MODEL_FIELDS select (a smaller selection leaves the rest undefined). */
interface ProviderOut {
  id: string;
  name: string;
  kind: string;
  baseUrl: string | null;
  hasCredential: boolean;
  enabled: boolean;
  createdAt: string;
}
interface ModelOut {
  id: string;
  name: string;
  description: string | null;
  status: string;
  strategy: string;
  fallbacks: string[];
  inputPricePerMTok: number | null;
  outputPricePerMTok: number | null;
  contextWindow: number | null;
  timeoutMs: number | null;
  createdAt: string;
  targets: Array<{ provider: { name: string; kind: string }; upstreamModel: string; weight: number; priority: number; healthy: boolean }>;
}
const CREATE_PROVIDER = `mutation($input: CreateProviderInput!) { createProvider(input: $input) { ${PROVIDER_FIELDS} } }`;
const UPDATE_PROVIDER = `mutation($name: String!, $input: UpdateProviderInput!) { updateProvider(name: $name, input: $input) { ${PROVIDER_FIELDS} } }`;
const DELETE_PROVIDER = `mutation($name: String!) { deleteProvider(name: $name) }`;
const CREATE_MODEL = `mutation($input: CreateModelInput!) { createModel(input: $input) { ${MODEL_FIELDS} } }`;
const UPDATE_MODEL = `mutation($name: String!, $input: UpdateModelInput!) { updateModel(name: $name, input: $input) { ${MODEL_FIELDS} } }`;
const DELETE_MODEL = `mutation($name: String!) { deleteModel(name: $name) }`;

/** Every response body seen in this file, to prove no credential ever leaves. */
const seen: string[] = [];
async function call<T = AnyJson>(query: string, variables?: Record<string, unknown>, key?: string | null) {
  const res = await gw.gql<T>(query, variables, key);
  seen.push(JSON.stringify(res));
  return res;
}

describe('fresh start', () => {
  it('has the ECHO provider and the echo model routed to it', async () => {
    const d = ok(await call<{ providers: ProviderOut[]; model: ModelOut }>(`{ providers { ${PROVIDER_FIELDS} } model(name: "echo") { ${MODEL_FIELDS} } }`));
    const echo = d.providers.find((p) => p.name === 'echo');
    expect(echo).toMatchObject({ name: 'echo', kind: 'ECHO', hasCredential: false, enabled: true, baseUrl: null });
    expect(d.model).toMatchObject({ name: 'echo', status: 'ACTIVE', strategy: 'PRIORITY', fallbacks: [] });
    expect(d.model.targets).toEqual([{ provider: { name: 'echo', kind: 'ECHO' }, upstreamModel: 'echo', weight: 1, priority: 0, healthy: true }]);
  });

  it('models lists echo for an INVOKE key, with targets hidden (empty list, no error)', async () => {
    const res = await call<{ models: ModelOut[] }>(`{ models { name targets { upstreamModel provider { name } } } }`, {}, invokeKey);
    const d = ok(res);
    expect(d.models.find((m) => m.name === 'echo')).toEqual({ name: 'echo', targets: [] });
    expect(d.models.every((m) => m.targets.length === 0)).toBe(true);
  });

  it('model(name) is null for an unknown name', async () => {
    expect(ok(await call<{ model: null }>('{ model(name: "no-such-model") { id } }')).model).toBeNull();
  });
});

describe('providers', () => {
  const PLAINTEXT = 'sk-live-PLAINTEXT-credential-7f3a9c1e5b';
  const ROTATED = 'sk-live-ROTATED-credential-0d2b4f6a8c';

  it('createProvider stores the credential encrypted and only says that one exists', async () => {
    const d = ok(
      await call<{ createProvider: ProviderOut }>(CREATE_PROVIDER, {
        input: { name: 'acme', kind: 'OPENAI_COMPATIBLE', baseUrl: 'http://127.0.0.1:9/v1', apiKey: PLAINTEXT },
      }),
    );
    expect(d.createProvider).toMatchObject({ name: 'acme', kind: 'OPENAI_COMPATIBLE', baseUrl: 'http://127.0.0.1:9/v1', hasCredential: true, enabled: true });
    expect(d.createProvider.id).toBeTruthy();

    const [row] = await gw.app.services.database.db.select().from(providers).where(eq(providers.name, 'acme'));
    expect(row.credentialEnc).toBeTruthy();
    expect(row.credentialEnc).not.toContain(PLAINTEXT);
    expect(row.credentialEnc).not.toContain('PLAINTEXT');
    expect(Buffer.from(row.credentialEnc!, 'base64').toString('latin1')).not.toContain('PLAINTEXT');
    // it is the credential sealed with GATEWAY_SECRET (AES-256-GCM): opens with that secret, not with another
    expect(createSecretBox(gw.app.config.secret!).open(row.credentialEnc!)).toBe(PLAINTEXT);
    expect(() => createSecretBox('some-other-secret-value').open(row.credentialEnc!)).toThrow();
  });

  it('the credential never appears in providers, in any response, or in the logs', async () => {
    const d = ok(await call<{ providers: ProviderOut[] }>(`{ providers { ${PROVIDER_FIELDS} } }`));
    expect(d.providers.find((p) => p.name === 'acme')?.hasCredential).toBe(true);
    const type = ok(await call<{ __type: { fields: Array<{ name: string }> } }>('{ __type(name: "Provider") { fields { name } } }'));
    expect(type.__type.fields.map((f) => f.name).filter((n) => /key|secret|credential/i.test(n))).toEqual(['hasCredential']);
  });

  it('updateProvider replaces the credential, baseUrl and enabled; an empty apiKey clears it', async () => {
    const d = ok(await call<{ updateProvider: ProviderOut }>(UPDATE_PROVIDER, { name: 'acme', input: { apiKey: ROTATED, baseUrl: 'http://127.0.0.1:10/v1', enabled: false } }));
    expect(d.updateProvider).toMatchObject({ name: 'acme', baseUrl: 'http://127.0.0.1:10/v1', enabled: false, hasCredential: true });
    const [row] = await gw.app.services.database.db.select().from(providers).where(eq(providers.name, 'acme'));
    expect(row.credentialEnc).not.toContain(ROTATED);

    const cleared = ok(await call<{ updateProvider: ProviderOut }>(UPDATE_PROVIDER, { name: 'acme', input: { apiKey: '' } }));
    expect(cleared.updateProvider.hasCredential).toBe(false);
    const [after] = await gw.app.services.database.db.select().from(providers).where(eq(providers.name, 'acme'));
    expect(after.credentialEnc).toBeNull();
  });

  it('rejects bad provider input naming the field', async () => {
    expectCode(await call(CREATE_PROVIDER, { input: { name: 'acme', kind: 'ECHO' } }), 'BAD_USER_INPUT', 'input.name'); // duplicate
    expectCode(await call(CREATE_PROVIDER, { input: { name: '-bad name', kind: 'ECHO' } }), 'BAD_USER_INPUT', 'input.name');
    expectCode(await call(CREATE_PROVIDER, { input: { name: 'x1', kind: 'OPENAI', baseUrl: 'ftp://x' } }), 'BAD_USER_INPUT', 'input.baseUrl');
    expectCode(await call(CREATE_PROVIDER, { input: { name: 'x2', kind: 'OPENAI_COMPATIBLE' } }), 'BAD_USER_INPUT', 'input.baseUrl');
    const unknownKind = await call(CREATE_PROVIDER, { input: { name: 'x3', kind: 'NOPE' } });
    expectCode(unknownKind, 'BAD_USER_INPUT');
  });

  it('updateProvider / deleteProvider of an unknown provider is NOT_FOUND', async () => {
    expectCode(await call(UPDATE_PROVIDER, { name: 'ghost', input: { enabled: true } }), 'NOT_FOUND');
    expectCode(await call(DELETE_PROVIDER, { name: 'ghost' }), 'NOT_FOUND');
  });

  it('deleteProvider fails with BAD_USER_INPUT naming the field while a model routes to it, then succeeds', async () => {
    ok(await call(CREATE_PROVIDER, { input: { name: 'busy', kind: 'ECHO' } }));
    ok(await call(CREATE_MODEL, { input: { name: 'busy-model', targets: [{ provider: 'busy', upstreamModel: 'x' }] } }));

    const refused = await call(DELETE_PROVIDER, { name: 'busy' });
    expectCode(refused, 'BAD_USER_INPUT');
    expect(refused.errors![0].extensions?.field).toBe('name');
    expect(refused.errors![0].message).toContain('busy-model');
    expect(ok(await call<{ providers: ProviderOut[] }>('{ providers { name } }')).providers.some((p) => p.name === 'busy')).toBe(true);

    expect(ok(await call<{ deleteModel: boolean }>(DELETE_MODEL, { name: 'busy-model' })).deleteModel).toBe(true);
    expect(ok(await call<{ deleteProvider: boolean }>(DELETE_PROVIDER, { name: 'busy' })).deleteProvider).toBe(true);
    expect(ok(await call<{ providers: ProviderOut[] }>('{ providers { name } }')).providers.some((p) => p.name === 'busy')).toBe(false);
  });

  it('no response and no log line ever carried a credential', () => {
    expect(seen.length).toBeGreaterThan(10);
    for (const body of seen) {
      expect(body).not.toContain(PLAINTEXT);
      expect(body).not.toContain(ROTATED);
    }
    const logs = gw.logs.join('');
    expect(logs).not.toContain(PLAINTEXT);
    expect(logs).not.toContain(ROTATED);
  });
});

describe('models', () => {
  it('createModel with every field; the model answers chat through its target', async () => {
    const d = ok(
      await call<{ createModel: ModelOut }>(CREATE_MODEL, {
        input: {
          name: 'echo-premium',
          description: 'priced echo',
          strategy: 'WEIGHTED',
          targets: [
            { provider: 'echo', upstreamModel: 'echo-a', weight: 3, priority: 1 },
            { provider: 'echo', upstreamModel: 'echo-b' },
          ],
          fallbacks: ['echo'],
          inputPricePerMTok: 1_000_000,
          outputPricePerMTok: 2_000_000,
          contextWindow: 8192,
          timeoutMs: 5000,
        },
      }),
    );
    expect(d.createModel).toMatchObject({
      name: 'echo-premium',
      description: 'priced echo',
      status: 'ACTIVE',
      strategy: 'WEIGHTED',
      fallbacks: ['echo'],
      inputPricePerMTok: 1_000_000,
      outputPricePerMTok: 2_000_000,
      contextWindow: 8192,
      timeoutMs: 5000,
    });
    expect(d.createModel.targets).toEqual([
      { provider: { name: 'echo', kind: 'ECHO' }, upstreamModel: 'echo-a', weight: 3, priority: 1, healthy: true },
      { provider: { name: 'echo', kind: 'ECHO' }, upstreamModel: 'echo-b', weight: 1, priority: 0, healthy: true },
    ]);

    const chat = ok(await call<{ chat: ChatOut }>(CHAT, { input: chatInput('two words', { model: 'echo-premium' }) }, invokeKey)).chat;
    expect(chat.model).toBe('echo-premium');
    expect(chat.provider).toBe('echo');
    expect(['echo-a', 'echo-b']).toContain(chat.upstreamModel);
    // 2 prompt tokens at $1/token, 3 completion tokens ("echo: two words") at $2/token
    expect(chat.usage).toEqual({ promptTokens: 2, completionTokens: 3, totalTokens: 5, costUsd: 8 });
  });

  it('models and model(name) return it (with targets for ADMIN)', async () => {
    const d = ok(await call<{ models: ModelOut[]; model: ModelOut | null }>(`{ models { name } model(name: "echo-premium") { name targets { upstreamModel } } }`));
    expect(d.models.map((m) => m.name)).toEqual(expect.arrayContaining(['echo', 'echo-premium']));
    expect(d.model!.targets.map((t) => t.upstreamModel)).toEqual(['echo-a', 'echo-b']);
  });

  it('updateModel changes fields and replaces targets', async () => {
    const d = ok(
      await call<{ updateModel: ModelOut }>(UPDATE_MODEL, {
        name: 'echo-premium',
        input: { description: 'cheaper', inputPricePerMTok: 0, outputPricePerMTok: 0, strategy: 'PRIORITY', targets: [{ provider: 'echo', upstreamModel: 'echo-c' }] },
      }),
    );
    expect(d.updateModel).toMatchObject({ name: 'echo-premium', description: 'cheaper', strategy: 'PRIORITY', inputPricePerMTok: 0, contextWindow: 8192 });
    expect(d.updateModel.targets.map((t) => t.upstreamModel)).toEqual(['echo-c']);
    const chat = ok(await call<{ chat: ChatOut }>(CHAT, { input: chatInput('x', { model: 'echo-premium' }) }, invokeKey)).chat;
    expect(chat.upstreamModel).toBe('echo-c');
    expect(chat.usage.costUsd).toBe(0);
  });

  it('a RETIRED model is hidden from non-admins and refuses invocations with MODEL_RETIRED', async () => {
    ok(await call(CREATE_MODEL, { input: { name: 'old-echo', targets: [{ provider: 'echo', upstreamModel: 'echo' }], status: 'RETIRED' } }));
    expectCode(await call(CHAT, { input: chatInput('x', { model: 'old-echo' }) }, invokeKey), 'MODEL_RETIRED');
    const d = ok(await call<{ models: ModelOut[]; model: ModelOut | null }>('{ models { name } model(name: "old-echo") { name } }', {}, invokeKey));
    expect(d.models.some((m) => m.name === 'old-echo')).toBe(false);
    expect(d.model).toBeNull();
  });

  it('deleteModel removes it: invocations then fail with MODEL_NOT_FOUND', async () => {
    expect(ok(await call<{ deleteModel: boolean }>(DELETE_MODEL, { name: 'echo-premium' })).deleteModel).toBe(true);
    expect(ok(await call<{ model: null }>('{ model(name: "echo-premium") { id } }')).model).toBeNull();
    expectCode(await call(CHAT, { input: chatInput('x', { model: 'echo-premium' }) }, invokeKey), 'MODEL_NOT_FOUND');
    expectCode(await call(DELETE_MODEL, { name: 'echo-premium' }), 'NOT_FOUND');
  });

  it('rejects bad model input naming the field', async () => {
    const base = { name: 'bad-model', targets: [{ provider: 'echo', upstreamModel: 'x' }] };
    expectCode(await call(CREATE_MODEL, { input: { ...base, name: 'echo' } }), 'BAD_USER_INPUT', 'input.name');
    expectCode(await call(CREATE_MODEL, { input: { ...base, targets: [] } }), 'BAD_USER_INPUT', 'input.targets');
    expectCode(await call(CREATE_MODEL, { input: { ...base, targets: [{ provider: 'ghost', upstreamModel: 'x' }] } }), 'BAD_USER_INPUT', 'input.targets[0].provider');
    expectCode(await call(CREATE_MODEL, { input: { ...base, targets: [{ provider: 'echo', upstreamModel: ' ' }] } }), 'BAD_USER_INPUT', 'input.targets[0].upstreamModel');
    expectCode(await call(CREATE_MODEL, { input: { ...base, inputPricePerMTok: -1 } }), 'BAD_USER_INPUT', 'input.inputPricePerMTok');
    expectCode(await call(CREATE_MODEL, { input: { ...base, timeoutMs: 0 } }), 'BAD_USER_INPUT', 'input.timeoutMs');
    expectCode(await call(CREATE_MODEL, { input: { ...base, fallbacks: ['bad-model'] } }), 'BAD_USER_INPUT', 'input.fallbacks[0]');
    expectCode(await call(UPDATE_MODEL, { name: 'ghost', input: { description: 'x' } }), 'NOT_FOUND');
    // nothing half-created
    expect(ok(await call<{ model: null }>('{ model(name: "bad-model") { id } }')).model).toBeNull();
  });
});
