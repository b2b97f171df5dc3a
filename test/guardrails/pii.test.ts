/* The PII detectors: what each kind finds, and the look-alikes it must leave alone. */
import { describe, expect, it } from 'vitest';
import { DETECTORS, detectorsFor, detectPii } from '../../src/guardrails/pii/detect-pii.js';
import type { PiiKind } from '../../src/guardrails/pii/span.js';

const found = (text: string, kinds?: PiiKind[]) =>
  detectPii(text, kinds ? detectorsFor(kinds) : DETECTORS).map((s) => [s.kind, text.slice(s.start, s.end)]);

describe('PII detectors', () => {
  it.each<[PiiKind, string]>([
    ['EMAIL', 'jane.doe+tag@example.co.uk'],
    ['EMAIL', 'ops@sub.domain.io'],
    ['PHONE', '+44 20 7946 0958'],
    ['PHONE', '+14155552671'],
    ['PHONE', '+1 (415) 555-2671'],
    ['PHONE', '(415) 555-2671'],
    ['PHONE', '415.555.2671'],
    ['PHONE', '020 7946 0958'],
    ['PHONE', '06 12 34 56 78'],
    ['CREDIT_CARD', '4111 1111 1111 1111'],
    ['CREDIT_CARD', '5500-0000-0000-0004'],
    ['CREDIT_CARD', '378282246310005'],
    ['IBAN', 'DE89 3704 0044 0532 0130 00'],
    ['IBAN', 'GB82WEST12345698765432'],
    ['NATIONAL_ID', '123-45-6789'],
    ['NATIONAL_ID', 'AB 12 34 56 C'],
    ['NATIONAL_ID', '12345678Z'],
    ['NATIONAL_ID', 'X1234567L'],
    ['IP_ADDRESS', '192.168.1.10'],
    ['IP_ADDRESS', '2001:db8::8a2e:370:7334'],
    ['IP_ADDRESS', '::1'],
    ['SECRET', 'sk-proj-abcdefghijklmnopqrstuvwxyz012345'],
    ['SECRET', 'AKIAIOSFODNN7EXAMPLE'],
    ['SECRET', `ghp_${'a1B2'.repeat(9)}`],
    ['SECRET', 'xoxb-1234567890-abcdefghij'],
    ['SECRET', `gw_${'A1b2'.repeat(10)}`],
    ['SECRET', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.abcDEF_-123'],
    ['SECRET', '-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----'],
  ])('%s: %s', (kind, value) => {
    expect(found(`before ${value}, after`)).toEqual([[kind, value]]);
    expect(found(value, [kind])).toEqual([[kind, value]]);
  });

  it.each([
    ['a card number failing Luhn', '4111 1111 1111 1112'],
    ['a plain long number (an order id)', 'order 123456789012 shipped'],
    ['a 16-digit id failing Luhn', 'ref 1234567812345678'],
    ['a date and a time', 'on 2024-05-06 at 10:30:15'],
    ['an IBAN with a wrong check', 'DE89 3704 0044 0532 0130 02'],
    ['an SSN the SSA never issues', '000-12-3456 and 666-12-3456'],
    ['a NINO with a prefix HMRC never allocates', 'QQ123456C'],
    ['a DNI with the wrong letter', '12345678A'],
    ['an out-of-range IPv4 and a version number', '256.1.1.1 and 1.2.3.4.5'],
    ['a word that starts like a key', 'sk-short and skate'],
    ['an amount', 'USD 1,234,567.89'],
  ])('leaves alone %s', (_what, text) => {
    expect(found(text)).toEqual([]);
  });

  it('merges overlapping finds into one span of the more specific kind', () => {
    // the phone pattern takes the digits up to and into the card; neither must be left half shown
    const text = 'call +1 415 555 2671 4111 1111 1111 1111, ref 12 4111 1111 1111 1111';
    const spans = detectPii(text, DETECTORS);
    const covered = spans.map((s) => text.slice(s.start, s.end));
    expect(covered.filter((c) => c.includes('4111 1111 1111 1111'))).toHaveLength(2);
    expect(spans.every((s) => s.kind === 'CREDIT_CARD' || s.kind === 'PHONE')).toBe(true);
  });

  it('finds only the kinds asked for', () => {
    expect(found('mail a@b.io or call +44 20 7946 0958', ['PHONE'])).toEqual([['PHONE', '+44 20 7946 0958']]);
  });
});
