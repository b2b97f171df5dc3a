import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createBedrockAdapter } from '../../src/providers/bedrock/index.js';
import { eventStreamMessages, headerString } from '../../src/providers/bedrock/eventstream.js';
import { parseCredential, signedHeaders, signingRegion } from '../../src/providers/bedrock/sign.js';
import { converseStream } from '../../src/providers/bedrock/stream.js';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { closeUpstreamAgent } from '../../src/providers/http.js';
import { createAdapterRegistry } from '../../src/providers/registry.js';
import { UpstreamError, type CallOptions, type ChatRequest, type StreamChunk } from '../../src/providers/types.js';
import {
  BEDROCK_MOCK_ACCESS_KEY_ID,
  BEDROCK_MOCK_CREDENTIAL,
  BEDROCK_MOCK_SECRET,
  encodeEvent,
  sigV4Signature,
  startBedrockMock,
  type BedrockMock,
} from '../mocks/bedrock.js';

const codec = new EventStreamCodec(toUtf8, fromUtf8);
const MODEL = 'anthropic.claude-3-5-sonnet-20240620-v1:0';
const adapter = createBedrockAdapter();
let mock: BedrockMock;

beforeAll(async () => {
  mock = await startBedrockMock();
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
  return {
    signal: new AbortController().signal,
    timeoutMs: 5_000,
    baseUrl: mock.url,
    apiKey: BEDROCK_MOCK_CREDENTIAL,
    settings: { region: 'us-east-1' },
    ...over,
  };
}

function req(over: Partial<ChatRequest> = {}): ChatRequest {
  return { model: MODEL, messages: [{ role: 'USER', content: 'Hi' }], ...over };
}

async function collect(it: AsyncIterable<StreamChunk>): Promise<StreamChunk[]> {
  const out: StreamChunk[] = [];
  for await (const c of it) out.push(c);
  return out;
}

async function failure(p: Promise<unknown>): Promise<UpstreamError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(UpstreamError);
  return e as UpstreamError;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_, rej) => setTimeout(() => rej(new Error(`${what} did not happen within ${ms}ms`)), ms))]);
}

const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';

