/*
 * POST /v1/messages on the wire, without an SDK in between: named SSE events whose `type` matches the event name,
 * in Anthropic's order (message_start, ping, blocks, message_delta, message_stop), and errors in Anthropic's shape.
 * @see https://docs.anthropic.com/en/docs/build-with-claude/streaming
 * @see https://docs.anthropic.com/en/api/errors
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countTextTokens } from '../../src/providers/count-tokens.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';

let gw: TestGateway;
let key: { secret: string };

beforeAll(async () => {
  gw = await startGateway();
  key = await gw.createKey({ scopes: ['INVOKE'] });
});
afterAll(async () => {
  await gw?.stop();
});

const post = (body: unknown, headers: Record<string, string>) =>
  fetch(`${gw.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

/** Each SSE block as its event name and parsed data. */
async function events(res: Response): Promise<Array<{ event: string; data: { type: string } & Record<string, unknown> }>> {
  const text = await res.text();
  return text
    .split('\n\n')
    .filter((b) => b.trim())
    .map((b) => {
      const lines = b.split('\n');
      const event = lines.find((l) => l.startsWith('event: '))?.slice(7) ?? '';
      const data = JSON.parse(lines.find((l) => l.startsWith('data: '))!.slice(6));
      return { event, data };
    });
}

describe('POST /v1/messages on the wire', () => {
  it('streams named events in Anthropic\'s order, each event\'s name its data\'s type', async () => {
    const res = await post({ model: 'echo', max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'three little words' }] }, { 'x-api-key': key.secret });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('request-id')).toBeTruthy();
    const evs = await events(res);
    for (const e of evs) expect(e.event).toBe(e.data.type);
    const types = evs.map((e) => e.event);
    expect(types.slice(0, 3)).toEqual(['message_start', 'ping', 'content_block_start']);
    expect(types.slice(-3)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);
    expect(evs[0].data.message).toMatchObject({ type: 'message', role: 'assistant', model: 'echo', content: [], stop_reason: null });
    expect(evs[2].data).toEqual({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
    const text = evs.filter((e) => e.event === 'content_block_delta').map((e) => (e.data.delta as { text: string }).text).join('');
    expect(text).toBe('echo: three little words');
    const delta = evs.at(-2)!.data;
    expect(delta.delta).toEqual({ stop_reason: 'end_turn', stop_sequence: null });
    // echo counts words: 3 in, 4 out
    expect(delta.usage).toMatchObject({ input_tokens: 3, output_tokens: 4 });
  });

  it('answers a Message object with the Bearer key too, and max_tokens reached as stop_reason max_tokens', async () => {
    const res = await post({ model: 'echo', max_tokens: 2, messages: [{ role: 'user', content: 'one two three' }] }, { authorization: `Bearer ${key.secret}` });
    expect(res.status).toBe(200);
    const msg = await res.json();
    expect(msg).toMatchObject({ type: 'message', role: 'assistant', model: 'echo', content: [{ type: 'text', text: 'echo: one' }], stop_reason: 'max_tokens', stop_sequence: null });
    expect(msg.id).toMatch(/^msg_/);
  });

  it('says in x-gateway-warning that adaptive thinking had no effect', async () => {
    const res = await post({ model: 'echo', max_tokens: 20, thinking: { type: 'adaptive' }, messages: [{ role: 'user', content: 'hi' }] }, { 'x-api-key': key.secret });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-gateway-warning')).toMatch(/thinking type adaptive .*ignored/);
  });

  it('errors are {type: "error", error: {type, message}} with Anthropic\'s status', async () => {
    const cases: Array<[unknown, Record<string, string>, number, string, RegExp]> = [
      ['{not json', { 'x-api-key': key.secret }, 400, 'invalid_request_error', /^body: /],
      [{ model: 'echo', max_tokens: 5, messages: [] }, { 'x-api-key': key.secret }, 400, 'invalid_request_error', /^messages: /],
      [{ model: 'echo', max_tokens: 5, messages: [{ role: 'system', content: 'x' }] }, { 'x-api-key': key.secret }, 400, 'invalid_request_error', /^messages\[0\]\.role: /],
      [{ model: 'echo', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }, {}, 401, 'authentication_error', /API key/],
      [{ model: 'echo', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }, { 'x-api-key': 'gw_wrong_wrong_wrong_wrong_wrong_wrong' }, 401, 'authentication_error', /key/],
      [{ model: 'nope', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }, { 'x-api-key': key.secret }, 404, 'not_found_error', /nope/],
    ];
    const wrongMethod = await fetch(`${gw.url}/v1/messages`, { headers: { 'x-api-key': key.secret } });
    expect(wrongMethod.status).toBe(405);
    expect(await wrongMethod.json()).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringMatching(/POST/) } });
    for (const [body, headers, status, type, message] of cases) {
      const res = await post(body, headers);
      expect(res.status, JSON.stringify(body)).toBe(status);
      const err = await res.json();
      expect(err).toEqual({ type: 'error', error: { type, message: expect.stringMatching(message) } });
    }
  });

  it('count_tokens answers {input_tokens} by the gateway\'s own count, without max_tokens, and checks the request', async () => {
    const res = await fetch(`${gw.url}/v1/messages/count_tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': key.secret },
      body: JSON.stringify({ model: 'echo', system: 'Be brief.', messages: [{ role: 'user', content: 'hello world' }] }),
    });
    expect(res.status).toBe(200);
    // 3 for the reply, 3 per message (the system prompt is one), plus the texts
    expect(await res.json()).toEqual({ input_tokens: 3 + 3 + countTextTokens('Be brief.') + 3 + countTextTokens('hello world') });
    const bad = await fetch(`${gw.url}/v1/messages/count_tokens`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': key.secret }, body: JSON.stringify({ model: 'echo' }) });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringMatching(/^messages: /) } });
  });
});
