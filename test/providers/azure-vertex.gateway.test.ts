/*
 * AZURE_OPENAI and VERTEX end to end: a provider created through GraphQL with its settings and credential, a model
 * targeting it, a GraphQL chat; the mocks see the settings at work (api-version, Entra token, project, location,
 * the service account's token) and the usage record is written.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { chatOk, createModel, ok, uniq, userSays } from '../gateway/helpers.js';
import { startAzureOpenAIMock, type AzureOpenAIMock } from '../mocks/azure-openai.js';
import { startVertexMock, VERTEX_PROJECT, type VertexMock } from '../mocks/vertex.js';

let gw: TestGateway;
let azure: AzureOpenAIMock;
let vertex: VertexMock;

beforeAll(async () => {
  [gw, azure, vertex] = await Promise.all([startGateway(), startAzureOpenAIMock(), startVertexMock()]);
});
afterAll(async () => {
  await Promise.all([gw?.stop(), azure?.close(), vertex?.close()]);
});

async function provider(kind: string, baseUrl: string, apiKey: string, settings: Record<string, string>): Promise<string> {
  const name = uniq(kind.toLowerCase());
  const res = ok(
    await gw.gql<{ createProvider: { settings: Record<string, string | null> } }>(
      'mutation($input: CreateProviderInput!) { createProvider(input: $input) { settings { apiVersion authScheme region project } } }',
      { input: { name, kind, baseUrl, apiKey, settings } },
    ),
  );
  expect(res.createProvider.settings).toMatchObject(settings);
  return name;
}

describe('AZURE_OPENAI through the gateway', () => {
  it('sends the api-version and the Entra ID token the provider settings ask for', async () => {
    const p = await provider('AZURE_OPENAI', azure.url, azure.bearerToken, { apiVersion: '2025-04-01-preview', authScheme: 'BEARER' });
    const model = uniq('azure');
    await createModel(gw, { name: model, targets: [{ provider: p, upstreamModel: 'gpt-4o-prod' }] });
    azure.reply({ text: 'Hello from Azure', usage: { input: 12, output: 3 } });
    const res = await chatOk(gw, { model, messages: userSays('hi') });
    expect(res.message.content).toBe('Hello from Azure');
    // the model behind the deployment, as Azure reports it
    expect(res.upstreamModel).toBe('gpt-4o-2024-08-06');
    expect(res.usage).toMatchObject({ promptTokens: 12, completionTokens: 3 });
    const sent = azure.last();
    expect(sent.path).toBe('/openai/deployments/gpt-4o-prod/chat/completions?api-version=2025-04-01-preview');
    expect(sent.headers.authorization).toBe(`Bearer ${azure.bearerToken}`);
    expect(sent.headers['api-key']).toBeUndefined();
  });

  it('refuses a deployment name that would change the request path', async () => {
    const p = await provider('AZURE_OPENAI', azure.url, azure.apiKey, { apiVersion: '2024-10-21' });
    const res = await gw.gql('mutation($input: CreateModelInput!) { createModel(input: $input) { id } }', {
      input: { name: uniq('bad'), targets: [{ provider: p, upstreamModel: 'x/../../other' }] },
    });
    expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(res.errors?.[0]?.message).toMatch(/deployment name/);
  });
});

describe('VERTEX through the gateway', () => {
  it('fetches a token with the stored key file and calls Claude in the configured project and location', async () => {
    const p = await provider('VERTEX', vertex.url, vertex.credential, { project: VERTEX_PROJECT, region: 'europe-west1' });
    const model = uniq('vertex');
    await createModel(gw, { name: model, targets: [{ provider: p, upstreamModel: 'claude-sonnet-4-5@20250929' }] });
    vertex.reply({ text: 'Hello from Vertex', usage: { input: 9, output: 3 } });
    const before = vertex.tokenRequests.length;
    const res = await chatOk(gw, { model, messages: userSays('hi') });
    expect(res.message.content).toBe('Hello from Vertex');
    expect(res.usage).toMatchObject({ promptTokens: 9, completionTokens: 3 });
    expect(vertex.tokenRequests.length - before).toBe(1);
    const sent = vertex.last();
    expect(sent.path).toBe(`/v1/projects/${VERTEX_PROJECT}/locations/europe-west1/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict`);
    expect(sent.body).toMatchObject({ anthropic_version: 'vertex-2023-10-16' });
  });
});