describe('bedrock adapter: request mapping', () => {
  it('posts the Converse body to /model/{encoded id}/converse, SigV4-signed for bedrock in the region, the secret nowhere', async () => {
    await adapter.chat(
      req({
        messages: [
          { role: 'SYSTEM', content: 'You are terse.', cacheControl: { type: 'ephemeral' } },
          { role: 'USER', content: null, parts: [{ type: 'TEXT', text: 'What is this?' }, { type: 'IMAGE_URL', imageUrl: `data:image/png;base64,${PNG}` }] },
          {
            role: 'ASSISTANT',
            content: null,
            reasoning: [{ text: 'Let me look.', signature: 'sig-1' }, { text: '', redactedData: 'cmVkYWN0ZWQ=' }],
            toolCalls: [{ id: 'call.1', name: 'lookup', arguments: '{"q":"png"}' }],
          },
          { role: 'TOOL', toolCallId: 'call.1', content: 'a 1x1 PNG' },
          { role: 'USER', content: 'Thanks', cacheControl: { type: 'ephemeral', ttl: '1h' } },
        ],
        maxTokens: 300,
        temperature: 0.2,
        topP: 0.9,
        stop: ['END'],
        seed: 7,
        tools: [{ name: 'lookup', description: 'Looks up', parameters: { type: 'object', properties: { q: { type: 'string' } } }, cacheControl: { type: 'ephemeral' } }],
        toolChoice: 'REQUIRED',
      }),
      opts({ baseUrl: `${mock.url}/` }),
    );
    const r = mock.last();
    expect(r.method).toBe('POST');
    expect(r.path).toBe('/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse');
    expect(r.headers.authorization).toMatch(
      new RegExp(`^AWS4-HMAC-SHA256 Credential=${BEDROCK_MOCK_ACCESS_KEY_ID}/\\d{8}/us-east-1/bedrock/aws4_request, SignedHeaders=[a-z0-9;-]*host[a-z0-9;-]*, Signature=[0-9a-f]{64}$`),
    );
    expect(r.headers['x-amz-date']).toMatch(/^\d{8}T\d{6}Z$/);
    expect(r.headers['x-amz-content-sha256']).toBe(createHash('sha256').update(r.raw).digest('hex'));
    expect(JSON.stringify(r.headers)).not.toContain(BEDROCK_MOCK_SECRET);
    expect(r.raw).not.toContain(BEDROCK_MOCK_SECRET);
    expect(r.body).toEqual({
      system: [{ text: 'You are terse.' }, { cachePoint: { type: 'default' } }],
      messages: [
        {
          role: 'user',
          content: [{ text: 'What is this?' }, { image: { format: 'png', source: { bytes: PNG } } }],
        },
        {
          role: 'assistant',
          content: [
            { reasoningContent: { reasoningText: { text: 'Let me look.', signature: 'sig-1' } } },
            { reasoningContent: { redactedContent: 'cmVkYWN0ZWQ=' } },
            { toolUse: { toolUseId: 'call_1', name: 'lookup', input: { q: 'png' } } },
          ],
        },
        {
          role: 'user',
          content: [
            { toolResult: { toolUseId: 'call_1', content: [{ text: 'a 1x1 PNG' }] } },
            { text: 'Thanks' },
            { cachePoint: { type: 'default', ttl: '1h' } },
          ],
        },
      ],
      inferenceConfig: { maxTokens: 300, temperature: 0.2, topP: 0.9, stopSequences: ['END'] },
      toolConfig: {
        tools: [
          { toolSpec: { name: 'lookup', description: 'Looks up', inputSchema: { json: { type: 'object', properties: { q: { type: 'string' } } } } } },
          { cachePoint: { type: 'default' } },
        ],
        toolChoice: { any: {} },
      },
    });
  });

  it('reasoning on a Claude model is additionalModelRequestFields.thinking (effort → budget, maxTokens above it, no temperature)', async () => {
    await adapter.chat(req({ reasoning: { effort: 'MEDIUM' }, temperature: 0.5 }), opts());
    expect(mock.last().body.additionalModelRequestFields).toEqual({ thinking: { type: 'enabled', budget_tokens: 4096 } });
    expect(mock.last().body.inferenceConfig).toEqual({ maxTokens: 4096 + 4096 });
    await adapter.chat(req({ model: 'us.anthropic.claude-sonnet-4-20250514-v1:0', reasoning: { budgetTokens: 2000 }, maxTokens: 5000 }), opts());
    expect(mock.last().body.additionalModelRequestFields).toEqual({ thinking: { type: 'enabled', budget_tokens: 2000 } });
    expect(mock.last().body.inferenceConfig).toEqual({ maxTokens: 5000 });
    // an effort shrinks under a smaller maxTokens, and thinking stays off when the minimum budget does not fit
    await adapter.chat(req({ reasoning: { effort: 'HIGH' }, maxTokens: 3000 }), opts());
    expect(mock.last().body.additionalModelRequestFields).toEqual({ thinking: { type: 'enabled', budget_tokens: 2999 } });
    await adapter.chat(req({ reasoning: { effort: 'LOW' }, maxTokens: 500 }), opts());
    expect(mock.last().body.additionalModelRequestFields).toBeUndefined();
    // other families take other fields: nothing is sent for them
    await adapter.chat(req({ model: 'amazon.nova-pro-v1:0', reasoning: { effort: 'HIGH' } }), opts());
    expect(mock.last().body.additionalModelRequestFields).toBeUndefined();
  });

  it('Claude thinking: off with a forced tool choice, top_p raised to 0.95, unsigned reasoning not sent back', async () => {
    const tools = [{ name: 'a' }];
    await adapter.chat(req({ reasoning: { effort: 'LOW' }, tools, toolChoice: 'REQUIRED' }), opts());
    expect(mock.last().body.additionalModelRequestFields).toBeUndefined();
    await adapter.chat(req({ reasoning: { effort: 'LOW' }, tools, toolChoice: { name: 'a' } }), opts());
    expect(mock.last().body.additionalModelRequestFields).toBeUndefined();
    await adapter.chat(req({ reasoning: { effort: 'LOW' }, topP: 0.5 }), opts());
    expect(mock.last().body.inferenceConfig).toEqual({ maxTokens: 1024 + 4096, topP: 0.95 });
    await adapter.chat(
      req({
        messages: [
          { role: 'USER', content: 'Q' },
          // reasoning from another provider (no signature), and a block a cache replay closed with ''
          { role: 'ASSISTANT', content: 'A', reasoning: [{ text: 'unsigned' }, { text: 'closed', signature: '' }, { text: 'ok', signature: 's' }] },
          { role: 'USER', content: 'Q2' },
        ],
      }),
      opts(),
    );
    expect(mock.last().body.messages[1]).toEqual({
      role: 'assistant',
      content: [{ reasoningContent: { reasoningText: { text: 'ok', signature: 's' } } }, { text: 'A' }],
    });
  });

  it('tool choice: a named tool, AUTO, and NONE (tools left out, or kept without a choice when the history uses tools)', async () => {
    const tools = [{ name: 'a' }, { name: 'b' }];
    await adapter.chat(req({ tools, toolChoice: { name: 'b' } }), opts());
    expect(mock.last().body.toolConfig.toolChoice).toEqual({ tool: { name: 'b' } });
    expect(mock.last().body.toolConfig.tools[0]).toEqual({ toolSpec: { name: 'a', inputSchema: { json: { type: 'object', properties: {} } } } });
    await adapter.chat(req({ tools, toolChoice: 'AUTO' }), opts());
    expect(mock.last().body.toolConfig.toolChoice).toEqual({ auto: {} });
    await adapter.chat(req({ tools, toolChoice: 'NONE' }), opts());
    expect(mock.last().body.toolConfig).toBeUndefined();
    await adapter.chat(
      req({
        tools,
        toolChoice: 'NONE',
        messages: [
          { role: 'USER', content: 'go' },
          { role: 'ASSISTANT', content: null, toolCalls: [{ id: 't1', name: 'a', arguments: '{}' }] },
          { role: 'TOOL', toolCallId: 't1', content: 'done' },
        ],
      }),
      opts(),
    );
    expect(mock.last().body.toolConfig).toEqual({ tools: tools.map((t) => ({ toolSpec: { name: t.name, inputSchema: { json: { type: 'object', properties: {} } } } })) });
  });

  it('JSON mode asks in the system prompt; consecutive user messages merge into one turn', async () => {
    await adapter.chat(req({ jsonMode: true, messages: [{ role: 'USER', content: 'a' }, { role: 'USER', content: 'b' }] }), opts());
    expect(mock.last().body.system).toHaveLength(1);
    expect(mock.last().body.system[0].text).toMatch(/JSON/);
    expect(mock.last().body.messages).toEqual([{ role: 'user', content: [{ text: 'a' }, { text: 'b' }] }]);
  });

  it('an http image URL is refused before any request (Converse takes bytes), naming the field; not retryable', async () => {
    const e = await failure(
      adapter.chat(req({ messages: [{ role: 'USER', content: null, parts: [{ type: 'IMAGE_URL', imageUrl: 'https://example.com/cat.png' }] }] }), opts()),
    );
    expect(e.retryable).toBe(false);
    expect(e.status).toBe(400);
    expect(e.message).toContain('messages[0].parts[0].imageUrl');
    const bmp = await failure(
      adapter.chat(req({ messages: [{ role: 'USER', content: null, parts: [{ type: 'IMAGE_URL', imageUrl: 'data:image/bmp;base64,Qk0=' }] }] }), opts()),
    );
    expect(bmp.message).toContain('image/bmp');
    expect(mock.requests).toHaveLength(0);
  });

  it('s3:// image URLs are refused like web URLs (no s3Location: the gateway\'s role would read them), nothing sent', async () => {
    const e = await failure(adapter.chat(req({ messages: [{ role: 'USER', content: null, parts: [{ type: 'IMAGE_URL', imageUrl: 's3://bucket/cat.webp' }] }] }), opts()));
    expect(e.retryable).toBe(false);
    expect(e.message).toContain('messages[0].parts[0].imageUrl');
    expect(mock.requests).toHaveLength(0);
  });

  it('takes the signing region only from a whole bedrock-runtime host', () => {
    expect(signingRegion(undefined, 'bedrock-runtime.eu-west-3.amazonaws.com')).toBe('eu-west-3');
    expect(signingRegion(undefined, 'bedrock-runtime-fips.us-east-1.amazonaws.com:8443')).toBe('us-east-1');
    expect(() => signingRegion(undefined, 'bedrock-runtime.us-east-1.amazonaws.com.evil.example')).toThrow(/settings\.region/);
  });

  it('a malformed credential or a missing region fails before any request, without echoing the credential', async () => {
    const e = await failure(adapter.chat(req(), opts({ apiKey: 'just-a-secret-value' })));
    expect(e.retryable).toBe(false);
    expect(e.message).not.toContain('just-a-secret-value');
    const r = await failure(adapter.chat(req(), opts({ baseUrl: undefined, settings: {} })));
    expect(r.message).toContain('settings.region');
    expect(mock.requests).toHaveLength(0);
    expect(parseCredential('AKID:sec/ret+x:tok=en')).toEqual({ accessKeyId: 'AKID', secretAccessKey: 'sec/ret+x', sessionToken: 'tok=en' });
  });
});

