/**
 * Issue 26, call log at FULL: what the upstream got and what it answered are stored (unary, streamed, tool calls,
 * embeddings), placeholders stay in place of redacted PII, large bodies are compressed; the level rule; the
 * attempts timeline of a failover and of a retry.
 */
import { sql } from 'drizzle-orm';
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { effectiveLogLevel } from '../../src/call-log/level.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import type { AnyJson } from '../kit/json.js';
import { mockError, startOpenAIMock, type OpenAIMock } from '../mocks/openai.js';
import { chat, chatOk, createModel, createProvider, ok, streamAll, subscribeChat, textOf, uniq, withTimeout, wsClient } from '../gateway/helpers.js';
import { callLogsOf, dumpDatabase, keyWithLevel, mockModel, query, teamWithLevel } from './kit.js';

let gw: TestGateway;
let mock: OpenAIMock;
let ws: Client | undefined;

beforeAll(async () => {
  [gw, mock] = await Promise.all([startGateway({}, { policy: { backoffBaseMs: 5, backoffMaxMs: 20 } }), startOpenAIMock()]);
});

afterAll(async () => {
  await ws?.dispose();
  await gw?.stop();
  await mock?.close();
});

const TOOLS = [
  { name: 'get_weather', description: 'Weather of a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
];

/** The mock's request in the gateway's own terms, to compare with the stored request. */
function sentMessages(body: AnyJson): Array<{ role: string; content: string | null }> {
  return body.messages.map((m: AnyJson) => ({ role: String(m.role).toUpperCase(), content: m.content ?? null }));
}

describe('FULL', () => {
  it('stores the request the upstream got and the answer it sent (unary, with tools and parameters)', async () => {
    const model = await mockModel(gw, mock, 'FULL');
    const key = await keyWithLevel(gw, null);
    mock.replyOnce({ text: 'Sunny over the harbour today', usage: { prompt_tokens: 23, completion_tokens: 5 } });
    const res = await chat(
      gw,
      {
        model,
        messages: [
          { role: 'SYSTEM', content: 'You are terse.' },
          { role: 'USER', content: 'How is the weather in Lisbon?' },
        ],
        temperature: 0.3,
        topP: 0.9,
        maxTokens: 77,
        tools: TOOLS,
        stop: ['END'],
      },
      key.secret,
    );
    const out = ok(res).chat;
    const sent = mock.chatRequests().at(-1)!.body;
    const [row] = await callLogsOf(gw, model, 1);
    expect(row).toMatchObject({ id: out.id, level: 'FULL', status: 'OK', api_key_id: key.uuid, truncated: false, request_id: res.headers.get('x-request-id') });
    expect(row.request.messages.map((m: AnyJson) => ({ role: m.role, content: m.content }))).toEqual(sentMessages(sent));
    expect(row.request.tools).toEqual(sent.tools.map((t: AnyJson) => ({ name: t.function.name, description: t.function.description, parameters: t.function.parameters })));
    expect(row.request).toMatchObject({ temperature: sent.temperature, topP: sent.top_p, maxTokens: sent.max_tokens ?? sent.max_completion_tokens, stop: sent.stop });
    expect(row.response).toMatchObject({ content: 'Sunny over the harbour today', toolCalls: [], finishReason: 'STOP' });
    expect(row.response.usage).toMatchObject({ promptTokens: 23, completionTokens: 5 });
    expect(row.parameters).toMatchObject({ streamed: false, messageCount: 2, roles: ['SYSTEM', 'USER'], temperature: 0.3, maxTokens: 77, tools: ['get_weather'], stopCount: 1 });
    expect(row.body_bytes).toBe(Buffer.byteLength(JSON.stringify(row.request)) + Buffer.byteLength(JSON.stringify(row.response)));
    // the words of the prompt and of the answer are searchable, exactly as written ('simple': no stemming)
    const found = await query(gw, sql`select id from call_logs where search @@ websearch_to_tsquery('simple', 'lisbon harbour') and id = ${out.id}::uuid`);
    expect(found).toHaveLength(1);
  });

  it('stores a tool call as the upstream sent it', async () => {
    const model = await mockModel(gw, mock, 'FULL');
    mock.replyOnce({ toolCalls: [{ id: 'call_abc', name: 'get_weather', arguments: '{"city":"Porto"}' }], usage: { prompt_tokens: 11, completion_tokens: 9 } });
    const out = await chatOk(gw, { model, messages: [{ role: 'USER', content: 'Weather in Porto?' }], tools: TOOLS, toolChoiceMode: 'REQUIRED' });
    const [row] = await callLogsOf(gw, model, 1);
    expect(row.response).toMatchObject({ content: null, toolCalls: [{ id: 'call_abc', name: 'get_weather', arguments: '{"city":"Porto"}' }], finishReason: 'TOOL_CALLS' });
    expect(row.response.usage).toMatchObject({ promptTokens: 11, completionTokens: 9 });
    expect(row.request.toolChoice).toBe('REQUIRED');
    expect(out.message.toolCalls[0].arguments).toBe('{"city":"Porto"}');
  });

  it('stores a streamed answer assembled (graphql-ws), and what a broken stream had sent', async () => {
    const model = await mockModel(gw, mock, 'FULL');
    ws ??= wsClient(gw, gw.adminKey);
    mock.replyOnce({ chunks: ['Once', ' upon', ' a', ' midnight'], usage: { prompt_tokens: 8, completion_tokens: 4 } });
    const done = await streamAll(ws, { model, messages: [{ role: 'USER', content: 'Tell a tale' }] });
    expect(textOf(done.chunks)).toBe('Once upon a midnight');
    const [row] = await callLogsOf(gw, model, 1);
    expect(row.parameters.streamed).toBe(true);
    expect(row.request.messages[0].content).toBe('Tell a tale');
    expect(row.response).toMatchObject({ content: 'Once upon a midnight', finishReason: 'STOP' });
    expect(row.response.usage).toMatchObject({ promptTokens: 8, completionTokens: 4 });

    // the upstream breaks after two pieces: the log keeps what came (and was relayed), the status says ERROR
    // events: role, 'Half', ' a', then the socket is destroyed (the gap lets each event go out first)
    mock.replyOnce({ chunks: ['Half', ' a', ' story', ' never', ' told'], cutAfter: 3, gapMs: 10 });
    const broken = await streamAll(ws, { model, messages: [{ role: 'USER', content: 'Another tale' }] });
    const rows = await callLogsOf(gw, model, 2);
    expect(rows).toHaveLength(2);
    expect(rows[1].status).toBe('ERROR');
    expect(rows[1].response.partial).toBe(true);
    expect(rows[1].response.content).toBe(textOf(broken.chunks));
    expect(rows[1].response.content).toBe('Half a');
    // the held stream attempt ended when the stream broke: its timeline says so
    expect(rows[1].attempts).toHaveLength(1);
    expect(rows[1].attempts[0]).toMatchObject({ status: 200, outcome: 'ERROR' });
  });

  it('stores what a stream the client left had received, and says the attempt was cancelled', async () => {
    const model = await mockModel(gw, mock, 'FULL');
    ws ??= wsClient(gw, gw.adminKey);
    mock.replyOnce({ chunks: ['Begun', ' then', ' much', ' more'], gapMs: 400 });
    const run = subscribeChat(ws, { model, messages: [{ role: 'USER', content: 'Start and stop' }] });
    expect((await withTimeout(run.firstChunk, 3000, 'the first chunk')).delta).toBe('Begun');
    run.unsubscribe();
    const [row] = await callLogsOf(gw, model, 1);
    expect(row.status).toBe('CANCELLED');
    expect(row.response).toMatchObject({ content: 'Begun', partial: true });
    expect(row.attempts).toEqual([expect.objectContaining({ status: 200, outcome: 'CANCELLED' })]);
  });

  it('stores a REST stream (SSE) assembled', async () => {
    const model = await mockModel(gw, mock, 'FULL');
    mock.replyOnce({ chunks: ['Rest', 'ful', ' reply'] });
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'Say it over SSE' }] }),
    });
    expect(res.status).toBe(200);
    await res.text();
    const [row] = await callLogsOf(gw, model, 1);
    expect(row.response.content).toBe('Restful reply');
    expect(row.request.messages[0]).toMatchObject({ role: 'USER', content: 'Say it over SSE' });
    expect(row.request_id).toBe(res.headers.get('x-request-id'));
  });

  it('stores an embedding call\'s inputs and the vectors\' shape, never the vectors', async () => {
    const model = await mockModel(gw, mock, 'FULL');
    const res = await gw.gql('mutation($i: EmbedInput!) { embed(input: $i) { model } }', { i: { model, input: ['alpha text', 'beta text'] } });
    expect(res.errors).toBeUndefined();
    const [row] = await callLogsOf(gw, model, 1);
    expect(row.request).toEqual({ input: ['alpha text', 'beta text'] });
    expect(row.response).toEqual({ dimensions: 8, count: 2 });
    expect(row.parameters).toEqual({ inputCount: 2 });
  });

  it('keeps the placeholder of PII redacted on input, though the caller gets the value restored', async () => {
    const policy = uniq('cl-pii');
    ok(await gw.gql('mutation($i: CreateGuardrailPolicyInput!) { createGuardrailPolicy(input: $i) { id } }', { i: { name: policy, input: { pii: { kinds: ['EMAIL'], action: 'REDACT', restore: true } } } }));
    const model = await mockModel(gw, mock, 'FULL');
    const key = await keyWithLevel(gw, null, { guardrailPolicies: [policy] });
    const email = 'marguerite.quux@example.org';
    // the model echoes what it got: the placeholder
    mock.reply((req) => ({ text: `I will write to ${String(req.body.messages.at(-1).content).replace('Please mail ', '')}` }));
    try {
      const out = (await chatOk(gw, { model, messages: [{ role: 'USER', content: `Please mail ${email}` }] }, key.secret)).message.content;
      expect(out).toBe(`I will write to ${email}`);
      ws ??= wsClient(gw, gw.adminKey);
      const streamKey = await keyWithLevel(gw, null, { guardrailPolicies: [policy] });
      const streamed = await streamAll(wsClient(gw, streamKey.secret), { model, messages: [{ role: 'USER', content: `Please mail ${email}` }] });
      expect(textOf(streamed.chunks)).toBe(`I will write to ${email}`);
    } finally {
      mock.reply({});
    }
    const rows = await callLogsOf(gw, model, 2);
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(row.request.messages[0].content).toBe('Please mail [EMAIL_1]');
      expect(row.response.content).toBe('I will write to [EMAIL_1]');
    }
    expect(await dumpDatabase(gw)).not.toContain('marguerite.quux');
  });

  it('leaves large bodies to PostgreSQL compression (TOAST)', async () => {
    const model = await mockModel(gw, mock, 'FULL');
    const big = Array.from({ length: 20_000 }, (_, i) => `word${i % 50} filler`).join(' ');
    expect(big.length).toBeGreaterThan(200_000);
    const out = await chatOk(gw, { model, messages: [{ role: 'USER', content: big }] });
    await callLogsOf(gw, model, 1);
    const [sizes] = await query<{ stored: number; text: number; truncated: boolean }>(
      gw,
      sql`select pg_column_size(request) as stored, octet_length(request::text) as text, truncated from call_logs where id = ${out.id}::uuid`,
    );
    expect(sizes.truncated).toBe(false);
    expect(Number(sizes.text)).toBeGreaterThan(200_000);
    expect(Number(sizes.stored)).toBeLessThan(Number(sizes.text) / 2);
  });
});

