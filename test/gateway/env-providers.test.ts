/**
 * Issue 3, item 6: providers from the environment. With only OPENAI_API_KEY / ANTHROPIC_API_KEY /
 * GEMINI_API_KEY (+ *_BASE_URL) set, well-known models are callable at once, with the env credential.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { startAnthropicMock, type AnthropicMock } from '../mocks/anthropic.js';
import { startGeminiMock, type GeminiMock } from '../mocks/gemini.js';
import { startOpenAIMock, type OpenAIMock } from '../mocks/openai.js';
import { chatOk, ok, streamAll, usageOf, wsClient } from './helpers.js';

let gw: TestGateway;
let openai: OpenAIMock;
let anthropic: AnthropicMock;
let gemini: GeminiMock;

beforeAll(async () => {
  [openai, anthropic, gemini] = await Promise.all([startOpenAIMock(), startAnthropicMock(), startGeminiMock()]);
  gw = await startGateway({
    OPENAI_API_KEY: 'sk-env',
    OPENAI_BASE_URL: openai.baseUrl,
    ANTHROPIC_API_KEY: 'sk-ant-env',
    ANTHROPIC_BASE_URL: anthropic.url,
    GEMINI_API_KEY: 'gm-env',
    GEMINI_BASE_URL: gemini.url,
  });
});

afterAll(async () => {
  await gw?.stop();
  await Promise.all([openai?.close(), anthropic?.close(), gemini?.close()]);
});

describe('providers from the environment', () => {
  it('registers the providers with their credential (never readable) and the well-known models', async () => {
    const res = ok(await gw.gql<{ providers: Array<{ name: string; kind: string; baseUrl: string; hasCredential: boolean }>; models: Array<{ name: string }> }>(
      '{ providers { name kind baseUrl hasCredential } models { name } }',
    ));
    expect(res.providers).toEqual(
      expect.arrayContaining([
        { name: 'openai', kind: 'OPENAI', baseUrl: openai.baseUrl, hasCredential: true },
        { name: 'anthropic', kind: 'ANTHROPIC', baseUrl: anthropic.url, hasCredential: true },
        { name: 'gemini', kind: 'GEMINI', baseUrl: gemini.url, hasCredential: true },
      ]),
    );
    const names = res.models.map((m) => m.name);
    expect(names).toEqual(expect.arrayContaining(['gpt-4o-mini', 'claude-3-5-haiku-latest', 'gemini-2.0-flash', 'echo']));
  });

  it('gpt-4o-mini is callable at once, with the env key upstream and list prices applied', async () => {
    const caller = await gw.createKey({ scopes: ['INVOKE'] });
    openai.reply({ text: 'Hi from env', usage: { prompt_tokens: 1000, completion_tokens: 2000 } });
    const res = await chatOk(gw, { model: 'gpt-4o-mini', messages: [{ role: 'USER', content: 'Hi' }] }, caller.secret);
    expect(res).toMatchObject({ model: 'gpt-4o-mini', provider: 'openai', upstreamModel: 'gpt-4o-mini', attempts: 1 });
    expect(res.message.content).toBe('Hi from env');
    // $0.15 / $0.60 per million tokens
    expect(res.usage.costUsd).toBeCloseTo((1000 * 0.15 + 2000 * 0.6) / 1e6, 10);
    const r = openai.chatRequests().at(-1)!;
    expect(r.headers.authorization).toBe('Bearer sk-env');
    expect(r.body.model).toBe('gpt-4o-mini');
    const [rec] = await usageOf(gw, 'gpt-4o-mini');
    expect(rec).toMatchObject({ provider: 'openai', status: 'OK', promptTokens: 1000, completionTokens: 2000 });
  });

  it('claude-3-5-haiku-latest and gemini-2.0-flash are callable at once, plain and streamed', async () => {
    const caller = await gw.createKey({ scopes: ['INVOKE'] });
    anthropic.reply({ text: 'Hello from Claude.', usage: { input_tokens: 5, output_tokens: 4 } });
    gemini.reply({ text: 'Hello from Gemini.', usage: { promptTokenCount: 5, candidatesTokenCount: 4 } });

    const claude = await chatOk(gw, { model: 'claude-3-5-haiku-latest', messages: [{ role: 'USER', content: 'Hi' }] }, caller.secret);
    expect(claude).toMatchObject({ provider: 'anthropic', upstreamModel: 'claude-3-5-haiku-latest', message: { content: 'Hello from Claude.' } });
    expect(anthropic.last().headers['x-api-key']).toBe('sk-ant-env');

    const gem = await chatOk(gw, { model: 'gemini-2.0-flash', messages: [{ role: 'USER', content: 'Hi' }] }, caller.secret);
    expect(gem).toMatchObject({ provider: 'gemini', message: { content: 'Hello from Gemini.' } });
    expect(gemini.last().headers['x-goog-api-key']).toBe('gm-env');
    expect(gemini.last().path).toBe('/v1beta/models/gemini-2.0-flash:generateContent');

    const ws = wsClient(gw, caller.secret);
    try {
      for (const model of ['gpt-4o-mini', 'claude-3-5-haiku-latest', 'gemini-2.0-flash']) {
        const { errors, chunks } = await streamAll(ws, { model, messages: [{ role: 'USER', content: 'Hi' }] });
        expect(errors).toEqual([]);
        expect(chunks.at(-1)?.finishReason).toBe('STOP');
      }
    } finally {
      await ws.dispose();
    }
  });
});
