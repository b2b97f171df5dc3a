/* The AZURE_OPENAI adapter against a mock Azure OpenAI resource: URLs, api-version, both auth schemes, content filters, errors, stream, cancel. */
import { AzureOpenAI } from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_API_VERSION } from '../../src/providers/azure-openai/endpoint.js';
import { closeUpstreamAgent } from '../../src/providers/http.js';
import { createAdapterRegistry } from '../../src/providers/registry.js';
import { UpstreamError, type CallOptions, type ChatRequest, type StreamChunk } from '../../src/providers/types.js';
import { upstreamModelProblem } from '../../src/providers/upstream-model-name.js';
import { startAzureOpenAIMock, type AzureOpenAIMock } from '../mocks/azure-openai.js';

// through the registry: the adapter as the gateway gets it, error scrubbing included
const adapter = createAdapterRegistry().AZURE_OPENAI!;
let mock: AzureOpenAIMock;

beforeAll(async () => {
  mock = await startAzureOpenAIMock();
});
afterAll(async () => {
  await mock.close();
  await closeUpstreamAgent();
});
beforeEach(() => {
  mock.reply({});
  mock.requests.length = 0;
});

function opts(over: Partial<CallOptions> = {}): CallOptions {
  return { signal: new AbortController().signal, timeoutMs: 5_000, baseUrl: mock.url, apiKey: mock.apiKey, ...over };
}

const hello: ChatRequest = { model: 'gpt-4o-prod', messages: [{ role: 'USER', content: 'Say hello' }] };

async function failure(p: Promise<unknown>): Promise<UpstreamError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(UpstreamError);
  return e as UpstreamError;
}

async function collect(it: AsyncIterable<StreamChunk>): Promise<StreamChunk[]> {
  const out: StreamChunk[] = [];
  for await (const c of it) out.push(c);
  return out;
}

describe('URL, api-version and credentials', () => {
  it('calls the deployment with the default api-version and the key as api-key', async () => {
    const res = await adapter.chat(hello, opts());
    const r = mock.last();
    expect(r.method).toBe('POST');
    expect(r.path).toBe(`/openai/deployments/gpt-4o-prod/chat/completions?api-version=${DEFAULT_API_VERSION}`);
    expect(r.headers['api-key']).toBe(mock.apiKey);
    expect(r.headers.authorization).toBeUndefined();
    // the body is OpenAI's, from the openai adapter's own request module
    expect(r.body).toEqual({ model: 'gpt-4o-prod', messages: [{ role: 'user', content: 'Say hello' }] });
    expect(res.content).toBe('Hello from the mock.');
    // the model behind the deployment, as Azure reports it
    expect(res.upstreamModel).toBe('gpt-4o-2024-08-06');
    expect(res.finishReason).toBe('STOP');
    expect(res.usage).toMatchObject({ promptTokens: 10, completionTokens: 4, totalTokens: 14, exact: true });
  });

  it('takes settings.apiVersion and sends an Entra ID token as Bearer when authScheme is BEARER', async () => {
    await adapter.chat(hello, opts({ apiKey: mock.bearerToken, settings: { apiVersion: '2025-04-01-preview', authScheme: 'BEARER' } }));
    const r = mock.last();
    expect(r.path).toBe('/openai/deployments/gpt-4o-prod/chat/completions?api-version=2025-04-01-preview');
    expect(r.headers.authorization).toBe(`Bearer ${mock.bearerToken}`);
    expect(r.headers['api-key']).toBeUndefined();
  });

  it('accepts a base URL that already ends in /openai/', async () => {
    await adapter.chat(hello, opts({ baseUrl: `${mock.url}/openai/` }));
    expect(mock.last().path).toBe(`/openai/deployments/gpt-4o-prod/chat/completions?api-version=${DEFAULT_API_VERSION}`);
  });

  it('builds the same URL as the official openai SDK AzureOpenAI client', async () => {
    const client = new AzureOpenAI({ endpoint: mock.url, apiKey: mock.apiKey, apiVersion: DEFAULT_API_VERSION, deployment: 'gpt-4o-prod', maxRetries: 0 });
    const sdk = await client.chat.completions.create({ model: 'gpt-4o-prod', messages: [{ role: 'user', content: 'Say hello' }] });
    // the mock's answer parses as a ChatCompletion in the SDK, too
    expect(sdk.choices[0].message.content).toBe('Hello from the mock.');
    const sdkPath = mock.last().path;
    await adapter.chat(hello, opts());
    expect(mock.last().path).toBe(sdkPath);
  });

  it('puts the deployment in one path segment, whatever it holds', async () => {
    const e = await failure(adapter.chat({ ...hello, model: '../x?y' }, opts()));
    expect(mock.last().path).toBe(`/openai/deployments/..%2Fx%3Fy/chat/completions?api-version=${DEFAULT_API_VERSION}`);
    expect(e.status).toBe(404);
    expect(e.message).toContain('deployment for this resource does not exist');
    expect(e.retryable).toBe(false);
  });

  it('refuses to call without a base URL (a resource has no public default)', async () => {
    const e = await failure(adapter.chat(hello, opts({ baseUrl: undefined })));
    expect(e.retryable).toBe(false);
    expect(e.message).toMatch(/no base URL/);
    expect(mock.requests).toHaveLength(0);
  });

  it('a wrong key is a final 401 whose message does not carry the key', async () => {
    const e = await failure(adapter.chat(hello, opts({ apiKey: 'wrong-key-abcdefghijklmnop' })));
    expect(e.status).toBe(401);
    expect(e.retryable).toBe(false);
    expect(e.message).not.toContain('wrong-key-abcdefghijklmnop');
  });

  it('checks deployment names when a target is configured', () => {
    expect(upstreamModelProblem('AZURE_OPENAI', 'gpt-4o-prod')).toBeUndefined();
    expect(upstreamModelProblem('AZURE_OPENAI', 'my_deploy.v2')).toBeUndefined();
    expect(upstreamModelProblem('AZURE_OPENAI', 'a/b')).toMatch(/deployment name/);
    expect(upstreamModelProblem('AZURE_OPENAI', 'x?api-version=1')).toMatch(/deployment name/);
  });
});

