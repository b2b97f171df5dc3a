/* Deny-list words: literals found whole and case-insensitively, whatever characters they hold. */
import { describe, expect, it } from 'vitest';
import { compileDenyList } from '../../src/guardrails/deny-list.js';

const found = (words: string[], text: string) => compileDenyList(words, [], 'denyList').find(text).map((m) => text.slice(m.start, m.end));

describe('deny-list words', () => {
  it('are taken literally, regular-expression characters included', () => {
    expect(found(['c++', 'a.b', '(x)', 'project-x', '$5'], 'We use C++ and a.b, (x) and PROJECT-X for $5; not axb or projectxx.')).toEqual([
      'C++', 'a.b', '(x)', 'PROJECT-X', '$5',
    ]);
  });

  it('are found whole only, with word boundaries of any script, the longer of two overlapping words first', () => {
    expect(found(['falcon'], 'falconry Falcon _falcon falcon9 «falcon» Sokół-falcon')).toEqual(['Falcon', 'falcon', 'falcon']);
    expect(found(['project', 'project falcon'], 'the project falcon and the project')).toEqual(['project falcon', 'project']);
    expect(found(['straße'], 'Die STRASSE und die Straße')).toEqual(['Straße']);
  });

  it('stay fast on long text: a 1 MB answer with 50 words is scanned well under a second', () => {
    const words = Array.from({ length: 50 }, (_, i) => `forbidden${i}word`);
    const text = 'an ordinary sentence of an ordinary answer, forbidden7wor and forbidden7words. '.repeat(13_000);
    const t0 = performance.now();
    expect(found(words, text)).toEqual([]);
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});
