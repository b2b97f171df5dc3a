/*
 * Guardrails through the public surfaces: policies managed over GraphQL, attached to keys and models, acting on
 * GraphQL chat, SSE and graphql-ws streams and the REST route, with what reached the upstream (the mock records it)
 * and what the usage record says.
 */
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { guardrailPolicies } from '../../src/db/schema.js';
import type { AnyJson } from '../kit/json.js';
import { sseCollect } from '../kit/sse.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { createWsClient, wsCollect } from '../kit/ws.js';
import { startOpenAIMock, type OpenAIMock } from '../mocks/openai.js';
import { addMockProvider, post, sseData } from '../rest/kit.js';

let gw: TestGateway;
let mock: OpenAIMock;

const PII = {
  EMAIL: 'jane.doe@example.com',
  PHONE: '+44 20 7946 0958',
  CREDIT_CARD: '4111 1111 1111 1111',
  IBAN: 'DE89 3704 0044 0532 0130 00',
  NATIONAL_ID: '123-45-6789',
  IP_ADDRESS: '192.168.10.20',
  SECRET: 'sk-proj-abcdefghijklmnopqrstuvwxyz012345',
};
const PROMPT = `Contact ${Object.values(PII).join(' and ')} today.`;

const CHAT = 'mutation($input: ChatInput!) { chat(input: $input) { message { content } } }';
const STREAM = 'subscription($input: ChatInput!) { chatStream(input: $input) { delta finishReason } }';
const USAGE = 'query { usage(first: 1) { edges { node { status errorCode promptTokens completionTokens guardrails { policy stage rule action detail } } } } }';
const input = (model: string, content: string) => ({ model, messages: [{ role: 'USER', content }] });

async function createPolicy(name: string, rules: { input?: unknown; output?: unknown }) {
  const r = await gw.gql('mutation($i: CreateGuardrailPolicyInput!) { createGuardrailPolicy(input: $i) { id name } }', { i: { name, ...rules } });
  expect(r.errors).toBeUndefined();
}

async function createModel(name: string, policies: string[]) {
  const r = await gw.gql('mutation($i: CreateModelInput!) { createModel(input: $i) { name guardrailPolicies { name } } }', {
    i: { name, guardrailPolicies: policies, targets: [{ provider: 'mock-openai', upstreamModel: 'gpt-4o-mini' }] },
  });
  expect(r.errors).toBeUndefined();
  expect(r.data.createModel.guardrailPolicies.map((p: AnyJson) => p.name)).toEqual(policies);
}

const lastSent = () => (mock.chatRequests().at(-1)!.body as AnyJson).messages.at(-1).content as string;

async function lastRecord(): Promise<AnyJson> {
  await gw.flushUsage();
  return (await gw.gql(USAGE)).data.usage.edges[0].node;
}

beforeAll(async () => {
  [gw, mock] = await Promise.all([startGateway({}, { policy: { maxAttemptsPerModel: 1, backoffBaseMs: 1 } }), startOpenAIMock()]);
  await addMockProvider(gw, mock, []);
  await createPolicy('redact-pii', { input: { pii: { kinds: Object.keys(PII), action: 'REDACT', restore: true } } });
  await createPolicy('redact-out', { output: { pii: { kinds: ['EMAIL', 'CREDIT_CARD'], action: 'REDACT' } } });
  await createPolicy('no-falcon', { input: { denyList: { words: ['project falcon'], action: 'BLOCK' } }, output: { denyList: { words: ['falcon'], action: 'BLOCK' } } });
  await createPolicy('json-answer', { output: { jsonSchema: { type: 'object', required: ['ok'], properties: { ok: { type: 'boolean' } } } } });
  await createModel('guarded', ['redact-pii']);
  await createModel('out-guarded', ['redact-out']);
  await createModel('denied', ['no-falcon']);
  await createModel('json', ['json-answer']);
});
beforeEach(() => mock.reset());
afterAll(async () => {
  await Promise.all([gw?.stop(), mock?.close()]);
});

