/**
 * Issue 26, call log at METADATA: after calls of every kind (unary, failing, refused by a guardrail, streamed, tool
 * call, embeddings), no word a caller or a model wrote is anywhere in the database, though each call is logged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { startOpenAIMock, type OpenAIMock } from '../mocks/openai.js';
import { chat, chatOk, ok, streamAll, textOf, uniq, wsClient } from '../gateway/helpers.js';
import { callLogsOf, dumpDatabase, keyWithLevel, mockModel } from './kit.js';

let gw: TestGateway;
let mock: OpenAIMock;

beforeAll(async () => {
  [gw, mock] = await Promise.all([startGateway({}, { policy: { maxAttemptsPerModel: 1, backoffBaseMs: 1 } }), startOpenAIMock()]);
});

afterAll(async () => {
  await gw?.stop();
  await mock?.close();
});

/** Words that appear only in messages, answers, arguments, tool descriptions, stop sequences and upstream errors. */
const SECRETS = ['zanzibarquux', 'flumpernickel', 'quetzalargs', 'descrwordvex', 'stopseqjunco', 'upstreamechoyurt', 'embedwordqat', 'streamwordkelp', 'refusedwordpim'];

describe('METADATA', () => {
  it('keeps no message or answer text anywhere in the database', async () => {
    const model = await mockModel(gw, mock, 'METADATA');
    const policy = uniq('cl-deny');
    ok(await gw.gql('mutation($i: CreateGuardrailPolicyInput!) { createGuardrailPolicy(input: $i) { id } }', { i: { name: policy, input: { denyList: { words: ['forbiddenterm'], action: 'BLOCK' } } } }));
    const guarded = await keyWithLevel(gw, null, { guardrailPolicies: [policy] });

    mock.replyOnce({ text: 'flumpernickel is the answer' });
    await chatOk(gw, { model, messages: [{ role: 'SYSTEM', content: 'zanzibarquux rules' }, { role: 'USER', content: 'zanzibarquux?' }], temperature: 0.5, stop: ['stopseqjunco'] });

    mock.replyOnce({ toolCalls: [{ name: 'lookup', arguments: '{"q":"quetzalargs"}' }] });
    await chatOk(gw, {
      model,
      messages: [{ role: 'USER', content: 'zanzibarquux lookup' }],
      tools: [{ name: 'lookup', description: 'descrwordvex', parameters: { type: 'object', properties: { q: { type: 'string', description: 'descrwordvex' } } } }],
    });

    // the upstream refuses, echoing the prompt in its error
    mock.replyOnce({ status: 400, error: { message: 'bad prompt: upstreamechoyurt zanzibarquux' } });
    const failed = await chat(gw, { model, messages: [{ role: 'USER', content: 'zanzibarquux upstreamechoyurt' }] });
    expect(failed.errors?.[0]?.extensions?.code).toBe('UPSTREAM_ERROR');

    const refused = await chat(gw, { model, messages: [{ role: 'USER', content: 'refusedwordpim forbiddenterm' }] }, guarded.secret);
    expect(refused.errors?.[0]?.extensions?.code).toBe('GUARDRAIL_BLOCKED');

    const ws = wsClient(gw, gw.adminKey);
    mock.replyOnce({ chunks: ['streamwordkelp', ' flumpernickel'] });
    const streamed = await streamAll(ws, { model, messages: [{ role: 'USER', content: 'streamwordkelp zanzibarquux' }] });
    expect(textOf(streamed.chunks)).toBe('streamwordkelp flumpernickel');
    await ws.dispose();

    ok(await gw.gql('mutation($i: EmbedInput!) { embed(input: $i) { model } }', { i: { model, input: ['embedwordqat one', 'embedwordqat two'] } }));

    const rows = await callLogsOf(gw, model, 6);
    expect(rows.map((r) => r.status)).toEqual(['OK', 'OK', 'ERROR', 'ERROR', 'OK', 'OK']);
    expect(rows.every((r) => r.level === 'METADATA' && r.request === null && r.response === null && r.search === null)).toBe(true);
    // what METADATA does keep: the shape of the call
    expect(rows[0].parameters).toMatchObject({ messageCount: 2, roles: ['SYSTEM', 'USER'], temperature: 0.5, stopCount: 1, streamed: false });
    expect(rows[1].parameters.tools).toEqual(['lookup']);
    expect(rows[2].attempts).toEqual([expect.objectContaining({ status: 400, outcome: 'ERROR', error: 'upstream returned 400' })]);
    expect(rows[3].attempts).toEqual([]);
    expect(rows[4].parameters.streamed).toBe(true);

    const dump = (await dumpDatabase(gw)).toLowerCase();
    expect(dump).toContain('call_logs (6)');
    for (const word of SECRETS) expect(dump, word).not.toContain(word);
  });

  it('the same dump finds such words once a call is logged at FULL (the check can fail)', async () => {
    const model = await mockModel(gw, mock, 'FULL');
    mock.replyOnce({ text: 'controlanswerword' });
    await chatOk(gw, { model, messages: [{ role: 'USER', content: 'controlpromptword' }] });
    await callLogsOf(gw, model, 1);
    const dump = await dumpDatabase(gw);
    expect(dump).toContain('controlpromptword');
    expect(dump).toContain('controlanswerword');
  });
});