describe('bedrock mock: the SigV4 check', () => {
  it('computes the AWS test suite get-vanilla signature', () => {
    const { signature } = sigV4Signature({
      method: 'GET',
      path: '/',
      query: '',
      headers: { host: 'example.amazonaws.com', 'x-amz-date': '20150830T123600Z' },
      signedHeaders: ['host', 'x-amz-date'],
      body: '',
      amzDate: '20150830T123600Z',
      region: 'us-east-1',
      service: 'service',
      secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
    });
    expect(signature).toBe('5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31');
  });

  it('accepts the adapter signature and rejects a wrong secret with 403 InvalidSignatureException, not retryable, secret not echoed', async () => {
    await adapter.chat(req(), opts());
    expect(mock.lastSignatureError).toBeUndefined();
    const wrong = `${BEDROCK_MOCK_ACCESS_KEY_ID}:not-the-secret-0123456789`;
    const e = await failure(adapter.chat(req(), opts({ apiKey: wrong })));
    expect(e.status).toBe(403);
    expect(e.retryable).toBe(false);
    expect(e.message).toContain('InvalidSignatureException');
    expect(e.message).toContain('The request signature we calculated does not match');
    expect(e.message).not.toContain('not-the-secret');
    const s = await failure(collect(adapter.stream(req(), opts({ apiKey: wrong }))));
    expect(s.status).toBe(403);
  });

  it('rejects a body changed after signing, an unknown key and another region', async () => {
    const url = new URL(`${mock.url}/model/${encodeURIComponent(MODEL)}/converse`);
    const body = JSON.stringify({ messages: [{ role: 'user', content: [{ text: 'Hi' }] }] });
    const cred = parseCredential(BEDROCK_MOCK_CREDENTIAL);
    const headers = await signedHeaders(url, body, cred, 'us-east-1', 'application/json');
    const send = (b: string, h = headers) => fetch(url, { method: 'POST', headers: h, body: b });
    expect((await send(body)).status).toBe(200);
    const tampered = await send(body.replace('Hi', 'Ho'));
    expect(tampered.status).toBe(403);
    expect(tampered.headers.get('x-amzn-errortype')).toMatch(/^InvalidSignatureException/);
    expect(((await tampered.json()) as { message: string }).message).toMatch(/^The request signature we calculated does not match/);

    const unknown = await failure(adapter.chat(req(), opts({ apiKey: `AKIAUNKNOWN0000000:${BEDROCK_MOCK_SECRET}` })));
    expect(unknown.status).toBe(403);
    expect(unknown.message).toContain('UnrecognizedClientException');
    const region = await failure(adapter.chat(req(), opts({ settings: { region: 'eu-west-1' } })));
    expect(region.status).toBe(403);
    expect(mock.lastSignatureError).toBe('region eu-west-1');
  });

  it('signs a session token (x-amz-security-token) when the credential has one', async () => {
    const m = await startBedrockMock({ credentials: [{ accessKeyId: 'ASIATEMP', secretAccessKey: 'tempsecret', sessionToken: 'FQoGZXIvYXdzEXAMPLE/token+=' }] });
    try {
      const res = await adapter.chat(req(), opts({ baseUrl: m.url, apiKey: 'ASIATEMP:tempsecret:FQoGZXIvYXdzEXAMPLE/token+=' }));
      expect(res.content).toBe('Hello from the mock.');
      expect(m.last().headers['x-amz-security-token']).toBe('FQoGZXIvYXdzEXAMPLE/token+=');
      const e = await failure(adapter.chat(req(), opts({ baseUrl: m.url, apiKey: 'ASIATEMP:tempsecret' })));
      expect(e.status).toBe(403);
    } finally {
      await m.close();
    }
  });
});

