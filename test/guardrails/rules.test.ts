/* Deny lists (RE2: linear time whatever the pattern), the rules parser, and the scan's speed on large texts. */
import { describe, expect, it } from 'vitest';
import { compileDenyList } from '../../src/guardrails/deny-list.js';
import { guardInput, type GuardRun } from '../../src/guardrails/guard.js';
import { compilePolicy } from '../../src/guardrails/policy.js';
import { DETECTORS, detectorsFor, detectPii } from '../../src/guardrails/pii/detect-pii.js';
import { Redactions } from '../../src/guardrails/redactions.js';
import { parseGuardrailRules } from '../../src/guardrails/rules.js';
import type { GuardrailEvent } from '../../src/gateway/usage-writer.js';

const words = (text: string, list: string[], patterns: string[] = []) =>
  compileDenyList(list, patterns, 'f').find(text).map((m) => [text.slice(m.start, m.end), m.entry]);

const badField = (field: string) => expect.objectContaining({ code: 'BAD_USER_INPUT', extensions: expect.objectContaining({ field }) });

describe('deny lists', () => {
  it('match whole words, case-insensitively, in any script', () => {
    expect(words('Falcon, falconry, FALCON! café cafés Café', ['falcon', 'café'])).toEqual([
      ['Falcon', 'word #1'],
      ['FALCON', 'word #1'],
      ['café', 'word #2'],
      ['Café', 'word #2'],
    ]);
    expect(words('falcon falcon', ['falcon'])).toHaveLength(2);
  });

  it('match operator patterns as written (RE2 syntax)', () => {
    expect(words('ticket ABC-1234 and abc-99', [], ['[A-Z]{3}-\\d+'])).toEqual([['ABC-1234', 'pattern #1']]);
  });

  it('refuse an invalid pattern naming it', () => {
    expect(() => compileDenyList([], ['ok', '(unclosed'], 'input.output.denyList')).toThrow(badField('input.output.denyList.patterns[1]'));
    // backreferences are what RE2 leaves out to stay linear
    expect(() => compileDenyList([], ['(a)\\1'], 'x')).toThrow(badField('x.patterns[0]'));
  });

  it('run a pathological pattern over an adversarial input in linear time', () => {
    const list = compileDenyList([], ['(a+)+$', '(a|aa)+b', '(.*a){20}'], 'f');
    const input = `${'a'.repeat(50_000)}!`;
    const started = performance.now();
    list.find(input);
    // a backtracking engine takes longer than the age of the universe on the first pattern alone
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe('PII scan speed', () => {
  it('scans 1 MB of mixed text quickly', () => {
    const line = 'Order 123456789012 on 2024-05-06 10:30:15 for jane@example.com, +44 20 7946 0958, card 4111 1111 1111 1111. ';
    const text = `${line}${'lorem ipsum dolor sit amet, consectetur adipiscing elit 42. '.repeat(20)}`.repeat(1_000_000 / 1300);
    const started = performance.now();
    const spans = detectPii(text, DETECTORS);
    expect(performance.now() - started).toBeLessThan(1500);
    expect(spans.length).toBe(3 * Math.floor(1_000_000 / 1300));
  });

  it('a long digit run or address-like run does not make the scan superlinear', () => {
    const digits = '1 '.repeat(200_000);
    const dots = `${'a.'.repeat(200_000)}@`;
    const started = performance.now();
    detectPii(digits, DETECTORS);
    detectPii(dots, DETECTORS);
    expect(performance.now() - started).toBeLessThan(1500);
  });
});

describe('PII scan on adversarial input', () => {
  // each took hundreds of milliseconds before: an attempt at every character, or a match built and refused at each '+'
  it.each([
    ['a long run of address characters with one @', '#'.repeat(2_000_000) + '@', 'EMAIL'],
    ['a long run of short "+1" fragments', '+1 '.repeat(2_000_000), 'PHONE'],
    ['a long dotted run before an @', `${'a.'.repeat(1_000_000)}@`, 'EMAIL'],
    ['many short runs ending at an @', `${'#'.repeat(63)}@`.repeat(30_000), 'EMAIL'],
  ] as const)('%s scans in linear time', (_what, text, kind) => {
    const started = performance.now();
    expect(detectPii(text, detectorsFor([kind]))).toEqual([]);
    expect(performance.now() - started).toBeLessThan(250);
  });

  it('junk put before an address does not hide it', () => {
    const text = `write to ${'#'.repeat(70)}jane@example.com or ${'a.'.repeat(20)}bob@example.com`;
    const spans = detectPii(text, detectorsFor(['EMAIL'])).map((s) => text.slice(s.start, s.end));
    expect(spans).toEqual([`${'#'.repeat(70)}jane@example.com`, `${'a.'.repeat(20)}bob@example.com`]);
  });
});

describe('rules parser', () => {
  it('reads GraphQL-shaped rules with defaults', () => {
    expect(parseGuardrailRules({ pii: { kinds: ['EMAIL'], action: 'REDACT' }, denyList: { words: ['x'], action: 'BLOCK' } }, 'input.input', 'INPUT')).toEqual({
      pii: { kinds: ['EMAIL'], action: 'REDACT', restore: false },
      denyList: { words: ['x'], patterns: [], action: 'BLOCK' },
      maxInputTokens: null,
      jsonSchema: null,
    });
    expect(parseGuardrailRules(null, 'input.input', 'INPUT')).toBeNull();
  });

  it.each([
    [{ pii: { kinds: ['NOPE'], action: 'REDACT' } }, 'INPUT', 'r.pii.kinds[0]'],
    [{ pii: { kinds: [], action: 'REDACT' } }, 'INPUT', 'r.pii.kinds'],
    [{ denyList: { words: [''], action: 'BLOCK' } }, 'INPUT', 'r.denyList.words[0]'],
    [{ denyList: { patterns: ['a', '*'], action: 'BLOCK' } }, 'INPUT', 'r.denyList.patterns[1]'],
    [{ maxInputTokens: 0 }, 'INPUT', 'r.maxInputTokens'],
    [{ maxInputTokens: 10 }, 'OUTPUT', 'r.maxInputTokens'],
    [{ jsonSchema: { type: 'object' } }, 'INPUT', 'r.jsonSchema'],
    [{ jsonSchema: { type: 'no-such-type' } }, 'OUTPUT', 'r.jsonSchema'],
    [{ pii: { kinds: ['EMAIL'], action: 'REDACT', restore: true } }, 'OUTPUT', 'r.pii.restore'],
  ] as const)('refuses %j on %s naming %s', (rules, stage, field) => {
    expect(() => parseGuardrailRules(rules, 'r', stage)).toThrow(badField(field));
  });
});

describe('input rules', () => {
  const events: GuardrailEvent[] = [];
  const run = (): GuardRun => ({ redactions: new Redactions(), note: (e) => events.push(e) });

  it('redact message text, parts and tool-call arguments', () => {
    const p = compilePolicy({ id: '1', name: 'p', input: { pii: { kinds: ['EMAIL', 'IP_ADDRESS'], action: 'REDACT' } }, output: null });
    const [m] = guardInput(
      [p],
      [{ role: 'ASSISTANT', content: 'a@b.io', parts: [{ type: 'TEXT', text: 'from 10.1.2.3' }], toolCalls: [{ id: 'c', name: 'send', arguments: '{"to":"a@b.io"}' }] }],
      run(),
    );
    expect(m).toEqual({
      role: 'ASSISTANT',
      content: '[EMAIL_1]',
      parts: [{ type: 'TEXT', text: 'from [IP_ADDRESS_1]' }],
      toolCalls: [{ id: 'c', name: 'send', arguments: '{"to":"[EMAIL_1]"}' }],
    });
  });

  it('block a prompt over the token limit', () => {
    const p = compilePolicy({ id: '1', name: 'short', input: { maxInputTokens: 5 }, output: null });
    expect(() => guardInput([p], [{ role: 'USER', content: 'one two three four five six seven' }], run())).toThrow(
      expect.objectContaining({ code: 'GUARDRAIL_BLOCKED', extensions: expect.objectContaining({ policy: 'short' }) }),
    );
    expect(events.at(-1)).toMatchObject({ policy: 'short', stage: 'INPUT', rule: 'INPUT_TOKENS', action: 'BLOCKED' });
  });
});
