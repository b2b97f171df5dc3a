import { RE2JS, RE2JSException } from 're2js';
import { badInput } from '../errors.js';

/*
 * Deny lists are written by operators and run on every prompt and answer, so they are compiled with RE2 (re2js):
 * matching takes time linear in the text whatever the pattern, where a backtracking engine can be made to spin
 * for minutes by one careless (a+)+ . Patterns use RE2 syntax (no backreferences, no lookaround).
 */

interface DenyListMatch {
  start: number;
  end: number;
  /** Which entry matched, by its position: `word #i` or `pattern #i` (not the text, which is what is being hidden). */
  entry: string;
}

export interface DenyList {
  /** Every match, in order, without overlaps. */
  find(text: string): DenyListMatch[];
  /** The longest text a word can match, plus its boundaries; patterns count as PATTERN_HOLDBACK. */
  readonly maxSpan: number;
}

/**
 * How much text a stream holds back for deny-list patterns, whose matches have no length bound: a pattern match
 * longer than this that straddles two chunks may be released in part before it is seen whole.
 */
const PATTERN_HOLDBACK = 256;

// Anything but a letter, digit or underscore of any script: a word must not be found inside a longer word.
const NOT_WORD_CHAR = '[^\\p{L}\\p{N}_]';

/**
 * Compiles words (whole-word, case-insensitive) and patterns (as written). An invalid pattern is a BAD_USER_INPUT
 * naming `${field}.patterns[i]`.
 */
export function compileDenyList(words: readonly string[], patterns: readonly string[], field: string): DenyList {
  const wordRe =
    words.length === 0 ? null
    : RE2JS.compile(
        `(?:^|${NOT_WORD_CHAR})((?:${words.map((w) => RE2JS.quote(w)).join('|')}))(?:$|${NOT_WORD_CHAR})`,
        RE2JS.CASE_INSENSITIVE,
      );
  const patternRes = patterns.map((p, i) => {
    try {
      return RE2JS.compile(p);
    } catch (e) {
      if (e instanceof RE2JSException) throw badInput(`${field}.patterns[${i}]`, `invalid regular expression (RE2 syntax): ${e.message}`);
      throw e;
    }
  });
  const longestWord = words.reduce((n, w) => Math.max(n, w.length), 0);
  const wordIndex = new Map(words.map((w, i) => [w.toLowerCase(), i]));
  return {
    maxSpan: Math.max(longestWord + 2, patterns.length > 0 ? PATTERN_HOLDBACK : 0),
    find(text) {
      const found: DenyListMatch[] = [];
      if (wordRe) {
        const m = wordRe.matcher(text);
        // The boundary character after a word is consumed by its match: the next search starts on it again.
        for (let from = 0; from <= text.length && m.find(from); ) {
          const i = wordIndex.get(text.slice(m.start(1), m.end(1)).toLowerCase());
          found.push({ start: m.start(1), end: m.end(1), entry: i === undefined ? 'word' : `word #${i + 1}` });
          from = m.end(1);
        }
      }
      patternRes.forEach((re, i) => {
        const m = re.matcher(text);
        for (let from = 0; from <= text.length && m.find(from); ) {
          if (m.end() > m.start()) found.push({ start: m.start(), end: m.end(), entry: `pattern #${i + 1}` });
          from = m.end() > m.start() ? m.end() : m.end() + 1;
        }
      });
      found.sort((a, b) => a.start - b.start || b.end - a.end);
      const merged: DenyListMatch[] = [];
      for (const f of found) {
        const last = merged.at(-1);
        if (last && f.start < last.end) last.end = Math.max(last.end, f.end);
        else merged.push({ ...f });
      }
      return merged;
    },
  };
}