describe('bedrock adapter: unary', () => {
  it('maps text, stop reason and usage with cache read and write (inputTokens is the uncached part)', async () => {
    mock.reply({ text: 'Hi there', usage: { input: 100, output: 7, cachedRead: 60, cacheWrite: 30 } });
    const res = await adapter.chat(req(), opts());
    expect(res.content).toBe('Hi there');
    expect(res.finishReason).toBe('STOP');
    expect(res.upstreamModel).toBe(MODEL);
    expect(res.id).toMatch(/^bedrock-/);
    expect(res.usage).toEqual({ promptTokens: 100, completionTokens: 7, totalTokens: 107, cachedReadTokens: 60, cacheWriteTokens: 30, exact: true });
  });

  it('parses tool calls and reasoning blocks; stop reasons map', async () => {
    mock.reply({ text: '', toolCalls: [{ name: 'get_weather', arguments: { city: 'Paris' } }], reasoning: { text: 'Need weather.', signature: 'sig' } });
    const res = await adapter.chat(req(), opts());
    expect(res.content).toBeNull();
    expect(res.finishReason).toBe('TOOL_CALLS');
    expect(res.toolCalls).toHaveLength(1);
    expect(res.toolCalls[0].id).toMatch(/^tooluse_/);
    expect(res.toolCalls[0].name).toBe('get_weather');
    expect(JSON.parse(res.toolCalls[0].arguments)).toEqual({ city: 'Paris' });
    expect(res.reasoning).toEqual([{ text: 'Need weather.', signature: 'sig' }]);
    for (const [stopReason, want] of [
      ['max_tokens', 'LENGTH'],
      ['guardrail_intervened', 'CONTENT_FILTER'],
      ['content_filtered', 'CONTENT_FILTER'],
      ['stop_sequence', 'STOP'],
    ] as const) {
      mock.reply({ text: 'x', stopReason });
      expect((await adapter.chat(req(), opts())).finishReason).toBe(want);
    }
  });
});