describe('level', () => {
  it('is the lowest level set on the key, its team and the model', () => {
    expect(effectiveLogLevel(null, null, null)).toBe('NONE');
    expect(effectiveLogLevel('FULL', null, 'METADATA')).toBe('METADATA');
    expect(effectiveLogLevel(null, 'FULL', null)).toBe('FULL');
    expect(effectiveLogLevel('FULL', 'NONE', 'FULL')).toBe('NONE');
    expect(effectiveLogLevel('METADATA', undefined, 'FULL')).toBe('METADATA');
    expect(effectiveLogLevel('SOMETHING', null, null)).toBe('NONE');
  });

  it('key FULL and model METADATA give METADATA; only the team set gives the team\'s; none set, no row', async () => {
    const capped = await mockModel(gw, mock, 'METADATA');
    const fullKey = await keyWithLevel(gw, 'FULL');
    await chatOk(gw, { model: capped, messages: [{ role: 'USER', content: 'capped call' }] }, fullKey.secret);

    const unset = await mockModel(gw, mock, null);
    const team = await teamWithLevel(gw, 'FULL');
    const teamKey = await keyWithLevel(gw, null, { team: team.id });
    const teamCall = await chatOk(gw, { model: unset, messages: [{ role: 'USER', content: 'team call' }] }, teamKey.secret);
    const plainKey = await keyWithLevel(gw, null);
    await chatOk(gw, { model: unset, messages: [{ role: 'USER', content: 'unlogged call' }] }, plainKey.secret);

    const [cappedRow] = await callLogsOf(gw, capped, 1);
    expect(cappedRow).toMatchObject({ level: 'METADATA', request: null, response: null, search: null, body_bytes: 0 });
    await gw.flushUsage();
    const rows = await callLogsOf(gw, unset, 1);
    expect(rows.map((r) => [r.id, r.level, r.team_id !== null])).toEqual([[teamCall.id, 'FULL', true]]);
    expect(rows[0].response.content).toBe('Hello from the mock!');
  });
});

