/*
 * Closed sets are enums: a content part's `kind` (ContentPartType) and `toolChoiceMode` (ToolChoiceMode) / `forcedTool`.
 * The string forms (`type`, `toolChoice`) still work for one release, marked deprecated in the schema and reported in
 * extensions.warnings when used.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEchoAdapter } from '../../src/providers/echo/index.js';
import type { ChatRequest, ProviderAdapter } from '../../src/providers/types.js';
import { startGateway, type TestGateway } from '../kit/start-gateway.js';
import { expectCode } from './helpers.js';

const CHAT = `mutation($input: ChatInput!) { chat(input: $input) { message { content } } }`;
const TOOL = { name: 'lookup', parameters: { type: 'object', properties: {} } };

let gw: TestGateway;
const seen: ChatRequest[] = [];
beforeAll(async () => {
  const echo = createEchoAdapter();
  const recording: ProviderAdapter = { ...echo, chat: (req, opts) => (seen.push(req), echo.chat(req, opts)) };
  gw = await startGateway({}, { adapters: { ECHO: recording } });
});
afterAll(async () => {
  await gw?.stop();
});

const chat = (extra: Record<string, unknown>, messages: unknown[] = [{ role: 'USER', content: 'hi' }]) =>
  gw.gql(CHAT, { input: { model: 'echo', messages, ...extra } });

describe('ContentPartType', () => {
  it('kind TEXT / IMAGE_URL is taken as it is, with no warning', async () => {
    seen.length = 0;
    const r = await chat({}, [{ role: 'USER', parts: [{ kind: 'TEXT', text: 'look' }, { kind: 'IMAGE_URL', imageUrl: 'https://example.com/a.png' }] }]);
    expect(r.errors).toBeUndefined();
    expect(r.extensions?.warnings).toBeUndefined();
    expect(seen[0].messages[0].parts).toEqual([{ type: 'TEXT', text: 'look' }, { type: 'IMAGE_URL', imageUrl: 'https://example.com/a.png' }]);
  });

  it('the string `type` still works and is reported as deprecated', async () => {
    const r = await chat({}, [{ role: 'USER', parts: [{ type: 'TEXT', text: 'old form' }] }]);
    expect(r.errors).toBeUndefined();
    expect(r.data.chat.message.content).toContain('old form');
    expect(r.extensions?.warnings).toEqual([expect.stringMatching(/ContentPartInput\.type is deprecated/)]);
  });

  it('neither or both forms: BAD_USER_INPUT naming the field; an unknown kind fails validation', async () => {
    expectCode(await chat({}, [{ role: 'USER', parts: [{ text: 'x' }] }]), 'BAD_USER_INPUT', 'input.messages[0].parts[0].kind');
    expectCode(await chat({}, [{ role: 'USER', parts: [{ kind: 'TEXT', type: 'TEXT', text: 'x' }] }]), 'BAD_USER_INPUT', 'input.messages[0].parts[0].type');
    expectCode(await chat({}, [{ role: 'USER', parts: [{ kind: 'VIDEO', text: 'x' }] }]), 'BAD_USER_INPUT');
  });
});

describe('ToolChoiceMode and forcedTool', () => {
  it('toolChoiceMode and forcedTool reach the provider as the same choices the string form made, with no warning', async () => {
    seen.length = 0;
    const a = await chat({ tools: [TOOL], toolChoiceMode: 'REQUIRED' });
    const b = await chat({ tools: [TOOL], forcedTool: 'lookup' });
    const c = await chat({ tools: [TOOL], toolChoiceMode: 'NONE' });
    for (const r of [a, b, c]) {
      expect(r.errors).toBeUndefined();
      expect(r.extensions?.warnings).toBeUndefined();
    }
    expect(seen.map((s) => s.toolChoice)).toEqual(['REQUIRED', { name: 'lookup' }, 'NONE']);
  });

  it('the string toolChoice still works and is reported as deprecated', async () => {
    seen.length = 0;
    const r = await chat({ tools: [TOOL], toolChoice: 'lookup' });
    expect(r.errors).toBeUndefined();
    expect(seen[0].toolChoice).toEqual({ name: 'lookup' });
    expect(r.extensions?.warnings).toEqual([expect.stringMatching(/ChatInput\.toolChoice is deprecated/)]);
  });

  it('refuses a forced tool that is not among the tools, REQUIRED without tools, and two forms at once', async () => {
    expectCode(await chat({ tools: [TOOL], forcedTool: 'other' }), 'BAD_USER_INPUT', 'input.forcedTool');
    expectCode(await chat({ toolChoiceMode: 'REQUIRED' }), 'BAD_USER_INPUT', 'input.toolChoiceMode');
    expectCode(await chat({ tools: [TOOL], toolChoiceMode: 'AUTO', toolChoice: 'AUTO' }), 'BAD_USER_INPUT', 'input.toolChoiceMode');
  });
});

describe('the schema says so', () => {
  it('marks the string forms deprecated, and the new inputs are enums', async () => {
    const r = await gw.gql(`{
      chat: __type(name: "ChatInput") { inputFields(includeDeprecated: true) { name isDeprecated type { kind name } } }
      part: __type(name: "ContentPartInput") { inputFields(includeDeprecated: true) { name isDeprecated type { kind name } } }
    }`);
    const field = (t: string, n: string) => (r.data[t].inputFields as Array<{ name: string }>).find((f) => f.name === n);
    expect(field('chat', 'toolChoice')).toMatchObject({ isDeprecated: true });
    expect(field('chat', 'toolChoiceMode')).toMatchObject({ isDeprecated: false, type: { kind: 'ENUM', name: 'ToolChoiceMode' } });
    expect(field('part', 'type')).toMatchObject({ isDeprecated: true });
    expect(field('part', 'kind')).toMatchObject({ isDeprecated: false, type: { kind: 'ENUM', name: 'ContentPartType' } });
  });
});
