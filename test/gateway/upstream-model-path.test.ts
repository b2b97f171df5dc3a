/**
 * Issue 20, item 14: an upstream model name must never take a call outside the provider's path. Gemini puts
 * the model in the URL (`/v1beta/models/{model}:generateContent`): such names are refused when a target is
 * created or changed, and the adapter encodes the segment whatever is stored. Providers that send the model in
 * the JSON body keep names with '/' (`meta-llama/Llama-3-8b` on Together, OpenRouter, vLLM).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { startGeminiMock, type GeminiMock } from '../mocks/gemini.js';
import { startOpenAIMock, type OpenAIMock } from '../mocks/openai.js';
import { chat, chatOk, createModel, createProvider, ok, uniq } from './helpers.js';

const ESCAPE = '../../../admin/export?all=1#';
const EXPECTED_PATH = /^\/v1beta\/models\/[^/?#]+:(generateContent|streamGenerateContent\?alt=sse|batchEmbedContents)$/;

let gw: TestGateway;
let gemini: GeminiMock;
let compat: OpenAIMock;
let geminiProvider: string;
let compatProvider: string;
let caller: string;

const CREATE_MODEL = 'mutation($input: CreateModelInput!) { createModel(input: $input) { name targets { upstreamModel } } }';
const UPDATE_MODEL = 'mutation($name: String!, $input: UpdateModelInput!) { updateModel(name: $name, input: $input) { name targets { upstreamModel } } }';

beforeAll(async () => {
  [gemini, compat] = await Promise.all([startGeminiMock(), startOpenAIMock()]);
  gw = await startGateway();
  geminiProvider = uniq('gemini');
  compatProvider = uniq('together');
  await createProvider(gw, { name: geminiProvider, kind: 'GEMINI', baseUrl: gemini.url, apiKey: 'AIza-provider-credential' });
  await createProvider(gw, { name: compatProvider, kind: 'OPENAI_COMPATIBLE', baseUrl: compat.baseUrl, apiKey: 'sk-provider-credential' });
  caller = (await gw.createKey({ scopes: ['INVOKE'] })).secret;
});

afterAll(async () => {
  await gw?.stop();
  await Promise.all([gemini?.close(), compat?.close()]);
});

beforeEach(() => {
  gemini.requests.length = 0;
});

describe('GEMINI upstream model names', () => {
  it.each([
    ESCAPE,
    'gemini-2.0-flash/../../admin',
    'gemini-2.0-flash?alt=json',
    'gemini-2.0-flash#x',
    'gemini-2.0-flash:streamGenerateContent',
    '..',
    'gemini%2F..%2Fadmin',
    'gemini\\..\\admin',
    'gemini-2.0-flash\u0000',
    'gemini 2.0 flash',
  ])('createModel refuses %j with BAD_USER_INPUT naming the target field; nothing reaches the upstream', async (upstreamModel) => {
    const name = uniq('m');
    const res = await gw.gql(CREATE_MODEL, { input: { name, targets: [{ provider: geminiProvider, upstreamModel: 'gemini-2.0-flash' }, { provider: geminiProvider, upstreamModel }] } });
    expect(res.data).toBeNull();
    expect(res.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.targets[1].upstreamModel' });
    expect(res.errors?.[0].message).toContain('input.targets[1].upstreamModel');

    // the model was not created, so a call cannot reach the provider under that name
    const call = await chat(gw, { model: name, messages: [{ role: 'USER', content: 'hi' }] }, caller);
    expect(call.errors?.[0].extensions?.code).toBe('MODEL_NOT_FOUND');
    expect(gemini.requests).toHaveLength(0);
  });

  it('updateModel refuses the same names, and the model keeps its old target', async () => {
    const name = uniq('m');
    await createModel(gw, { name, targets: [{ provider: geminiProvider, upstreamModel: 'gemini-2.0-flash' }] });
    const res = await gw.gql(UPDATE_MODEL, { name, input: { targets: [{ provider: geminiProvider, upstreamModel: ESCAPE }] } });
    expect(res.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.targets[0].upstreamModel' });

    const answer = await chatOk(gw, { model: name, messages: [{ role: 'USER', content: 'hi' }] }, caller);
    expect(answer.upstreamModel).toBe('gemini-2.0-flash');
    expect(gemini.requests.map((r) => r.path)).toEqual(['/v1beta/models/gemini-2.0-flash:generateContent']);
  });

  it('accepts real Gemini ids, with or without the models/ prefix, and calls them on the expected path', async () => {
    for (const upstreamModel of ['gemini-2.5-flash-preview-05-20', 'models/gemini-1.5-pro-latest', 'gemma-3-27b-it']) {
      const name = uniq('m');
      ok(await gw.gql(CREATE_MODEL, { input: { name, targets: [{ provider: geminiProvider, upstreamModel }] } }));
      await chatOk(gw, { model: name, messages: [{ role: 'USER', content: 'hi' }] }, caller);
    }
    expect(gemini.requests.map((r) => r.path)).toEqual([
      '/v1beta/models/gemini-2.5-flash-preview-05-20:generateContent',
      '/v1beta/models/gemini-1.5-pro-latest:generateContent',
      '/v1beta/models/gemma-3-27b-it:generateContent',
    ]);
    for (const r of gemini.requests) expect(r.path).toMatch(EXPECTED_PATH);
  });
});

describe('providers that send the model in the body', () => {
  it("OPENAI_COMPATIBLE keeps names with '/' (sent in the JSON body, the path stays /v1/chat/completions)", async () => {
    const name = uniq('m');
    ok(await gw.gql(CREATE_MODEL, { input: { name, targets: [{ provider: compatProvider, upstreamModel: 'meta-llama/Llama-3-8b-chat-hf' }] } }));
    compat.reply({ text: 'hello' });
    await chatOk(gw, { model: name, messages: [{ role: 'USER', content: 'hi' }] }, caller);
    const r = compat.chatRequests().at(-1)!;
    expect(r.path).toBe('/v1/chat/completions');
    expect(r.body.model).toBe('meta-llama/Llama-3-8b-chat-hf');
  });

  it('control characters are refused for every kind', async () => {
    const res = await gw.gql(CREATE_MODEL, { input: { name: uniq('m'), targets: [{ provider: compatProvider, upstreamModel: 'llama\r\nx-injected: 1' }] } });
    expect(res.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.targets[0].upstreamModel' });
  });
});