describe('attempts timeline', () => {
  it('shows a failover: the 500 then the answer, with sane times', async () => {
    const provider = uniq('cl-openai');
    await createProvider(gw, { name: provider, kind: 'OPENAI', baseUrl: mock.baseUrl, apiKey: 'sk-test' });
    const model = uniq('cl-failover');
    await createModel(gw, {
      name: model,
      targets: [
        { provider, upstreamModel: `${model}-a`, priority: 0 },
        { provider, upstreamModel: `${model}-b`, priority: 1 },
      ],
    });
    await query(gw, sql`update models set log_bodies = 'METADATA' where name = ${model}`);
    mock.replyOnce({ ...mockError(500, { message: 'secret prompt echo' }), delayMs: 30 }, { delayMs: 40 });
    const t0 = Date.now();
    const out = await chatOk(gw, { model, messages: [{ role: 'USER', content: 'fail over please' }] });
    const took = Date.now() - t0;
    expect(out.attempts).toBe(2);
    const [row] = await callLogsOf(gw, model, 1);
    const [a, b] = row.attempts;
    expect(row.attempts).toHaveLength(2);
    expect(a).toMatchObject({ attempt: 1, model, provider, upstreamModel: `${model}-a`, status: 500, outcome: 'ERROR', error: 'upstream returned 500', waitMs: 0 });
    expect(b).toMatchObject({ attempt: 2, upstreamModel: `${model}-b`, status: 200, outcome: 'OK', error: null, waitMs: 0 });
    expect(a.ttfbMs).toBeGreaterThanOrEqual(25);
    expect(b.ttfbMs).toBeGreaterThanOrEqual(35);
    for (const x of [a, b]) {
      expect(x.durationMs).toBeGreaterThanOrEqual(x.ttfbMs);
      expect(x.durationMs).toBeLessThan(took + 5);
      expect(x.startMs).toBeGreaterThanOrEqual(0);
    }
    expect(b.startMs).toBeGreaterThanOrEqual(a.startMs + a.durationMs);
    expect(b.startMs + b.durationMs).toBeLessThanOrEqual(took + 5);
  });

  it('shows the wait before a retry of the same target', async () => {
    const model = await mockModel(gw, mock, 'METADATA');
    mock.replyOnce(mockError(429, { retryAfter: '1' }));
    await chatOk(gw, { model, messages: [{ role: 'USER', content: 'retry please' }] });
    const [row] = await callLogsOf(gw, model, 1);
    expect(row.attempts.map((x: AnyJson) => [x.status, x.outcome])).toEqual([[429, 'ERROR'], [200, 'OK']]);
    expect(row.attempts[1].waitMs).toBeGreaterThanOrEqual(1000);
    expect(row.attempts[1].startMs).toBeGreaterThanOrEqual(row.attempts[0].startMs + row.attempts[0].durationMs + 1000);
  });
});