describe('content filters and errors', () => {
  it('maps finish_reason content_filter to CONTENT_FILTER, unary and streamed', async () => {
    mock.reply({ text: 'Partial answer', finishReason: 'content_filter' });
    const res = await adapter.chat(hello, opts());
    expect(res.finishReason).toBe('CONTENT_FILTER');
    const chunks = await collect(adapter.stream(hello, opts()));
    expect(chunks.at(-1)?.finishReason).toBe('CONTENT_FILTER');
    expect(chunks.map((c) => c.delta).join('')).toBe('Partial answer');
  });

  it('a prompt blocked by the content filter (400 content_filter) is final, with Azure\'s message', async () => {
    mock.reply({ fail: { status: 400 }, failCode: 'content_filter' });
    const e = await failure(adapter.chat(hello, opts()));
    expect(e.status).toBe(400);
    expect(e.retryable).toBe(false);
    expect(e.message).toContain("Azure OpenAI's content management policy");
    const s = await failure(collect(adapter.stream(hello, opts())));
    expect(s.status).toBe(400);
    expect(s.retryable).toBe(false);
  });

  it('a 429 is retryable after retry-after-ms (which wins over retry-after)', async () => {
    mock.replyOnce({ fail: { status: 429, retryAfterSeconds: 2 }, retryAfterMs: 1500 });
    const e = await failure(adapter.chat(hello, opts()));
    expect(e.status).toBe(429);
    expect(e.retryable).toBe(true);
    expect(e.retryAfterMs).toBe(1500);
    mock.replyOnce({ fail: { status: 429, retryAfterSeconds: 3 }, retryAfterMs: undefined });
    // retry-after-ms defaults to the seconds × 1000 in the mock; both headers agree then
    expect((await failure(adapter.chat(hello, opts()))).retryAfterMs).toBe(3000);
  });

  it('5xx is retryable', async () => {
    mock.replyOnce({ fail: { status: 503 } });
    const e = await failure(adapter.chat(hello, opts()));
    expect(e.status).toBe(503);
    expect(e.retryable).toBe(true);
    expect(e.provider).toBe('azure-openai');
  });
});

describe('stream', () => {
  it('streams deltas in order, skips the prompt_filter_results chunk and ends with finish reason and usage', async () => {
    mock.reply({ text: 'one two three', usage: { input: 7, output: 3 } });
    const chunks = await collect(adapter.stream(hello, opts()));
    expect(chunks.map((c) => c.delta)).toEqual(['one ', 'two ', 'three', '']);
    expect(chunks.at(-1)).toMatchObject({ finishReason: 'STOP', usage: { promptTokens: 7, completionTokens: 3, exact: true } });
    const sent = mock.last();
    expect(sent.headers.accept).toBe('text/event-stream');
    expect(sent.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
  });

  it('assembles streamed tool calls', async () => {
    mock.reply({ toolCalls: [{ name: 'get_weather', arguments: { city: 'Paris' } }] });
    const chunks = await collect(adapter.stream({ ...hello, tools: [{ name: 'get_weather', parameters: { type: 'object' } }] }, opts()));
    const deltas = chunks.flatMap((c) => c.toolCalls ?? []);
    expect(deltas[0]).toMatchObject({ index: 0, name: 'get_weather' });
    expect(deltas[0].id).toMatch(/^call_/);
    expect(JSON.parse(deltas.map((d) => d.argumentsDelta ?? '').join(''))).toEqual({ city: 'Paris' });
    expect(chunks.at(-1)?.finishReason).toBe('TOOL_CALLS');
  });

  it('cancel closes the upstream connection and ends the iterator', async () => {
    mock.reply({ text: 'a b c d e f g h i j', gapMs: 200 });
    const ac = new AbortController();
    const it = adapter.stream(hello, opts({ signal: ac.signal }))[Symbol.asyncIterator]();
    // the first text chunk, after the filter-results and role chunks
    expect((await it.next()).value).toMatchObject({ delta: 'a ' });
    ac.abort();
    await expect(it.next()).rejects.toBeInstanceOf(UpstreamError);
    await Promise.race([mock.last().closedEarly, new Promise((_, rej) => setTimeout(() => rej(new Error('upstream not closed')), 3_000))]);
  });

  it('a stream cut before [DONE] is a retryable error', async () => {
    mock.reply({ text: 'a b c d', cutAfter: 2 });
    const e = await failure(collect(adapter.stream(hello, opts())));
    expect(e.retryable).toBe(true);
  });
});

describe('embeddings', () => {
  it('calls the deployment\'s embeddings with api-version and returns the vectors in order', async () => {
    const res = await adapter.embed!({ model: 'embed-small', input: ['alpha', 'beta gamma'] }, opts());
    expect(mock.last().path).toBe(`/openai/deployments/embed-small/embeddings?api-version=${DEFAULT_API_VERSION}`);
    expect(mock.last().headers['api-key']).toBe(mock.apiKey);
    expect(res.vectors).toHaveLength(2);
    expect(res.vectors[0]).toHaveLength(8);
    expect(res.upstreamModel).toBe('text-embedding-3-small');
    expect(res.usage).toMatchObject({ promptTokens: 3, exact: true });
  });
});
