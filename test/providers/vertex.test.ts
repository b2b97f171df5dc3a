/* The VERTEX adapter against a mock Vertex AI and token endpoint: service-account tokens, URLs, Gemini and Claude bodies, errors, streams, cancel. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { closeUpstreamAgent } from '../../src/providers/http.js';
import { createAdapterRegistry } from '../../src/providers/registry.js';
import { UpstreamError, type CallOptions, type ChatRequest, type StreamChunk } from '../../src/providers/types.js';
import { upstreamModelProblem } from '../../src/providers/upstream-model-name.js';
import { clearAccessTokens } from '../../src/providers/vertex/access-token.js';
import { createVertexAdapter } from '../../src/providers/vertex/index.js';
import { methodUrl } from '../../src/providers/vertex/endpoint.js';
import { parseServiceAccount } from '../../src/providers/vertex/service-account.js';
import { startVertexMock, VERTEX_PROJECT, type VertexMock } from '../mocks/vertex.js';

// through the registry: the adapter as the gateway gets it, error scrubbing included
const adapter = createAdapterRegistry().VERTEX!;
let mock: VertexMock;

const GEMINI = 'gemini-2.5-flash';
const CLAUDE = 'claude-sonnet-4-5@20250929';

beforeAll(async () => {
  mock = await startVertexMock();
});
afterAll(async () => {
  await mock.close();
  await closeUpstreamAgent();
});
beforeEach(() => {
  clearAccessTokens();
  mock.reply({});
  mock.tokenLifetime(3600);
  mock.failTokens(undefined);
  mock.requests.length = 0;
  mock.tokenRequests.length = 0;
});

function opts(over: Partial<CallOptions> = {}): CallOptions {
  return { signal: new AbortController().signal, timeoutMs: 5_000, baseUrl: mock.url, apiKey: mock.credential, ...over };
}

const req = (model: string, over: Partial<ChatRequest> = {}): ChatRequest => ({ model, messages: [{ role: 'USER', content: 'Say hello' }], ...over });

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

describe('service-account access token', () => {
  it('signs an assertion the token endpoint verifies with the public key, and sends the token as Bearer', async () => {
    await adapter.chat(req(GEMINI), opts());
    expect(mock.tokenRequests).toHaveLength(1);
    expect(mock.tokenRequests[0].claims).toMatchObject({
      iss: `gateway@${VERTEX_PROJECT}.iam.gserviceaccount.com`,
      scope: 'https://www.googleapis.com/auth/cloud-platform',
      aud: 'https://oauth2.googleapis.com/token',
    });
    const r = mock.last();
    expect(r.headers.authorization).toMatch(/^Bearer ya29\.mock-[0-9a-f]{32}$/);
    // the key file never leaves the gateway
    expect(JSON.stringify(r.headers)).not.toContain('PRIVATE KEY');
    expect(r.headers['x-goog-api-key']).toBeUndefined();
  });

  it('caches the token until it nears expiry; concurrent calls share one exchange', async () => {
    await Promise.all([1, 2, 3, 4].map(() => adapter.chat(req(GEMINI), opts())));
    await adapter.chat(req(CLAUDE), opts());
    expect(mock.tokenRequests).toHaveLength(1);
    expect(mock.requests).toHaveLength(5);
    expect(new Set(mock.requests.map((r) => r.headers.authorization)).size).toBe(1);
  });

  it('fetches a new token when the cached one is about to expire', async () => {
    mock.tokenLifetime(30); // inside the one-minute renewal margin
    await adapter.chat(req(GEMINI), opts());
    await adapter.chat(req(GEMINI), opts());
    expect(mock.tokenRequests).toHaveLength(2);
    const [a, b] = mock.requests.map((r) => r.headers.authorization);
    expect(a).not.toBe(b);
  });

  it('a key the token endpoint does not accept is a final 401, without calling the model', async () => {
    const e = await failure(adapter.chat(req(GEMINI), opts({ apiKey: mock.foreignCredential })));
    expect(e.status).toBe(401);
    expect(e.retryable).toBe(false);
    expect(e.provider).toBe('vertex');
    expect(e.message).toContain('invalid_grant: Invalid JWT Signature.');
    expect(e.message).not.toContain('PRIVATE KEY');
    expect(mock.requests).toHaveLength(0);
  });

  it('a failing token endpoint (5xx) is retryable', async () => {
    mock.failTokens(503);
    const e = await failure(adapter.chat(req(GEMINI), opts()));
    expect(e.retryable).toBe(true);
    expect(e.status).toBe(503);
    expect(mock.requests).toHaveLength(0);
  });

  it('a credential that is no service-account key is refused before any request', async () => {
    for (const bad of [undefined, 'not json {', JSON.stringify({ type: 'authorized_user', client_email: 'a@b', private_key: 'x' }), JSON.stringify({ client_email: 'a@b' })]) {
      const e = await failure(adapter.chat(req(GEMINI), opts({ apiKey: bad })));
      expect(e.retryable).toBe(false);
      expect(e.message).toMatch(/credential/);
    }
    expect(mock.tokenRequests).toHaveLength(0);
    expect(mock.requests).toHaveLength(0);
  });

  it('an upstream error quoting a line of the private key loses it (the adapter alone, without the registry\'s scrubbing)', async () => {
    const pem = (JSON.parse(mock.credential) as { private_key: string }).private_key;
    const line = pem.split('\n')[3];
    expect(line.length).toBeGreaterThan(40);
    mock.replyOnce({ fail: { status: 400, message: `cannot parse ${line} here` } });
    const e = await failure(createVertexAdapter().chat(req(GEMINI), opts()));
    expect(e.message).toContain('cannot parse [redacted] here');
    expect(e.message).not.toContain(line);
  });

  it('a token_uri that is not http(s) is refused', () => {
    const key = { ...(JSON.parse(mock.credential) as Record<string, unknown>), token_uri: 'file:///etc/passwd' };
    expect(() => parseServiceAccount(JSON.stringify(key))).toThrow(/token_uri/);
  });

  it('a credential is parsed once: the same key object comes back (its token client found without re-hashing)', () => {
    const first = parseServiceAccount(mock.credential);
    expect(parseServiceAccount(`${mock.credential}`)).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    // a bad credential is not remembered: it is refused every time
    expect(() => parseServiceAccount('{"type":"service_account"}')).toThrow(/client_email/);
    expect(() => parseServiceAccount('{"type":"service_account"}')).toThrow(/client_email/);
  });
});

describe('URLs', () => {
  const key = () => parseServiceAccount(mock.credential);
  const base = (over: Partial<CallOptions>) => ({ signal: new AbortController().signal, timeoutMs: 1, ...over });

  it('defaults to us-central1 and the key\'s project; global has no regional host', () => {
    expect(methodUrl(base({}), key(), GEMINI, 'generateContent')).toBe(
      `https://us-central1-aiplatform.googleapis.com/v1/projects/${VERTEX_PROJECT}/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent`,
    );
    expect(methodUrl(base({ settings: { region: 'global', project: 'other-proj' } }), key(), CLAUDE, 'rawPredict')).toBe(
      'https://aiplatform.googleapis.com/v1/projects/other-proj/locations/global/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict',
    );
    expect(methodUrl(base({ settings: { region: 'europe-west4' } }), key(), `models/${GEMINI}`, 'x')).toMatch(/^https:\/\/europe-west4-aiplatform\.googleapis\.com\/.*\/locations\/europe-west4\/publishers\/google\/models\/gemini-2\.5-flash:x$/);
  });

  it('refuses a location that is no location id, and a call with no project', () => {
    expect(() => methodUrl(base({ settings: { region: 'evil.example.com/x' } }), key(), GEMINI, 'x')).toThrow(UpstreamError);
    const { project_id: _p, ...noProject } = key();
    expect(() => methodUrl(base({}), noProject, GEMINI, 'x')).toThrow(/no project/);
  });

  it('uses settings.project and settings.region in the call', async () => {
    const e = await failure(adapter.chat(req(GEMINI), opts({ settings: { project: 'someone-else', region: 'asia-northeast1' } })));
    expect(mock.last().path).toBe('/v1/projects/someone-else/locations/asia-northeast1/publishers/google/models/gemini-2.5-flash:generateContent');
    expect(e.status).toBe(403);
    expect(e.retryable).toBe(false);
  });

  it('checks Vertex model ids when a target is configured', () => {
    expect(upstreamModelProblem('VERTEX', CLAUDE)).toBeUndefined();
    expect(upstreamModelProblem('VERTEX', 'publishers/google/models/gemini-2.0-flash-001')).toBeUndefined();
    expect(upstreamModelProblem('VERTEX', '../x')).toMatch(/Vertex AI model id/);
    expect(upstreamModelProblem('VERTEX', 'gemini:streamGenerateContent')).toMatch(/Vertex AI model id/);
  });
});

describe('Gemini on Vertex', () => {
  it('chat: generateContent with the Gemini body; text, usage incl. thoughts', async () => {
    mock.reply({ text: 'Hi there', usage: { input: 20, output: 7, reasoning: 5 } });
    const res = await adapter.chat(req(GEMINI, { messages: [{ role: 'SYSTEM', content: 'Be brief.' }, { role: 'USER', content: 'Say hello' }] }), opts());
    const r = mock.last();
    expect(r.path).toBe(`/v1/projects/${VERTEX_PROJECT}/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent`);
    expect(r.body).toEqual({ contents: [{ role: 'user', parts: [{ text: 'Say hello' }] }], systemInstruction: { parts: [{ text: 'Be brief.' }] } });
    expect(res).toMatchObject({ content: 'Hi there', finishReason: 'STOP', upstreamModel: GEMINI });
    // thoughts are output tokens (candidates 2 + thoughts 5)
    expect(res.usage).toMatchObject({ promptTokens: 20, completionTokens: 7, totalTokens: 27, exact: true });
  });

  it('stream: streamGenerateContent?alt=sse, word by word, tool calls, final chunk', async () => {
    mock.reply({ text: 'one two', toolCalls: [{ name: 'lookup', arguments: { q: 'x' } }], usage: { input: 5, output: 9 } });
    const chunks = await collect(adapter.stream(req(GEMINI, { tools: [{ name: 'lookup', parameters: { type: 'object' } }] }), opts()));
    expect(mock.last().path).toMatch(/:streamGenerateContent\?alt=sse$/);
    expect(chunks.map((c) => c.delta).join('')).toBe('one two');
    const calls = chunks.flatMap((c) => c.toolCalls ?? []);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ name: 'lookup', argumentsDelta: '{"q":"x"}' });
    expect(chunks.at(-1)).toMatchObject({ finishReason: 'TOOL_CALLS', usage: { promptTokens: 5, completionTokens: 9 } });
  });

  it('429 RESOURCE_EXHAUSTED is retryable after the advertised delay; 400 is final', async () => {
    mock.replyOnce({ fail: { status: 429, retryAfterSeconds: 2 } });
    const e = await failure(adapter.chat(req(GEMINI), opts()));
    expect(e).toMatchObject({ status: 429, retryable: true, retryAfterMs: 2000, provider: 'vertex' });
    expect(e.message).toContain('Quota exceeded');
    mock.replyOnce({ fail: { status: 400, message: 'Invalid argument.' } });
    expect(await failure(adapter.chat(req(GEMINI), opts()))).toMatchObject({ status: 400, retryable: false });
  });
});

describe('Claude on Vertex', () => {
  it('chat: rawPredict with anthropic_version in the body and no model; Anthropic usage summed', async () => {
    mock.reply({ text: 'Hello!', usage: { input: 30, output: 2, cachedRead: 12, cacheWrite: 8 } });
    const res = await adapter.chat(req(CLAUDE, { maxTokens: 100 }), opts());
    const r = mock.last();
    expect(r.path).toBe(`/v1/projects/${VERTEX_PROJECT}/locations/us-central1/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict`);
    expect(r.body).toEqual({ anthropic_version: 'vertex-2023-10-16', max_tokens: 100, messages: [{ role: 'user', content: [{ type: 'text', text: 'Say hello' }] }] });
    expect(r.headers['x-api-key']).toBeUndefined();
    expect(r.headers['anthropic-version']).toBeUndefined();
    expect(res).toMatchObject({ content: 'Hello!', finishReason: 'STOP', upstreamModel: CLAUDE });
    // input 10 + cache read 12 + cache write 8
    expect(res.usage).toMatchObject({ promptTokens: 30, completionTokens: 2, exact: true });
  });

  it('thinking: an effort budget fits under the caller\'s max_tokens (Claude wants max_tokens > budget_tokens)', async () => {
    // https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size
    await adapter.chat(req(CLAUDE, { maxTokens: 2000, reasoning: { effort: 'HIGH' } }), opts());
    expect(mock.last().body).toMatchObject({ max_tokens: 2000, thinking: { type: 'enabled', budget_tokens: 1999 } });
    await adapter.chat(req(CLAUDE, { maxTokens: 1000, reasoning: { effort: 'HIGH' } }), opts());
    expect(mock.last().body).not.toHaveProperty('thinking');
  });

  it('stream: streamRawPredict with stream: true; text, tool call and final chunk', async () => {
    mock.reply({ text: 'Let me check. ', toolCalls: [{ name: 'get_weather', arguments: { city: 'Paris' } }], usage: { input: 11, output: 6 } });
    const chunks = await collect(adapter.stream(req(CLAUDE, { tools: [{ name: 'get_weather', parameters: { type: 'object' } }] }), opts()));
    const r = mock.last();
    expect(r.path).toMatch(/\/publishers\/anthropic\/models\/claude-sonnet-4-5@20250929:streamRawPredict$/);
    expect(r.body).toMatchObject({ anthropic_version: 'vertex-2023-10-16', stream: true });
    expect(r.body).not.toHaveProperty('model');
    expect(chunks.map((c) => c.delta).join('')).toBe('Let me check. ');
    const calls = chunks.flatMap((c) => c.toolCalls ?? []);
    expect(calls[0]).toMatchObject({ index: 0, name: 'get_weather' });
    expect(JSON.parse(calls.map((c) => c.argumentsDelta ?? '').join(''))).toEqual({ city: 'Paris' });
    expect(chunks.at(-1)).toMatchObject({ finishReason: 'TOOL_CALLS', usage: { promptTokens: 11, completionTokens: 6 } });
  });

  it('overloaded (529, Anthropic\'s error body) is retryable; a cut stream is retryable', async () => {
    mock.replyOnce({ fail: { status: 529, message: 'Overloaded' } });
    expect(await failure(adapter.chat(req(CLAUDE), opts()))).toMatchObject({ status: 529, retryable: true, provider: 'vertex' });
    mock.replyOnce({ text: 'a b c d e', cutAfter: 2 });
    const e = await failure(collect(adapter.stream(req(CLAUDE), opts())));
    expect(e.retryable).toBe(true);
    expect(e.provider).toBe('vertex');
  });

  it('cancel closes the upstream connection and ends the iterator', async () => {
    mock.reply({ text: 'a b c d e f g h', gapMs: 200 });
    const ac = new AbortController();
    const it = adapter.stream(req(CLAUDE), opts({ signal: ac.signal }))[Symbol.asyncIterator]();
    expect((await it.next()).value).toMatchObject({ delta: 'a ' });
    ac.abort();
    await expect(it.next()).rejects.toBeInstanceOf(UpstreamError);
    await Promise.race([mock.last().closedEarly, new Promise((_, rej) => setTimeout(() => rej(new Error('upstream not closed')), 3_000))]);
  });

  it('a call cancelled while its token is being fetched ends at once', async () => {
    const ac = new AbortController();
    const p = adapter.chat(req(CLAUDE), opts({ signal: ac.signal }));
    ac.abort();
    const e = await failure(p);
    expect(e.retryable).toBe(false);
    expect(mock.requests).toHaveLength(0);
  });
});

describe('embeddings', () => {
  it('text-embedding models: one :predict for the inputs, exact token counts from the statistics', async () => {
    const res = await adapter.embed!({ model: 'text-embedding-005', input: ['alpha', 'beta gamma', 'delta epsilon zeta'] }, opts());
    expect(mock.requests).toHaveLength(1);
    const r = mock.last();
    expect(r.path).toBe(`/v1/projects/${VERTEX_PROJECT}/locations/us-central1/publishers/google/models/text-embedding-005:predict`);
    expect(r.body).toEqual({ instances: [{ content: 'alpha' }, { content: 'beta gamma' }, { content: 'delta epsilon zeta' }] });
    expect(res.vectors).toHaveLength(3);
    expect(res.vectors[0]).toHaveLength(8);
    expect(res.usage).toEqual({ promptTokens: 6, completionTokens: 0, totalTokens: 6, exact: true });
  });

  it('gemini-embedding-001 takes one text per request, in order', async () => {
    const res = await adapter.embed!({ model: 'gemini-embedding-001', input: ['one', 'two', 'three'] }, opts());
    expect(mock.requests.map((r) => (r.body as { instances: Array<{ content: string }> }).instances.map((i) => i.content))).toEqual([['one'], ['two'], ['three']]);
    const single = await adapter.embed!({ model: 'text-embedding-005', input: ['two'] }, opts());
    expect(res.vectors[1]).toEqual(single.vectors[0]);
  });

  it('Claude models have no embeddings', async () => {
    const e = await failure(adapter.embed!({ model: CLAUDE, input: ['x'] }, opts()));
    expect(e.retryable).toBe(false);
    expect(mock.requests).toHaveLength(0);
  });
});