describe('review fixes', () => {
  it('keeps no embed input when the input rules did not run to the end (an unusable policy next to a PII one)', async () => {
    const pii = uniq('cl-pii-embed');
    const broken = uniq('cl-unusable');
    ok(
      await gw.gql(
        'mutation($a: CreateGuardrailPolicyInput!, $b: CreateGuardrailPolicyInput!) { a: createGuardrailPolicy(input: $a) { id } b: createGuardrailPolicy(input: $b) { id } }',
        { a: { name: pii, input: { pii: { kinds: ['EMAIL'], action: 'REDACT' } } }, b: { name: broken, input: { pii: { kinds: ['EMAIL'], action: 'REDACT' } } } },
      ),
    );
    // stored by "another version": this one cannot compile it, and refuses the call
    await query(gw, sql`update guardrail_policies set input = '{"pii":{"kinds":["NOPE"],"action":"X"}}'::jsonb where name = ${broken}`);
    gw.app.services.guardrailPolicies.invalidate();
    const model = await mockModel(gw, mock, null);
    await query(gw, sql`update models set guardrail_policy_ids = array(select id from guardrail_policies where name in (${pii}, ${broken}) order by name <> ${pii}) where name = ${model}`);
    const key = await keyWithLevel(gw, 'FULL');
    const address = 'embedded.quux@example.org';
    const res = await gw.gql('mutation($i: EmbedInput!) { embed(input: $i) { model } }', { i: { model, input: [`embed mail ${address}`] } }, key.secret);
    expect(res.errors?.[0]?.extensions?.code).toBe('GUARDRAIL_BLOCKED');
    const [row] = await callLogsOf(gw, model, 1);
    expect(row.level).toBe('FULL');
    expect(row.request).toBeNull();
    expect(await dumpDatabase(gw)).not.toContain(address);
  });

  it('says TIMEOUT for a stream that stalled past the model timeout', async () => {
    const model = await mockModel(gw, mock, 'METADATA', { timeoutMs: 300 });
    ws ??= wsClient(gw, gw.adminKey);
    mock.replyOnce({ chunks: ['One', ' two', ' three'], stallAfter: 2 });
    await streamAll(ws, { model, messages: [{ role: 'USER', content: 'stall please' }] });
    const rows = await callLogsOf(gw, model, 1);
    expect(rows.map((r) => r.status)).toEqual(['ERROR']);
    expect(rows[0].attempts).toEqual([expect.objectContaining({ status: 200, outcome: 'TIMEOUT', error: 'upstream timed out' })]);
  });

  it('lowers the level to a fallback model\'s: NONE keeps no row, METADATA keeps no bodies', async () => {
    const provider = uniq('cl-openai');
    await createProvider(gw, { name: provider, kind: 'OPENAI', baseUrl: mock.baseUrl, apiKey: 'sk-test' });
    const rows: Record<string, CallLogRowOut[]> = {};
    for (const cap of ['NONE', 'METADATA'] as const) {
      const fallback = uniq('cl-fallback');
      await createModel(gw, { name: fallback, targets: [{ provider, upstreamModel: fallback }] });
      await query(gw, sql`update models set log_bodies = ${cap} where name = ${fallback}`);
      const primary = uniq('cl-primary');
      await createModel(gw, { name: primary, targets: [{ provider, upstreamModel: primary }], fallbacks: [fallback] });
      const key = await keyWithLevel(gw, 'FULL');
      mock.replyOnce(mockError(500, { message: 'primary down' }), mockError(500, { message: 'primary down' }), mockError(500, { message: 'primary down' }));
      const out = await chatOk(gw, { model: primary, messages: [{ role: 'USER', content: `private words ${cap}` }] }, key.secret);
      expect(out.upstreamModel).toBe(fallback);
      rows[cap] = await callLogsOf(gw, primary, cap === 'NONE' ? 0 : 1, cap === 'NONE' ? 300 : 3000);
    }
    expect(rows.NONE).toEqual([]);
    expect(rows.METADATA).toHaveLength(1);
    expect(rows.METADATA[0]).toMatchObject({ level: 'METADATA', request: null, response: null, search: null });
  });
});

type CallLogRowOut = Awaited<ReturnType<typeof callLogsOf>>[number];
