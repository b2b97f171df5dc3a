/* The cache key: equivalent requests share one, any change that could change the answer gives another. */
import { describe, expect, it } from 'vitest';
import { cacheKeysOf } from '../../src/cache/cache-key.js';
import type { ChatRequest } from '../../src/providers/types.js';

type Req = Omit<ChatRequest, 'model'>;

const base = (): Req => ({
  messages: [
    { role: 'SYSTEM', content: 'Be brief.' },
    { role: 'USER', content: 'What is the capital of France?' },
  ],
  temperature: 0.2,
  tools: [{ name: 'lookup', description: 'Look up', parameters: { type: 'object', properties: { a: { type: 'string' }, b: { type: 'number' } }, required: ['a', 'b'] } }],
  toolChoice: 'AUTO',
});

describe('cacheKeysOf', () => {
  it('is the same after normalisation: key order, null vs absent, required order, argument spacing', () => {
    const a = base();
    const b: Req = {
      toolChoice: 'AUTO',
      tools: [{ parameters: { required: ['b', 'a'], properties: { b: { type: 'number' }, a: { type: 'string' } }, type: 'object' }, description: 'Look up', name: 'lookup' }],
      temperature: 0.2,
      stop: [],
      messages: [
        { content: 'Be brief.', role: 'SYSTEM', name: undefined },
        { role: 'USER', content: 'What is the capital of France?', parts: [] },
      ],
    };
    expect(cacheKeysOf('m', b)).toEqual(cacheKeysOf('m', a));

    const withCall = (args: string): Req => ({
      messages: [
        { role: 'USER', content: 'x' },
        { role: 'ASSISTANT', content: null, toolCalls: [{ id: 'c1', name: 'lookup', arguments: args }] },
        { role: 'TOOL', content: '42', toolCallId: 'c1' },
      ],
    });
    expect(cacheKeysOf('m', withCall('{"a":"x","b":1}')).key).toBe(cacheKeysOf('m', withCall('{ "b": 1, "a": "x" }')).key);
  });

  const changes: Array<[string, (r: Req) => void]> = [
    ['temperature', (r) => (r.temperature = 0.3)],
    ['topP', (r) => (r.topP = 0.9)],
    ['maxTokens', (r) => (r.maxTokens = 10)],
    ['stop', (r) => (r.stop = ['\n'])],
    ['seed', (r) => (r.seed = 7)],
    ['jsonMode', (r) => (r.jsonMode = true)],
    ['toolChoice', (r) => (r.toolChoice = 'REQUIRED')],
    ['forced tool', (r) => (r.toolChoice = { name: 'lookup' })],
    ['tools', (r) => (r.tools = [])],
    ['tool schema', (r) => ((r.tools![0]!.parameters!.properties as Record<string, unknown>).c = { type: 'string' })],
    ['tool description', (r) => (r.tools![0]!.description = 'Find')],
    ['system message', (r) => (r.messages[0]!.content = 'Be long.')],
    ['user message', (r) => (r.messages[1]!.content = 'What is the capital of Spain?')],
    ['role', (r) => (r.messages[0]!.role = 'USER')],
    ['an extra message', (r) => r.messages.push({ role: 'USER', content: 'and?' })],
    ['an image part', (r) => (r.messages[1]!.parts = [{ type: 'IMAGE_URL', imageUrl: 'https://x/y.png' }])],
    ['a thinking budget', (r) => (r.reasoning = { budgetTokens: 2048 })],
    ['a reasoning effort', (r) => (r.reasoning = { effort: 'HIGH' })],
  ];

  it('tells reasoning settings apart, for the exact key and the semantic context alike', () => {
    const withReasoning = (reasoning: Req['reasoning']): Req => ({ ...base(), reasoning });
    const keys = [undefined, { budgetTokens: 2048 }, { budgetTokens: 4096 }, { effort: 'LOW' as const }, { effort: 'HIGH' as const }].map((x) =>
      cacheKeysOf('m', withReasoning(x)),
    );
    expect(new Set(keys.map((k) => k.key)).size).toBe(keys.length);
    expect(new Set(keys.map((k) => k.contextHash)).size).toBe(keys.length);
    // an empty reasoning object asks for nothing: the same question as none
    expect(cacheKeysOf('m', withReasoning({})).key).toBe(keys[0]!.key);
  });
  it('tells a failed tool result from a successful one with the same text', () => {
    const turn = (isError?: boolean): Req => ({
      messages: [
        { role: 'USER', content: 'x' },
        { role: 'ASSISTANT', content: null, toolCalls: [{ id: 'c1', name: 'lookup', arguments: '{}' }] },
        { role: 'TOOL', content: 'timeout', toolCallId: 'c1', ...(isError === undefined ? {} : { isError }) },
      ],
    });
    expect(cacheKeysOf('m', turn(true)).key).not.toBe(cacheKeysOf('m', turn()).key);
    expect(cacheKeysOf('m', turn(false)).key).toBe(cacheKeysOf('m', turn()).key);
  });
  it.each(changes)('changes with %s', (_, change) => {
    const r = base();
    change(r);
    expect(cacheKeysOf('m', r).key).not.toBe(cacheKeysOf('m', base()).key);
  });

  describe('keeps what the upstream sees inside tool-call arguments and tool schemas', () => {
    const withCall = (args: string): Req => ({
      messages: [
        { role: 'USER', content: 'x' },
        { role: 'ASSISTANT', content: null, toolCalls: [{ id: 'c1', name: 'lookup', arguments: args }] },
        { role: 'TOOL', content: '42', toolCallId: 'c1' },
      ],
    });
    const argsKey = (args: string) => cacheKeysOf('m', withCall(args)).key;

    it('tells integers above 2^53 apart', () => {
      expect(argsKey('{"id":9007199254740993}')).not.toBe(argsKey('{"id":9007199254740992}'));
      expect(argsKey('{"id": 9007199254740993, "a": [1, 2]}')).toBe(argsKey('{"a":[1,2],"id":9007199254740993}'));
    });

    it('tells a null argument from an absent one, at any depth', () => {
      expect(argsKey('{"a":null}')).not.toBe(argsKey('{}'));
      expect(argsKey('{"a":{"b":null}}')).not.toBe(argsKey('{"a":{}}'));
    });

    it('tells a null in a tool schema from an absent one', () => {
      const schema = (extra: Record<string, unknown>): Req => {
        const r = base();
        r.tools![0]!.parameters = { type: 'object', properties: { a: { type: ['string', 'null'], ...extra } } };
        return r;
      };
      expect(cacheKeysOf('m', schema({ default: null })).key).not.toBe(cacheKeysOf('m', schema({})).key);
    });
  });

  it('changes with the model', () => {
    expect(cacheKeysOf('m2', base()).key).not.toBe(cacheKeysOf('m', base()).key);
  });

  it('gives the semantic half the last user text and a context hash that ignores only that text', () => {
    const k = cacheKeysOf('m', base());
    expect(k.lastUserText).toBe('What is the capital of France?');
    expect(k.key).toMatch(/^[0-9a-f]{64}$/);
    const para = base();
    para.messages[1]!.content = 'Which city is the capital of France?';
    const p = cacheKeysOf('m', para);
    expect(p.key).not.toBe(k.key);
    expect(p.contextHash).toBe(k.contextHash);

    const other = base();
    other.messages[0]!.content = 'Be long.';
    expect(cacheKeysOf('m', other).contextHash).not.toBe(k.contextHash);
    other.messages[0]!.content = 'Be brief.';
    other.temperature = 1;
    expect(cacheKeysOf('m', other).contextHash).not.toBe(k.contextHash);
  });

  it('reads the last user text from TEXT parts too, and has none without a user message', () => {
    const r: Req = {
      messages: [
        { role: 'USER', content: 'first' },
        { role: 'ASSISTANT', content: 'ok' },
        { role: 'USER', content: null, parts: [{ type: 'TEXT', text: 'a' }, { type: 'IMAGE_URL', imageUrl: 'https://x/i.png' }, { type: 'TEXT', text: 'b' }] },
      ],
    };
    expect(cacheKeysOf('m', r).lastUserText).toBe('a\nb');
    expect(cacheKeysOf('m', { messages: [{ role: 'SYSTEM', content: 's' }] }).lastUserText).toBeNull();
  });
});