describe('bedrock adapter: errors', () => {
  const cases: Array<[number, string | undefined, boolean]> = [
    [400, undefined, false], // ValidationException
    [403, undefined, false], // AccessDeniedException
    [404, undefined, false], // ResourceNotFoundException
    [424, undefined, false], // ModelErrorException
    [429, undefined, true], // ThrottlingException
    [429, 'ModelNotReadyException', true],
    [408, undefined, true], // ModelTimeoutException
    [500, undefined, true], // InternalServerException
    [503, undefined, true], // ServiceUnavailableException
  ];
  it.each(cases)('HTTP %i %s → retryable %s, with the error name and message', async (status, failType, retryable) => {
    mock.reply({ fail: { status, message: `mock says ${status}` }, failType });
    const e = await failure(adapter.chat(req(), opts()));
    expect(e.status).toBe(status);
    expect(e.retryable).toBe(retryable);
    expect(e.message).toContain(`mock says ${status}`);
    expect(e.message).toMatch(/[A-Z][a-zA-Z]+Exception/);
    if (failType) expect(e.message).toContain(failType);
  });

  it('a 429 with retry-after carries retryAfterMs; the stream call fails the same way', async () => {
    mock.reply({ fail: { status: 429, message: 'Too many requests, please wait before trying again.', retryAfterSeconds: 2 } });
    const e = await failure(adapter.chat(req(), opts()));
    expect(e.message).toContain('ThrottlingException');
    expect(e.retryAfterMs).toBe(2000);
    const s = await failure(collect(adapter.stream(req(), opts())));
    expect(s.status).toBe(429);
    expect(s.retryable).toBe(true);
  });

  it('a server that never answers times out (retryable, timeout)', async () => {
    mock.reply({ hang: true });
    const e = await withTimeout(failure(adapter.chat(req(), opts({ timeoutMs: 300 }))), 3_000, 'timeout');
    expect(e.timeout).toBe(true);
    expect(e.retryable).toBe(true);
  });

  it('the registry serves BEDROCK and scrubs the credential from error messages', async () => {
    const registry = createAdapterRegistry();
    expect(registry.BEDROCK).toBeDefined();
    mock.reply({ fail: { status: 400, message: `bad key ${BEDROCK_MOCK_SECRET}` } });
    const e = await failure(registry.BEDROCK!.chat(req(), opts()));
    expect(e.message).not.toContain(BEDROCK_MOCK_SECRET);
  });
});