describe('policies over GraphQL', () => {
  it('refuse invalid rules and unknown policy names, naming the field', async () => {
    const bad = await gw.gql('mutation($i: CreateGuardrailPolicyInput!) { createGuardrailPolicy(input: $i) { id } }', {
      i: { name: 'bad', input: { denyList: { patterns: ['(unclosed'], action: 'BLOCK' } } },
    });
    expect(bad.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.input.denyList.patterns[0]' });
    const unknown = await gw.gql('mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { secret } }', { i: { name: 'k', guardrailPolicies: ['nope'] } });
    expect(unknown.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.guardrailPolicies[0]' });
  });

  it('list policies with their rules, for ADMIN only', async () => {
    const r = await gw.gql('query { guardrailPolicies { name input { pii { kinds action restore } denyList { words } } output { jsonSchema } } }');
    expect(r.data.guardrailPolicies.find((p: AnyJson) => p.name === 'redact-pii').input.pii).toEqual({ kinds: Object.keys(PII), action: 'REDACT', restore: true });
    const invoke = await gw.createKey({ scopes: ['INVOKE'] });
    const refused = await gw.gql('query { guardrailPolicies { name } }', {}, invoke.secret);
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('refuse to delete a policy in use, delete it once unused', async () => {
    await createPolicy('temp', { input: { maxInputTokens: 100 } });
    const key = await gw.createKey({ scopes: ['INVOKE'], guardrailPolicies: ['temp'] });
    const inUse = await gw.gql('mutation { deleteGuardrailPolicy(name: "temp") }');
    expect(inUse.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(inUse.errors?.[0]?.message).toContain('key');
    const detach = await gw.gql('mutation($id: ID!) { updateApiKey(id: $id, input: { guardrailPolicies: [] }) { guardrailPolicies { name } } }', { id: key.id });
    expect(detach.data.updateApiKey.guardrailPolicies).toEqual([]);
    expect((await gw.gql('mutation { deleteGuardrailPolicy(name: "temp") }')).data.deleteGuardrailPolicy).toBe(true);
  });

  it('a stored policy that cannot be compiled refuses the calls naming it, rather than letting them through', async () => {
    // as a row written by another version might be: a kind this one does not know
    await gw.app.services.database.db.insert(guardrailPolicies).values({ name: 'from-the-future', input: { pii: { kinds: ['PASSPORT'], action: 'REDACT' } } });
    await createModel('future', ['from-the-future']);
    const r = await gw.gql(CHAT, { input: input('future', 'hello') });
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'GUARDRAIL_BLOCKED', policy: 'from-the-future' });
    expect(mock.chatRequests()).toHaveLength(0);
    expect(gw.logs.some((l) => l.includes('from-the-future') && l.includes('cannot be compiled'))).toBe(true);
  });
});

describe('a policy that no longer exists', () => {
  it('refuses the calls of a key that still names it, rather than letting them through unguarded', async () => {
    await createPolicy('gone', { input: { pii: { kinds: ['EMAIL'], action: 'BLOCK' } } });
    const key = await gw.createKey({ scopes: ['INVOKE'], guardrailPolicies: ['gone'] });
    // as a delete racing an attach, or a hand edit of the database, could leave it
    const { db } = gw.app.services.database;
    await db.delete(guardrailPolicies).where(eq(guardrailPolicies.name, 'gone'));
    gw.app.services.guardrailPolicies.invalidate();
    mock.reply({ text: 'ok' });
    const r = await gw.gql(CHAT, { input: input('out-guarded', 'mail me at a@b.io') }, key.secret);
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'GUARDRAIL_BLOCKED', policy: '(deleted policy)' });
    expect(mock.chatRequests()).toHaveLength(0);
    expect(gw.logs.some((l) => l.includes('does not exist'))).toBe(true);
  });
});

describe('input rules', () => {
  it('a prompt holding every PII kind reaches the upstream redacted, and the answer gets the values back', async () => {
    mock.reply((req) => ({ text: `Noted: ${((req.body as AnyJson).messages.at(-1).content as string).replace('Contact ', '')}` }));
    const r = await gw.gql(CHAT, { input: input('guarded', PROMPT) });
    expect(r.errors).toBeUndefined();
    const sent = lastSent();
    for (const [kind, value] of Object.entries(PII)) {
      expect(sent).not.toContain(value);
      expect(sent).toContain(`[${kind}_1]`);
    }
    // the mock echoed the placeholders: restore puts the caller's values back
    for (const value of Object.values(PII)) expect(r.data.chat.message.content).toContain(value);
    const rec = await lastRecord();
    expect(rec.status).toBe('OK');
    expect(rec.guardrails).toContainEqual({ policy: 'redact-pii', stage: 'INPUT', rule: 'PII', action: 'REDACTED', detail: 'EMAIL' });
    expect(rec.guardrails).toContainEqual({ policy: 'redact-pii', stage: 'OUTPUT', rule: 'PII', action: 'RESTORED', detail: 'EMAIL' });
  });

  it('a cached answer (stored as the upstream gave it, for the redacted prompt) gets the values restored too', async () => {
    const r = await gw.gql('mutation($i: CreateModelInput!) { createModel(input: $i) { name } }', {
      i: { name: 'guarded-cached', guardrailPolicies: ['redact-pii'], cache: { mode: 'EXACT' }, targets: [{ provider: 'mock-openai', upstreamModel: 'gpt-4o-mini' }] },
    });
    expect(r.errors).toBeUndefined();
    mock.reply((req) => ({ text: `Will write to ${((req.body as AnyJson).messages.at(-1).content as string).split(' ').at(-1)}` }));
    const first = await gw.gql(CHAT, { input: input('guarded-cached', 'mail bob@corp.example') });
    const second = await gw.gql(CHAT, { input: input('guarded-cached', 'mail bob@corp.example') });
    expect(mock.chatRequests()).toHaveLength(1);
    expect(lastSent()).toBe('mail [EMAIL_1]');
    expect(first.data.chat.message.content).toBe('Will write to bob@corp.example');
    expect(second.data.chat.message.content).toBe('Will write to bob@corp.example');
  });

  it('a key policy applies as well as the model one', async () => {
    await createPolicy('key-emails', { input: { pii: { kinds: ['EMAIL'], action: 'BLOCK' } } });
    const key = await gw.createKey({ scopes: ['INVOKE'], guardrailPolicies: ['key-emails'] });
    mock.reply({ text: 'ok' });
    const r = await gw.gql(CHAT, { input: input('out-guarded', 'mail me at a@b.io') }, key.secret);
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'GUARDRAIL_BLOCKED', policy: 'key-emails' });
    expect(mock.chatRequests()).toHaveLength(0);
  });

  it('a denied word blocks: GUARDRAIL_BLOCKED on GraphQL, 400 naming the policy on REST, recorded with the trigger', async () => {
    const r = await gw.gql(CHAT, { input: input('denied', 'Tell me about Project Falcon.') });
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'GUARDRAIL_BLOCKED', policy: 'no-falcon' });
    expect(mock.chatRequests()).toHaveLength(0);
    const rec = await lastRecord();
    expect(rec).toMatchObject({ status: 'ERROR', errorCode: 'GUARDRAIL_BLOCKED' });
    expect(rec.guardrails).toEqual([{ policy: 'no-falcon', stage: 'INPUT', rule: 'DENY_LIST', action: 'BLOCKED', detail: 'word #1' }]);

    const res = await post(gw, '/v1/chat/completions', { model: 'denied', messages: [{ role: 'user', content: 'project falcon status?' }] }, gw.adminKey);
    expect(res.status).toBe(400);
    const body = (await res.json()) as AnyJson;
    expect(body.error).toMatchObject({ code: 'GUARDRAIL_BLOCKED' });
    expect(JSON.stringify(body.error)).toContain('no-falcon');
  });
});

