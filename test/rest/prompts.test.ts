/* POST /v1/prompts/{name}/run: the REST face of runPrompt (versions, variables, errors naming the variable, usage metadata). */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { post, sseData } from './kit.js';

let gw: TestGateway;
let key: string;

const CREATE = 'mutation($i: CreatePromptInput!) { createPrompt(input: $i) { version } }';

beforeAll(async () => {
  gw = await startGateway();
  key = (await gw.createKey({ scopes: ['INVOKE'] })).secret;
  for (const content of ['Translate {{text}}', 'Translate {{text}} into {{lang}}']) {
    const r = await gw.gql(CREATE, { i: { name: 'translate', model: 'echo', messages: [{ role: 'SYSTEM', content: 'You translate.' }, { role: 'USER', content }] } });
    expect(r.errors).toBeUndefined();
  }
  const slash = await gw.gql(CREATE, { i: { name: 'team/greet', model: 'echo', messages: [{ role: 'USER', content: 'Hi {{name}}' }] } });
  expect(slash.errors).toBeUndefined();
});
afterAll(async () => {
  await gw?.stop();
});

describe('POST /v1/prompts/{name}/run', () => {
  it('runs the latest version with the variables filled, as a chat.completion plus the prompt', async () => {
    const res = await post(gw, '/v1/prompts/translate/run', { variables: { text: 'cat', lang: 'French' } }, key);
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({
      object: 'chat.completion',
      model: 'echo',
      prompt: { name: 'translate', version: 2 },
      choices: [{ index: 0, message: { role: 'assistant', content: 'echo: Translate cat into French' }, finish_reason: 'stop' }],
    });
    // system "You translate." (2 words) + user (4 words); answer 5 words
    expect(body.usage).toEqual({ prompt_tokens: 6, completion_tokens: 5, total_tokens: 11, prompt_tokens_details: { cached_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0 } });
  });

  it('runs an older version when asked', async () => {
    const body = await (await post(gw, '/v1/prompts/translate/run', { version: 1, variables: { text: 'dog' } }, key)).json();
    expect(body.prompt).toEqual({ name: 'translate', version: 1 });
    expect(body.choices[0].message.content).toBe('echo: Translate dog');
  });

  it('takes a percent-encoded / in the name', async () => {
    const body = await (await post(gw, `/v1/prompts/${encodeURIComponent('team/greet')}/run`, { variables: { name: 'Ann' } }, key)).json();
    expect(body.choices[0].message.content).toBe('echo: Hi Ann');
  });

  it('streams when asked, with usage last', async () => {
    const res = await post(gw, '/v1/prompts/translate/run', { version: 1, variables: { text: 'bird' }, stream: true, stream_options: { include_usage: true } }, key);
    const events = await sseData(res);
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('echo: Translate bird');
    expect(chunks.at(-1).usage).toEqual({ prompt_tokens: 4, completion_tokens: 3, total_tokens: 7, prompt_tokens_details: { cached_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0 } });
  });

  it('a missing or unknown variable is a 400 naming it', async () => {
    const missing = await post(gw, '/v1/prompts/translate/run', { variables: { text: 'cat' } }, key);
    expect(missing.status).toBe(400);
    expect((await missing.json()).error).toMatchObject({ type: 'invalid_request_error', param: 'variables.lang', code: 'BAD_USER_INPUT' });
    const unknown = await post(gw, '/v1/prompts/translate/run', { version: 1, variables: { text: 'cat', tone: 'dry' } }, key);
    expect(unknown.status).toBe(400);
    const err = (await unknown.json()).error;
    expect(err.param).toBe('variables.tone');
    expect(err.message).toContain('tone');
    const none = await post(gw, '/v1/prompts/translate/run', {}, key);
    expect((await none.json()).error.param).toBe('variables.text');
  });

  it('an invalid body is a 400 naming the field', async () => {
    const res = await post(gw, '/v1/prompts/translate/run', { version: 'two', variables: {} }, key);
    expect(res.status).toBe(400);
    expect((await res.json()).error.param).toBe('version');
  });

  it('an unknown prompt or version is a 404', async () => {
    const unknown = await post(gw, '/v1/prompts/nope/run', { variables: {} }, key);
    expect(unknown.status).toBe(404);
    expect((await unknown.json()).error).toMatchObject({ code: 'NOT_FOUND' });
    const version = await post(gw, '/v1/prompts/translate/run', { version: 5, variables: {} }, key);
    expect(version.status).toBe(404);
    expect((await version.json()).error.message).toContain('translate@5');
  });

  it('records the prompt name and version in the usage metadata', async () => {
    const body = await (await post(gw, '/v1/prompts/translate/run', { version: 1, variables: { text: 'fox' } }, key)).json();
    const id = body.id.replace(/^chatcmpl-/, '');
    type Node = { invocationId: string; metadata: unknown };
    let node: Node | undefined;
    for (let i = 0; i < 50 && !node; i++) {
      await gw.flushUsage();
      const r = await gw.gql<{ usage: { edges: Array<{ node: Node }> } }>('{ usage(first: 100) { edges { node { invocationId metadata } } } }');
      node = r.data?.usage.edges.map((e) => e.node).find((n) => n.invocationId === id);
    }
    expect(node?.metadata).toEqual({ prompt: 'translate', promptVersion: 1 });
  });

  it('is callable from the OpenAI SDK as a custom route', async () => {
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: key, maxRetries: 0 });
    const r = await client.post<{ prompt: { version: number }; choices: Array<{ message: { content: string } }> }>('/prompts/translate/run', {
      body: { variables: { text: 'owl', lang: 'German' } },
    });
    expect(r.prompt.version).toBe(2);
    expect(r.choices[0].message.content).toBe('echo: Translate owl into German');
    await expect(client.post('/prompts/translate/run', { body: { variables: {} } })).rejects.toBeInstanceOf(OpenAI.BadRequestError);
  });
});
