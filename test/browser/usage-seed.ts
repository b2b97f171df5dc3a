/*
 * Usage for the console's usage pages, made through the public API: echo models with prices, an ADMIN caller, an
 * INVOKE+READ_USAGE key and a key whose name is HTML, and a few dozen calls spread over them.
 */
import { chatOk, createModel, createProvider, userSays } from '../gateway/helpers.js';
import type { TestGateway } from '../kit/start-gateway.js';

export const XSS_NAME = '<img src=x onerror=alert(1)>';
export const XSS_SCRIPT = '<script>alert(2)</script>';

export interface UsageSeed {
  reader: { id: string; secret: string; name: string };
  hostile: { id: string; secret: string };
  models: string[];
}

/** Echo-kind models on the ECHO provider, priced so costs are not all zero */
async function createEchoModels(gw: TestGateway): Promise<string[]> {
  const models = ['echo-mini', 'echo-large'];
  await createModel(gw, { name: 'echo-mini', targets: [{ provider: 'echo', upstreamModel: 'echo-mini-1' }], inputPricePerMTok: 150, outputPricePerMTok: 600 });
  await createModel(gw, { name: 'echo-large', targets: [{ provider: 'echo', upstreamModel: 'echo-large-2' }], inputPricePerMTok: 2500, outputPricePerMTok: 10_000 });
  return ['echo', ...models];
}

/** A model whose only provider refuses connections: each call fails (UPSTREAM_ERROR) and is recorded ERROR */
async function createBrokenModel(gw: TestGateway): Promise<string> {
  await createProvider(gw, { name: 'unreachable', kind: 'OPENAI_COMPATIBLE', baseUrl: 'http://127.0.0.1:9/v1', apiKey: 'sk-unused' });
  await createModel(gw, { name: 'broken-model', targets: [{ provider: 'unreachable', upstreamModel: 'nothing' }], timeoutMs: 2000 });
  return 'broken-model';
}

/** A streamed call over the REST surface, read to its end, so the record has a time to first token */
async function streamCall(gw: TestGateway, model: string): Promise<void> {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${gw.adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'stream a few words back to me please' }] }),
  });
  if (res.status !== 200) throw new Error(`stream answered ${res.status}`);
  await res.text();
}

/** One call that must succeed; its invocationId */
export async function call(gw: TestGateway, model: string, key?: string, metadata?: unknown): Promise<string> {
  return (await chatOk(gw, { model, messages: userSays(`hello from the console test, model ${model}`), metadata }, key)).id;
}

export async function seedUsage(gw: TestGateway, calls = 20): Promise<UsageSeed> {
  const models = await createEchoModels(gw);
  const reader = { ...(await gw.createKey({ name: 'reader-app', scopes: ['INVOKE', 'READ_USAGE'] })), name: 'reader-app' };
  const hostile = await gw.createKey({ name: XSS_NAME, scopes: ['INVOKE'] });
  for (let i = 0; i < calls; i++) {
    const key = i % 4 === 0 ? reader.secret : i % 7 === 0 ? hostile.secret : undefined;
    await call(gw, models[i % models.length], key, { run: i, team: i % 2 ? 'search' : 'support' });
  }
  await call(gw, 'echo', hostile.secret, { note: XSS_SCRIPT, html: XSS_NAME });
  const broken = await createBrokenModel(gw);
  for (const key of [undefined, reader.secret]) {
    const res = await gw.gql('mutation($input: ChatInput!) { chat(input: $input) { id } }', { input: { model: broken, messages: userSays('fail') } }, key);
    if (!res.errors?.length) throw new Error('the broken model answered');
  }
  await streamCall(gw, 'echo-mini');
  await streamCall(gw, 'echo-large');
  await gw.flushUsage();
  return { reader, hostile, models };
}
