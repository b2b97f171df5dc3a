/*
 * Where the output guardrails meet the rest of the pipeline: a streamed answer's tool calls (judged whole, like a
 * unary answer's), and the response cache (an answer that fails a JSON schema is asked for again before anything is
 * cached, and the answer that passed is the one a later call gets from the cache).
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AnyJson } from '../kit/json.js';
import { sseCollect } from '../kit/sse.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { startOpenAIMock, type OpenAIMock } from '../mocks/openai.js';
import { addMockProvider, createModel } from '../rest/kit.js';

let gw: TestGateway;
let mock: OpenAIMock;

const STREAM = 'subscription($input: ChatInput!) { chatStream(input: $input) { delta toolCalls { index id name argumentsDelta } finishReason } }';
const CHAT = 'mutation($input: ChatInput!) { chat(input: $input) { message { content toolCalls { name arguments } } } }';
const USAGE = 'query { usage(first: 3) { edges { node { status cacheHit costUsd promptTokens completionTokens guardrails { action } } } } }';
const ask = (model: string, content: string, cache?: unknown) => ({ input: { model, messages: [{ role: 'USER', content }], ...(cache ? { cache } : {}) } });

async function policy(name: string, rules: Record<string, unknown>): Promise<void> {
  const r = await gw.gql('mutation($i: CreateGuardrailPolicyInput!) { createGuardrailPolicy(input: $i) { id } }', { i: { name, ...rules } });
  expect(r.errors).toBeUndefined();
}

beforeAll(async () => {
  [gw, mock] = await Promise.all([startGateway({}, { policy: { maxAttemptsPerModel: 1, backoffBaseMs: 1 } }), startOpenAIMock()]);
  await addMockProvider(gw, mock, []);
  await policy('emails-out', { output: { pii: { kinds: ['EMAIL'], action: 'REDACT' } } });
  await policy('emails-blocked', { output: { pii: { kinds: ['EMAIL'], action: 'BLOCK' } } });
  await policy('json-out', { output: { jsonSchema: { type: 'object', required: ['ok'], properties: { ok: { type: 'boolean' } } } } });
  const target = [{ provider: 'mock-openai', upstreamModel: 'gpt-4o-mini' }];
  await createModel(gw, { name: 'redacting', targets: target, guardrailPolicies: ['emails-out'] });
  await createModel(gw, { name: 'blocking', targets: target, guardrailPolicies: ['emails-blocked'] });
  await createModel(gw, { name: 'json-cached', targets: target, guardrailPolicies: ['json-out'], cache: { mode: 'EXACT' } });
});
beforeEach(() => mock.reset());
afterAll(async () => {
  await Promise.all([gw?.stop(), mock?.close()]);
});

describe('a streamed answer’s tool calls under output rules', () => {
  const toolReply = { text: 'Sending it.', toolCalls: [{ id: 'call_1', name: 'send_mail', arguments: '{"to":"jane.doe@example.com","body":"hi"}' }] };

  it('are sent whole after the text, their arguments redacted as a unary answer’s are', async () => {
    mock.reply(toolReply);
    const unary = await gw.gql(CHAT, ask('redacting', 'mail Jane'));
    expect(unary.data.chat.message.toolCalls[0].arguments).toBe('{"to":"[EMAIL_1]","body":"hi"}');

    const events = await sseCollect(gw.url, STREAM, ask('redacting', 'mail Jane'), gw.adminKey);
    const chunks = events.map((e) => e.data!.chatStream as AnyJson);
    const calls = chunks.flatMap((c) => c.toolCalls ?? []);
    expect(calls).toEqual([{ index: 0, id: 'call_1', name: 'send_mail', argumentsDelta: '{"to":"[EMAIL_1]","body":"hi"}' }]);
    expect(JSON.stringify(events)).not.toContain('jane.doe@example.com');
    // the text came first, the held tool calls after it, then the last chunk
    const withCalls = chunks.findIndex((c) => c.toolCalls?.length);
    expect(chunks.slice(0, withCalls).map((c) => c.delta).join('')).toBe('Sending it.');
    expect(chunks.at(-1)!.finishReason).toBe('TOOL_CALLS');
  });

  it('end the stream with GUARDRAIL_BLOCKED when a BLOCK rule matches their arguments', async () => {
    mock.reply(toolReply);
    const events = await sseCollect(gw.url, STREAM, ask('blocking', 'mail Jane'), gw.adminKey);
    expect(events.at(-1)!.errors?.[0]?.extensions).toMatchObject({ code: 'GUARDRAIL_BLOCKED', policy: 'emails-blocked' });
    expect(JSON.stringify(events)).not.toContain('jane.doe@example.com');
  });
});

describe('JSON schema and the response cache', () => {
  it('caches the answer that passed the schema, not the one that failed; the hit is not judged again or charged', async () => {
    mock.replyOnce({ text: 'Sure! {"ok": "yes"}', usage: { prompt_tokens: 5, completion_tokens: 3 } });
    mock.reply({ text: '{"ok": true}', usage: { prompt_tokens: 7, completion_tokens: 2 } });
    const first = await gw.gql(CHAT, ask('json-cached', 'status?'));
    expect(first.data.chat.message.content).toBe('{"ok": true}');
    expect(mock.chatRequests()).toHaveLength(2);

    const second = await gw.gql(CHAT, ask('json-cached', 'status?'));
    expect(second.data.chat.message.content).toBe('{"ok": true}');
    expect(mock.chatRequests()).toHaveLength(2);

    await gw.flushUsage();
    const [hit, miss] = (await gw.gql(USAGE)).data.usage.edges.map((e: AnyJson) => e.node);
    // the cached answer carries what it took to get it (both asks): that is what a hit saves
    expect(hit).toMatchObject({ status: 'OK', cacheHit: 'EXACT', costUsd: 0, promptTokens: 12, completionTokens: 5, guardrails: [] });
    expect(miss).toMatchObject({ status: 'OK', cacheHit: null, promptTokens: 12, completionTokens: 5, guardrails: [{ action: 'RETRIED' }] });
  });
});
