/*
 * The streaming filter must give, for any way a text is cut into chunks, exactly what the whole text gives: an
 * entity split across chunks is still caught, and nothing is released twice or lost.
 */
import { describe, expect, it } from 'vitest';
import { guardInput, guardOutput, outputFilters, type GuardRun } from '../../src/guardrails/guard.js';
import { compilePolicy } from '../../src/guardrails/policy.js';
import { PII_KINDS } from '../../src/guardrails/pii/span.js';
import { Redactions } from '../../src/guardrails/redactions.js';
import type { GuardrailEvent } from '../../src/gateway/usage-writer.js';
import type { TextFilter } from '../../src/gateway/stream/text-filter.js';
import type { Scan } from '../../src/guardrails/scan.js';
import { ScanningTextFilter } from '../../src/guardrails/scanning-text-filter.js';

const TEXT =
  'Write to jane.doe@example.com or +44 20 7946 0958; card 4111 1111 1111 1111, IBAN DE89370400440532013000, ' +
  'SSN 123-45-6789 from 10.0.0.12 with key sk-abcdefghijklmnopqrstuvwx. Again: jane.doe@example.com. Done.';

const redactAll = compilePolicy({ id: '1', name: 'pii', input: null, output: { pii: { kinds: [...PII_KINDS], action: 'REDACT' } } });

function run(): GuardRun & { events: GuardrailEvent[] } {
  const events: GuardrailEvent[] = [];
  return { redactions: new Redactions(), note: (e) => events.push(e), events };
}

function pipe(filters: TextFilter[], chunks: string[]): string {
  let out = '';
  for (const c of chunks) out += filters.reduce((t, f) => f.write(t), c);
  // what a filter still holds goes through the filters after it, as flushFilters does
  let rest = '';
  for (const f of filters) rest = (rest ? f.write(rest) : '') + f.end();
  return out + rest;
}

const whole = (text: string) => guardOutput([redactAll], { content: text, toolCalls: [] }, run()).content!;