describe('input rules on embed calls', () => {
  const EMBED = 'mutation($input: EmbedInput!) { embed(input: $input) { vectors } }';

  it('the texts reach the upstream redacted, a denied term or too many tokens refuses the call', async () => {
    await createPolicy('embed-guard', { input: { pii: { kinds: ['EMAIL', 'SECRET'], action: 'REDACT' }, denyList: { words: ['falcon'], action: 'BLOCK' }, maxInputTokens: 50 } });
    const key = await gw.createKey({ scopes: ['INVOKE'], guardrailPolicies: ['embed-guard'] });
    const texts = ['mail jane.doe@example.com', `key ${PII.SECRET}`, 'nothing here'];
    const ok = await gw.gql(EMBED, { input: { model: 'guarded', input: texts } }, key.secret);
    expect(ok.errors).toBeUndefined();
    expect(ok.data.embed.vectors).toHaveLength(3);
    // the model's policy (redact-pii) applies as well as the key's
    expect((mock.embeddingRequests().at(-1)!.body as AnyJson).input).toEqual(['mail [EMAIL_1]', 'key [SECRET_1]', 'nothing here']);
    const rec = await lastRecord();
    expect(rec.guardrails).toContainEqual({ policy: 'embed-guard', stage: 'INPUT', rule: 'PII', action: 'REDACTED', detail: 'EMAIL' });

    const denied = await gw.gql(EMBED, { input: { model: 'guarded', input: ['about the Falcon'] } }, key.secret);
    expect(denied.errors?.[0]?.extensions).toMatchObject({ code: 'GUARDRAIL_BLOCKED', policy: 'embed-guard' });
    const long = await gw.gql(EMBED, { input: { model: 'guarded', input: ['word '.repeat(40), 'word '.repeat(40)] } }, key.secret);
    expect(long.errors?.[0]?.extensions).toMatchObject({ code: 'GUARDRAIL_BLOCKED', policy: 'embed-guard' });
    expect(mock.embeddingRequests()).toHaveLength(1);
  });
});

