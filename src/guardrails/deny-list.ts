import { RE2JS, RE2JSException } from 're2js';
import { badInput } from '../errors.js';

/*
 * Deny lists are written by operators and run on every prompt and answer, so patterns are compiled with RE2 (re2js):
 * matching takes time linear in the text whatever the pattern, where a backtracking engine can be made to spin
 * for minutes by one careless (a+)+ . Patterns use RE2 syntax (no backreferences, no lookaround).
 * Words are literals: one native expression of escaped alternatives with no quantifier at all, which cannot
 * backtrack more than the words' length at each position, and runs far faster than the pure-JS RE2.
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

// A letter, digit or underscore of any script: a word must not be found inside a longer word.
const WORD_CHAR = '[\\p{L}\\p{N}_]';

const escapeLiteral = (w: string) => w.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/**
 * Compiles words (whole-word, case-insensitive) and patterns (as written). An invalid pattern is a BAD_USER_INPUT
 * naming `${field}.patterns[i]`.
 */
export function compileDenyList(words: readonly string[], patterns: readonly string[], field: string): DenyList {
  // longest first: where one word starts another ("project" and "project-x"), the whole longer word is found
  const byLength = [...words].sort((a, b) => b.length - a.length);
  const wordRe = words.length === 0 ? null : new RegExp(`(?<!${WORD_CHAR})(?:${byLength.map(escapeLiteral).join('|')})(?!${WORD_CHAR})`, 'giu');
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
        wordRe.lastIndex = 0;
        for (let m = wordRe.exec(text); m; m = wordRe.exec(text)) {
          const i = wordIndex.get(m[0].toLowerCase());
          found.push({ start: m.index, end: m.index + m[0].length, entry: i === undefined ? 'word' : `word #${i + 1}` });
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