describe('streaming output filter', () => {
  it('redacts every kind, same value same placeholder', () => {
    expect(whole(TEXT)).toBe(
      'Write to [EMAIL_1] or [PHONE_1]; card [CREDIT_CARD_1], IBAN [IBAN_1], SSN [NATIONAL_ID_1] from [IP_ADDRESS_1] ' +
        'with key [SECRET_1]. Again: [EMAIL_1]. Done.',
    );
  });

  it('gives the whole-text result for a split at every position', () => {
    const expected = whole(TEXT);
    for (let i = 0; i <= TEXT.length; i++) {
      const got = pipe(outputFilters([redactAll], run()), [TEXT.slice(0, i), TEXT.slice(i)]);
      expect(got, `split at ${i}`).toBe(expected);
    }
  });

  it.each([['EMAIL'], ['SECRET'], ['EMAIL', 'SECRET'], ['PHONE'], ['IBAN']] as const)('gives the whole-text result for %j alone (its own holdback), split anywhere', (...kinds) => {
    const only = compilePolicy({ id: '9', name: 'only', input: null, output: { pii: { kinds: [...kinds], action: 'REDACT' } } });
    const expected = guardOutput([only], { content: TEXT, toolCalls: [] }, run()).content!;
    expect(expected).not.toBe(TEXT);
    for (let i = 0; i <= TEXT.length; i++) {
      expect(pipe(outputFilters([only], run()), [TEXT.slice(0, i), TEXT.slice(i)]), `split at ${i}`).toBe(expected);
    }
    expect(pipe(outputFilters([only], run()), [...TEXT])).toBe(expected);
  });

  // Each kind with its own holdback only: what all kinds together hold back can hide a kind's too-short one.
  const WITH_PEM = `${TEXT} Key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END RSA PRIVATE KEY-----\nbye`;
  it.each(PII_KINDS.map((k) => [k]))('gives the whole-text result for %s alone, split at every position', (kind) => {
    const only = compilePolicy({ id: '8', name: 'only', input: null, output: { pii: { kinds: [kind], action: 'REDACT' } } });
    const expected = guardOutput([only], { content: WITH_PEM, toolCalls: [] }, run()).content!;
    expect(expected).not.toBe(WITH_PEM);
    for (let i = 0; i <= WITH_PEM.length; i++) {
      expect(pipe(outputFilters([only], run()), [WITH_PEM.slice(0, i), WITH_PEM.slice(i)]), `split at ${i}`).toBe(expected);
    }
  });

  it('holds a PEM header split across chunks (SECRET alone), whatever follows the cut', () => {
    const only = compilePolicy({ id: '7', name: 'secrets', input: null, output: { pii: { kinds: ['SECRET'], action: 'REDACT' } } });
    const text = 'here it is -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY----- done';
    for (let i = 0; i <= text.length; i++) {
      for (let j = i; j <= text.length; j += 3) {
        const got = pipe(outputFilters([only], run()), [text.slice(0, i), text.slice(i, j), text.slice(j)]);
        expect(got, `split at ${i}, ${j}`).toBe('here it is [SECRET_1] done');
      }
    }
  });

  it('a match reaching back into released text (a holdback too short for it) has its rest redacted, not released', () => {
    const tooShort: Scan = { maxSpan: 2, find: (t) => [...t.matchAll(/abcdef/g)].map((m) => ({ start: m.index, end: m.index + 6, label: 'x' })) };
    const filter = new ScanningTextFilter(tooShort, () => '[R]');
    const out = filter.write('xx abc') + filter.write('def yy') + filter.end();
    expect(out).toBe('xx a[R] yy');
  });

  it('gives the whole-text result one character at a time and in three-way splits', () => {
    const expected = whole(TEXT);
    expect(pipe(outputFilters([redactAll], run()), [...TEXT])).toBe(expected);
    for (let i = 0; i < TEXT.length; i += 7) {
      for (let j = i; j <= TEXT.length; j += 11) {
        expect(pipe(outputFilters([redactAll], run()), [TEXT.slice(0, i), TEXT.slice(i, j), TEXT.slice(j)])).toBe(expected);
      }
    }
  });

  it('holds back only a bounded tail: most of a long answer is released before it ends', () => {
    const filters = outputFilters([redactAll], run());
    const prose = 'lorem ipsum dolor sit amet '.repeat(40);
    const released = filters.reduce((t, f) => f.write(t), prose);
    expect(released.length).toBeGreaterThan(prose.length - 60);
    expect(prose.startsWith(released)).toBe(true);
  });

  it('holds a PEM block until its END line and redacts it whole', () => {
    const pem = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----';
    const text = `key:\n${pem}\nthat was it`;
    for (let i = 0; i <= text.length; i++) {
      expect(pipe(outputFilters([redactAll], run()), [text.slice(0, i), text.slice(i)])).toBe('key:\n[SECRET_1]\nthat was it');
    }
    // cut short: a key is still a key
    expect(whole('key: -----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg')).toBe('key: [SECRET_1]');
  });

  it('a long held block streamed in small chunks costs linear time', () => {
    const body = 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n'.repeat(6000);
    const text = `key:\n-----BEGIN PRIVATE KEY-----\n${body}-----END PRIVATE KEY-----\nthat was it`;
    const chunks = text.match(/[\s\S]{1,10}/g)!;
    const started = performance.now();
    expect(pipe(outputFilters([redactAll], run()), chunks)).toBe('key:\n[SECRET_1]\nthat was it');
    expect(performance.now() - started).toBeLessThan(1500);
  });

  it('restores placeholders of the prompt, split anywhere, and notes it', () => {
    const restoring = compilePolicy({ id: '2', name: 'keep', input: { pii: { kinds: ['EMAIL'], action: 'REDACT', restore: true } }, output: null });
    const r = run();
    const [m] = guardInput([restoring], [{ role: 'USER', content: 'mail bob@corp.example please' }], r);
    expect(m!.content).toBe('mail [EMAIL_1] please');
    const answer = 'I wrote to [EMAIL_1]; [EMAIL_2] is not ours.';
    for (let i = 0; i <= answer.length; i++) {
      expect(pipe(outputFilters([restoring], r), [answer.slice(0, i), answer.slice(i)])).toBe('I wrote to bob@corp.example; [EMAIL_2] is not ours.');
    }
    expect(r.events).toContainEqual({ policy: 'keep', stage: 'OUTPUT', rule: 'PII', action: 'RESTORED', detail: 'EMAIL' });
  });

  it('redacts deny-list words and patterns split anywhere', () => {
    const deny = compilePolicy({ id: '4', name: 'deny', input: null, output: { denyList: { words: ['falcon', 'red kite'], patterns: ['TICKET-[0-9]{4,}'], action: 'REDACT' } } });
    const text = 'Falcon met a Red Kite about TICKET-123456 and falconry.';
    const expected = '[REDACTED] met a [REDACTED] about [REDACTED] and falconry.';
    for (let i = 0; i <= text.length; i++) {
      expect(pipe(outputFilters([deny], run()), [text.slice(0, i), text.slice(i)]), `split at ${i}`).toBe(expected);
    }
  });

  it('blocks when a denied term arrives split across chunks, before releasing it', () => {
    const deny = compilePolicy({ id: '3', name: 'no-secrets', input: null, output: { denyList: { words: ['Project Falcon'], action: 'BLOCK' } } });
    const text = 'The codename is project falcon, as agreed.';
    for (let i = 0; i <= text.length; i++) {
      const r = run();
      const filters = outputFilters([deny], r);
      let released = '';
      expect(() => {
        released += filters[0]!.write(text.slice(0, i));
        released += filters[0]!.write(text.slice(i));
        released += filters[0]!.end();
      }).toThrow(expect.objectContaining({ code: 'GUARDRAIL_BLOCKED', extensions: expect.objectContaining({ policy: 'no-secrets' }) }));
      expect(released.toLowerCase()).not.toContain('falcon');
      expect(r.events).toEqual([{ policy: 'no-secrets', stage: 'OUTPUT', rule: 'DENY_LIST', action: 'BLOCKED', detail: 'word #1' }]);
    }
  });
});
