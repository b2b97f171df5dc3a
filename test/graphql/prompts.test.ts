/* Prompt templates over GraphQL: versions, extracted variables, runPrompt filling {{placeholders}}, errors naming the variable, usage metadata. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';

let gw: TestGateway;
let invoker: string;

const CREATE = 'mutation($i: CreatePromptInput!) { createPrompt(input: $i) { id name version model variables messages { role content } } }';
const RUN = 'mutation($n: String!, $v: Int, $vars: JSON) { runPrompt(name: $n, version: $v, variables: $vars) { id model message { content } usage { totalTokens } } }';

beforeAll(async () => {
  gw = await startGateway();
  invoker = (await gw.createKey({ scopes: ['INVOKE'] })).secret;
  const v1 = await gw.gql(CREATE, { i: { name: 'weather', model: 'echo', messages: [{ role: 'USER', content: 'Weather in {{city}}?' }] } });
  expect(v1.errors).toBeUndefined();
  const v2 = await gw.gql(CREATE, {
    i: {
      name: 'weather',
      model: 'echo',
      messages: [
        { role: 'SYSTEM', content: 'You answer for {{ city }} in {{unit}}.' },
        { role: 'USER', content: 'Weather in {{city}} on {{day}}, {{unit}} please' },
      ],
    },
  });
  expect(v2.errors).toBeUndefined();
});
afterAll(async () => {
  await gw?.stop();
});

describe('versions', () => {
  it('createPrompt under an existing name stores the next version', async () => {
    const v3 = await gw.gql(CREATE, { i: { name: 'versions', model: 'echo', messages: [{ role: 'USER', content: 'one' }] } });
    const v4 = await gw.gql(CREATE, { i: { name: 'versions', model: 'echo', messages: [{ role: 'USER', content: 'two' }] } });
    expect(v3.data.createPrompt.version).toBe(1);
    expect(v4.data.createPrompt.version).toBe(2);
    expect(v4.data.createPrompt.id).not.toBe(v3.data.createPrompt.id);
  });

  it('prompt(name) is the latest version, prompt(name, version) a given one', async () => {
    const latest = await gw.gql('{ prompt(name: "weather") { version variables messages { role content } } }', undefined, invoker);
    expect(latest.data.prompt.version).toBe(2);
    expect(latest.data.prompt.messages).toHaveLength(2);
    const first = await gw.gql('{ prompt(name: "weather", version: 1) { version messages { role content } } }', undefined, invoker);
    expect(first.data.prompt).toEqual({ version: 1, messages: [{ role: 'USER', content: 'Weather in {{city}}?' }] });
    const none = await gw.gql('{ a: prompt(name: "weather", version: 9) { version } b: prompt(name: "nope") { version } }', undefined, invoker);
    expect(none.data).toEqual({ a: null, b: null });
  });

  it('prompts lists every version, newest first per name', async () => {
    const r = await gw.gql('{ prompts { name version } }', undefined, invoker);
    const weather = r.data.prompts.filter((p: { name: string }) => p.name === 'weather').map((p: { version: number }) => p.version);
    expect(weather).toEqual([2, 1]);
  });

  it('createPrompt needs ADMIN and a valid input', async () => {
    const denied = await gw.gql(CREATE, { i: { name: 'x', model: 'echo', messages: [{ role: 'USER', content: 'hi' }] } }, invoker);
    expect(denied.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const bad = await gw.gql(CREATE, { i: { name: '-bad name', model: 'echo', messages: [{ role: 'USER', content: 'hi' }] } });
    expect(bad.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.name' });
  });
});

describe('variables', () => {
  it('are extracted once each, in order of appearance, spaces inside the braces allowed', async () => {
    const r = await gw.gql('{ prompt(name: "weather") { variables } }');
    expect(r.data.prompt.variables).toEqual(['city', 'unit', 'day']);
  });

  it('runPrompt fills every placeholder and invokes the prompt model', async () => {
    const r = await gw.gql(RUN, { n: 'weather', vars: { city: 'Paris', unit: 'celsius', day: 'Monday' } }, invoker);
    expect(r.errors).toBeUndefined();
    expect(r.data.runPrompt.model).toBe('echo');
    // echo answers the last user message
    expect(r.data.runPrompt.message.content).toBe('echo: Weather in Paris on Monday, celsius please');
  });

  it('runPrompt runs an older version when asked, and puts non-string values in as JSON', async () => {
    const r = await gw.gql(RUN, { n: 'weather', v: 1, vars: { city: { name: 'Oslo' } } }, invoker);
    expect(r.data.runPrompt.message.content).toBe('echo: Weather in {"name":"Oslo"}?');
  });

  it('a missing variable is BAD_USER_INPUT naming it', async () => {
    const r = await gw.gql(RUN, { n: 'weather', vars: { city: 'Paris', unit: 'celsius' } }, invoker);
    expect(r.data).toBeNull();
    expect(r.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'variables.day' });
    expect(r.errors?.[0].message).toContain('day');
  });

  it('an unknown variable is BAD_USER_INPUT naming it', async () => {
    const r = await gw.gql(RUN, { n: 'weather', v: 1, vars: { city: 'Paris', mood: 'sunny' } }, invoker);
    expect(r.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'variables.mood' });
    expect(r.errors?.[0].message).toContain('mood');
  });

  it('variables must be an object; an unknown prompt or version is NOT_FOUND', async () => {
    const notObject = await gw.gql(RUN, { n: 'weather', v: 1, vars: ['Paris'] }, invoker);
    expect(notObject.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'variables' });
    const unknown = await gw.gql(RUN, { n: 'nope', vars: {} }, invoker);
    expect(unknown.errors?.[0].extensions?.code).toBe('NOT_FOUND');
    const noVersion = await gw.gql(RUN, { n: 'weather', v: 7, vars: {} }, invoker);
    expect(noVersion.errors?.[0].extensions?.code).toBe('NOT_FOUND');
  });

  it('runPrompt needs the INVOKE scope', async () => {
    const reader = (await gw.createKey({ scopes: ['READ_USAGE'] })).secret;
    const r = await gw.gql(RUN, { n: 'weather', v: 1, vars: { city: 'Paris' } }, reader);
    expect(r.errors?.[0].extensions?.code).toBe('FORBIDDEN');
  });
});

describe('usage', () => {
  it('the usage record names the prompt and its version', async () => {
    const v2 = await gw.gql(RUN, { n: 'weather', vars: { city: 'Rome', unit: 'kelvin', day: 'Friday' } }, invoker);
    const v1 = await gw.gql(RUN, { n: 'weather', v: 1, vars: { city: 'Rome' } }, invoker);
    const ids = [v2.data.runPrompt.id, v1.data.runPrompt.id];
    await gw.flushUsage();
    const r = await gw.gql('{ usage(first: 100) { edges { node { invocationId model metadata status } } } }');
    const byId = new Map(r.data.usage.edges.map((e: { node: { invocationId: string } }) => [e.node.invocationId, e.node]));
    expect(byId.get(ids[0])).toMatchObject({ model: 'echo', status: 'OK', metadata: { prompt: 'weather', promptVersion: 2 } });
    expect(byId.get(ids[1])).toMatchObject({ metadata: { prompt: 'weather', promptVersion: 1 } });
  });
});