describe('output rules on streams', () => {
  const split = ['Write to jane.d', 'oe@exam', 'ple.com, card 4111 11', '11 1111 1111. Bye'];

  it('an entity split across chunks reaches the SSE client redacted', async () => {
    mock.reply({ text: split.join(''), chunks: split });
    const results = await sseCollect(gw.url, STREAM, { input: input('out-guarded', 'hi') }, gw.adminKey);
    const text = results.map((r) => (r.data as AnyJson)?.chatStream?.delta ?? '').join('');
    expect(text).toBe('Write to [EMAIL_1], card [CREDIT_CARD_1]. Bye');
    expect(results.at(-1)?.data).toMatchObject({ chatStream: { finishReason: 'STOP' } });
  });

  it('the same over graphql-ws, and restore works on a stream', async () => {
    mock.reply((req) => ({ chunks: ['Sure, [EM', 'AIL_1] it', ' is.'], text: 'x', usage: { prompt_tokens: 1, completion_tokens: 1 }, model: String((req.body as AnyJson).model) }));
    const client = createWsClient(gw.url, gw.adminKey);
    try {
      const results = await wsCollect(client, STREAM, { input: input('guarded', 'mail jane.doe@example.com') });
      expect(lastSent()).toBe('mail [EMAIL_1]');
      expect(results.map((r) => (r.data as AnyJson)?.chatStream?.delta ?? '').join('')).toBe('Sure, jane.doe@example.com it is.');
    } finally {
      await client.dispose();
    }
  });

  it('a denied word in a streamed answer ends the stream with GUARDRAIL_BLOCKED before the word goes out', async () => {
    mock.reply({ text: 'the fal con', chunks: ['It is called ', 'Fal', 'con, you see'] });
    const results = await sseCollect(gw.url, STREAM, { input: input('denied', 'hi') }, gw.adminKey);
    const text = results.map((r) => (r.data as AnyJson)?.chatStream?.delta ?? '').join('');
    expect(text.toLowerCase()).not.toContain('fal');
    expect(results.at(-1)?.errors?.[0]?.extensions).toMatchObject({ code: 'GUARDRAIL_BLOCKED', policy: 'no-falcon' });
    const rec = await lastRecord();
    expect(rec).toMatchObject({ status: 'ERROR', errorCode: 'GUARDRAIL_BLOCKED' });
    expect(rec.guardrails).toEqual([{ policy: 'no-falcon', stage: 'OUTPUT', rule: 'DENY_LIST', action: 'BLOCKED', detail: 'word #1' }]);
  });
});

