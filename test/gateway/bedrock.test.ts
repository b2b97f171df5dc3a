/**
 * A BEDROCK provider end to end: configured through GraphQL (region in settings, the AWS credential checked at
 * configuration), called through GraphQL chat and chatStream against the Bedrock mock, which verifies every
 * request's SigV4 signature; the usage record counts cached input in promptTokens.
 */
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { BEDROCK_MOCK_CREDENTIAL, BEDROCK_MOCK_SECRET, startBedrockMock, type BedrockMock } from '../mocks/bedrock.js';
import { chatOk, createModel, streamAll, textOf, uniq, usageEventually, wsClient } from './helpers.js';

const UPSTREAM = 'anthropic.claude-3-5-haiku-20241022-v1:0';

let gw: TestGateway;
let mock: BedrockMock;
let ws: Client;
let caller: { secret: string };

const CREATE = 'mutation($input: CreateProviderInput!) { createProvider(input: $input) { id name kind settings { region } } }';

beforeAll(async () => {
  [gw, mock] = await Promise.all([startGateway(), startBedrockMock()]);
  caller = await gw.createKey({ name: 'bedrock-caller' });
  ws = wsClient(gw, caller.secret);
});
afterAll(async () => {
  await ws?.dispose();
  await Promise.all([gw?.stop(), mock?.close()]);
});

describe('BEDROCK provider through the gateway', () => {
  it('refuses a provider without a region, or with a credential not in accessKeyId:secret form, naming the field', async () => {
    const noRegion = await gw.gql(CREATE, { input: { name: uniq('bedrock'), kind: 'BEDROCK', apiKey: BEDROCK_MOCK_CREDENTIAL } });
    expect(noRegion.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect(noRegion.errors?.[0].message).toContain('input.settings.region');
    // a region is read only from a whole bedrock-runtime host, not from one that merely starts like it
    const lookalike = await gw.gql(CREATE, {
      input: { name: uniq('bedrock'), kind: 'BEDROCK', baseUrl: 'https://bedrock-runtime.us-east-1.amazonaws.com.evil.example', apiKey: BEDROCK_MOCK_CREDENTIAL },
    });
    expect(lookalike.errors?.[0].message).toContain('input.settings.region');
    const real = await gw.gql(CREATE, {
      input: { name: uniq('bedrock'), kind: 'BEDROCK', baseUrl: 'https://bedrock-runtime.us-east-1.amazonaws.com:443/', apiKey: BEDROCK_MOCK_CREDENTIAL },
    });
    expect(real.errors).toBeUndefined();
    const badKey = await gw.gql(CREATE, { input: { name: uniq('bedrock'), kind: 'BEDROCK', apiKey: 'only-a-secret-here', settings: { region: 'us-east-1' } } });
    expect(badKey.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect(badKey.errors?.[0].message).toContain('input.apiKey');
    expect(JSON.stringify(badKey.errors)).not.toContain('only-a-secret-here');
  });

  it('chat and chatStream reach the mock signed, with usage including cached input', async () => {
    const provider = uniq('bedrock');
    const created = await gw.gql(CREATE, {
      input: { name: provider, kind: 'BEDROCK', baseUrl: mock.url, apiKey: BEDROCK_MOCK_CREDENTIAL, settings: { region: 'us-east-1' } },
    });
    expect(created.errors).toBeUndefined();
    expect(created.data.createProvider.settings).toEqual({ region: 'us-east-1' });
    const model = uniq('claude-on-bedrock');
    await createModel(gw, { name: model, targets: [{ provider, upstreamModel: UPSTREAM }], inputPricePerMTok: 1, outputPricePerMTok: 5 });

    mock.reply({ text: 'Hello from Bedrock.', usage: { input: 120, output: 4, cachedRead: 100 } });
    const res = await chatOk(gw, { model, messages: [{ role: 'USER', content: 'Hi' }] }, caller.secret);
    expect(res.message.content).toBe('Hello from Bedrock.');
    expect(res.provider).toBe(provider);
    expect(res.upstreamModel).toBe(UPSTREAM);
    expect(res.usage).toMatchObject({ promptTokens: 120, completionTokens: 4, totalTokens: 124 });
    const sent = mock.last();
    expect(sent.path).toBe(`/model/${encodeURIComponent(UPSTREAM)}/converse`);
    expect(mock.lastSignatureError).toBeUndefined();
    expect(JSON.stringify(sent.headers)).not.toContain(BEDROCK_MOCK_SECRET);

    mock.reply({ text: 'streamed from Bedrock', usage: { input: 30, output: 3, cacheWrite: 20 } });
    const run = await streamAll(ws, { model, messages: [{ role: 'USER', content: 'Stream please' }] });
    expect(run.errors).toEqual([]);
    expect(textOf(run.chunks)).toBe('streamed from Bedrock');
    const last = run.chunks[run.chunks.length - 1];
    expect(last.finishReason).toBe('STOP');
    expect(last.usage).toMatchObject({ promptTokens: 30, completionTokens: 3 });
    expect(mock.last().path).toBe(`/model/${encodeURIComponent(UPSTREAM)}/converse-stream`);

    const records = await usageEventually(gw, model, 2);
    expect(records.map((r) => [r.promptTokens, r.completionTokens]).sort()).toEqual([
      [120, 4],
      [30, 3],
    ]);
  });

  it('a wrong secret is a 403 from the mock: the chat fails as an upstream error without the secret', async () => {
    const provider = uniq('bedrock-bad');
    const wrong = 'AKIAIOSFODNN7EXAMPLE:this-secret-is-wrong-0123456789';
    const created = await gw.gql(CREATE, { input: { name: provider, kind: 'BEDROCK', baseUrl: mock.url, apiKey: wrong, settings: { region: 'us-east-1' } } });
    expect(created.errors).toBeUndefined();
    const model = uniq('bedrock-bad-model');
    await createModel(gw, { name: model, targets: [{ provider, upstreamModel: UPSTREAM }] });
    const r = await gw.gql('mutation($input: ChatInput!) { chat(input: $input) { id } }', { input: { model, messages: [{ role: 'USER', content: 'Hi' }] } }, caller.secret);
    expect(r.errors?.[0].extensions?.code).toBe('UPSTREAM_ERROR');
    expect(JSON.stringify(r.errors)).not.toContain('this-secret-is-wrong');
    expect(mock.lastSignatureError).toContain('canonical request');
  });
});