describe('bedrock adapter: ConverseStream', () => {
  it('decodes the event stream into text deltas, then one final chunk with finish reason and usage (cache tokens)', async () => {
    mock.reply({ text: 'one two three', usage: { input: 50, output: 3, cachedRead: 40 } });
    const chunks = await collect(adapter.stream(req(), opts()));
    expect(mock.last().path).toBe('/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream');
    expect(mock.last().headers.accept).toBe('application/vnd.amazon.eventstream');
    expect(chunks.filter((c) => c.delta).map((c) => c.delta)).toEqual(['one ', 'two ', 'three']);
    const last = chunks[chunks.length - 1];
    expect(chunks.filter((c) => c.finishReason)).toHaveLength(1);
    expect(last.finishReason).toBe('STOP');
    expect(last.usage).toEqual({ promptTokens: 50, completionTokens: 3, totalTokens: 53, cachedReadTokens: 40, exact: true });
  });

  it('events split across TCP chunks decode the same', async () => {
    mock.reply({ text: 'split me please', splitEvents: true });
    const chunks = await collect(adapter.stream(req(), opts()));
    expect(chunks.map((c) => c.delta).join('')).toBe('split me please');
    expect(chunks[chunks.length - 1].finishReason).toBe('STOP');
  });

  it('the framer yields each message once its last byte arrives, fed one byte at a time or many messages at once', async () => {
    const a = encodeEvent({ type: 'contentBlockDelta', body: { contentBlockIndex: 0, delta: { text: 'x' } } });
    const b = encodeEvent({ type: 'messageStop', body: { stopReason: 'end_turn' } });
    const all = new Uint8Array([...a, ...b]);
    async function* bytewise() {
      for (const byte of all) yield new Uint8Array([byte]);
    }
    async function* whole() {
      yield all;
    }
    for (const source of [bytewise, whole]) {
      const types: Array<string | undefined> = [];
      for await (const m of eventStreamMessages(source())) types.push(headerString(m, ':event-type'));
      expect(types).toEqual(['contentBlockDelta', 'messageStop']);
    }
    const corrupt = new Uint8Array(a);
    corrupt[corrupt.length - 6] ^= 0xff; // a body byte: the message CRC no longer matches
    async function* bad() {
      yield corrupt;
    }
    const e = await failure(collect(eventStreamMessages(bad()) as AsyncIterable<never>));
    expect(e.retryable).toBe(true);
    expect(e.message).toContain('malformed event stream');
  });

  it('tool calls stream as id/name then argument deltas that assemble; a call without arguments gets {}', async () => {
    mock.reply({ text: 'Checking.', toolCalls: [{ name: 'get_weather', arguments: { city: 'Paris' } }, { name: 'get_time', arguments: {} }] });
    const chunks = await collect(adapter.stream(req({ tools: [{ name: 'get_weather' }, { name: 'get_time' }] }), opts()));
    const deltas = chunks.flatMap((c) => c.toolCalls ?? []);
    const args = (i: number) =>
      deltas
        .filter((d) => d.index === i)
        .map((d) => d.argumentsDelta ?? '')
        .join('');
    expect(deltas.filter((d) => d.index === 0 && d.argumentsDelta).length).toBe(2);
    expect(deltas.find((d) => d.index === 0 && d.id)).toMatchObject({ name: 'get_weather' });
    expect(JSON.parse(args(0))).toEqual({ city: 'Paris' });
    expect(deltas.find((d) => d.index === 1 && d.id)).toMatchObject({ name: 'get_time' });
    expect(JSON.parse(args(1))).toEqual({});
    expect(chunks[chunks.length - 1].finishReason).toBe('TOOL_CALLS');
  });

  it('reasoning streams as deltas then its signature; a redacted block as redactedData', async () => {
    mock.reply({ text: 'Answer.', reasoning: { text: 'think think', signature: 'sig-9' } });
    const chunks = await collect(adapter.stream(req(), opts()));
    const r = chunks.filter((c) => c.reasoning).map((c) => c.reasoning);
    expect(r).toEqual([{ delta: 'think ' }, { delta: 'think' }, { signature: 'sig-9' }]);
    mock.reply({ text: 'Answer.', reasoning: { redacted: 'b3BhcXVl' } });
    const red = await collect(adapter.stream(req(), opts()));
    expect(red.filter((c) => c.reasoning).map((c) => c.reasoning)).toEqual([{ redactedData: 'b3BhcXVl' }]);
  });

  it('without a metadata event the final chunk comes at the end with an estimate (exact: false)', async () => {
    mock.reply({ text: 'a b', noMetadata: true });
    const chunks = await collect(adapter.stream(req(), opts()));
    const last = chunks[chunks.length - 1];
    expect(last.finishReason).toBe('STOP');
    expect(last.usage?.exact).toBe(false);
  });

  it.each([
    ['modelStreamErrorException', true, 424],
    ['throttlingException', true, 429],
    ['internalServerException', true, 500],
    ['serviceUnavailableException', true, 503],
    ['validationException', false, 400],
  ] as const)('an in-stream %s is an UpstreamError (retryable %s, status %i) after the text before it', async (type, retryable, status) => {
    mock.reply({ text: 'a b c', streamException: { type, message: 'The stream broke.' } });
    const chunks: StreamChunk[] = [];
    const e = await failure(
      (async () => {
        for await (const c of adapter.stream(req(), opts())) chunks.push(c);
      })(),
    );
    expect(chunks.map((c) => c.delta)).toEqual(['a ']);
    expect(e.retryable).toBe(retryable);
    expect(e.status).toBe(status);
    expect(e.message).toContain('The stream broke.');
  });

  it('a protocol-level error message (:message-type error, :error-code / :error-message headers) fails the stream', async () => {
    const frame = codec.encode({
      headers: {
        ':message-type': { type: 'string', value: 'error' },
        ':error-code': { type: 'string', value: 'InternalFailure' },
        ':error-message': { type: 'string', value: 'the event stream failed' },
      },
      body: new Uint8Array(0),
    });
    async function* source() {
      yield frame;
    }
    const e = await failure(collect(converseStream(eventStreamMessages(source()), req())));
    expect(e.retryable).toBe(true);
    expect(e.message).toContain('InternalFailure');
    expect(e.message).toContain('the event stream failed');
  });

  it('a stream cut mid-way throws a retryable UpstreamError instead of hanging', async () => {
    mock.reply({ text: 'a b c d', cutAfter: 2 });
    const e = await withTimeout(failure(collect(adapter.stream(req(), opts()))), 3_000, 'stream failure');
    expect(e.retryable).toBe(true);
  });

  it('a stalled stream times out (retryable, timeout)', async () => {
    mock.reply({ text: 'a b c d', stallAfter: 1 });
    const e = await withTimeout(failure(collect(adapter.stream(req(), opts({ timeoutMs: 300 })))), 3_000, 'stall timeout');
    expect(e.timeout).toBe(true);
    expect(e.retryable).toBe(true);
  });

  it('aborting the signal closes the upstream connection and ends the iterator', async () => {
    mock.reply({ text: 'a b c d e f g h i j', gapMs: 100 });
    const ac = new AbortController();
    const it = adapter.stream(req(), opts({ signal: ac.signal }))[Symbol.asyncIterator]();
    let first = await it.next();
    while (!first.done && !first.value.delta) first = await it.next();
    expect(first.value.delta).toBe('a ');
    ac.abort();
    const next = await it.next().then(
      (r) => r,
      (e: unknown) => e,
    );
    if (!(next instanceof Error)) expect(next).toEqual({ done: true, value: undefined });
    await withTimeout(mock.last().closedEarly, 1_000, 'upstream connection close');
  });
});