describe('REST streams', () => {
  it('a streamed answer redacted on the way, or ended by a block with the policy named', async () => {
    mock.reply({ text: 'x', chunks: ['Mail jane.d', 'oe@example.com now'] });
    const ok = await post(gw, '/v1/chat/completions', { model: 'out-guarded', stream: true, messages: [{ role: 'user', content: 'hi' }] }, gw.adminKey);
    const events = await sseData(ok);
    const text = events.filter((e) => e !== '[DONE]').map((e) => (JSON.parse(e) as AnyJson).choices?.[0]?.delta?.content ?? '').join('');
    expect(text).toBe('Mail [EMAIL_1] now');

    mock.reply({ text: 'x', chunks: ['It is Fal', 'con.'] });
    const blocked = await post(gw, '/v1/chat/completions', { model: 'denied', stream: true, messages: [{ role: 'user', content: 'hi' }] }, gw.adminKey);
    const data = await sseData(blocked);
    const sent = data.filter((e) => e !== '[DONE]').map((e) => (JSON.parse(e) as AnyJson).choices?.[0]?.delta?.content ?? '').join('');
    expect(sent.toLowerCase()).not.toContain('fal');
    const error = data.map((e) => (e === '[DONE]' ? null : (JSON.parse(e) as AnyJson))).find((e) => e?.error);
    expect(error.error).toMatchObject({ code: 'GUARDRAIL_BLOCKED' });
    expect(JSON.stringify(error.error)).toContain('no-falcon');
  });
});

describe('JSON schema', () => {
  it('asks the upstream once more when the answer does not match, and passes the second answer', async () => {
    mock.replyOnce({ text: 'Sure! {"ok": "yes"}', usage: { prompt_tokens: 5, completion_tokens: 3 } });
    mock.reply({ text: '{"ok": true}', usage: { prompt_tokens: 7, completion_tokens: 2 } });
    const r = await gw.gql(CHAT, { input: input('json', 'status?') });
    expect(r.errors).toBeUndefined();
    expect(r.data.chat.message.content).toBe('{"ok": true}');
    expect(mock.chatRequests()).toHaveLength(2);
    const rec = await lastRecord();
    expect(rec).toMatchObject({ status: 'OK', promptTokens: 12, completionTokens: 5 });
    expect(rec.guardrails).toMatchObject([{ policy: 'json-answer', stage: 'OUTPUT', rule: 'JSON_SCHEMA', action: 'RETRIED' }]);
  });

  it('blocks when the second answer fails too', async () => {
    mock.reply({ text: 'not json' });
    const r = await gw.gql(CHAT, { input: input('json', 'status?') });
    expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'GUARDRAIL_BLOCKED', policy: 'json-answer' });
    expect(mock.chatRequests()).toHaveLength(2);
    const rec = await lastRecord();
    expect(rec).toMatchObject({ status: 'ERROR', errorCode: 'GUARDRAIL_BLOCKED' });
    expect(rec.guardrails.map((e: AnyJson) => e.action)).toEqual(['RETRIED', 'BLOCKED']);
  });

  it('a streamed answer that does not match ends with GUARDRAIL_BLOCKED (it was sent: no retry)', async () => {
    mock.reply({ text: 'no json here', chunks: ['no json', ' here'] });
    const results = await sseCollect(gw.url, STREAM, { input: input('json', 'status?') }, gw.adminKey);
    expect(results.at(-1)?.errors?.[0]?.extensions).toMatchObject({ code: 'GUARDRAIL_BLOCKED', policy: 'json-answer' });
    expect(mock.chatRequests()).toHaveLength(1);
  });
});
