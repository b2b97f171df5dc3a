import { spansOf, trailingRunStart, type PiiDetector } from './span.js';

/*
 * A pragmatic address shape, not the full RFC 5322 grammar, which no one writes in prose. The local part starts
 * only where a run of address characters starts (the lookbehind): a failed attempt is then paid once per run, not
 * once per character, which on a long run with no address in it ('#' x 2M) is the difference between linear and
 * 64 steps a character. Its length is left unbounded (RFC 5321 allows 64) and its dots unchecked: junk put before
 * a real address must not hide it, and one character-class loop backtracks in linear time where a loop of
 * dot-separated atoms keeps a backtrack entry per atom. The domain keeps RFC 5321's bounds (labels of 63, 255 in all).
 */
const LOCAL_CHARS = "A-Za-z0-9!#$%&'*+/=?^_`{|}~-";
const LOCAL = `[${LOCAL_CHARS}][.${LOCAL_CHARS}]*`;
const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const EMAIL = new RegExp(`(?<![.${LOCAL_CHARS}])${LOCAL}@(?:${LABEL}\\.){1,8}[A-Za-z]{2,63}(?![\\w-])`, 'g');

const ADDRESS_CHAR = /[A-Za-z0-9!#$%&'*+/=?^_`{|}~.@-]/;

export const emailDetector: PiiDetector = {
  kind: 'EMAIL',
  // an address is one run of address characters: a stream holds that run (openStart), plus the boundary after it
  maxSpan: 2,
  find: (text) => (text.includes('@') ? spansOf(EMAIL, text, 'EMAIL') : []),
  openStart: (text) => trailingRunStart(text, (c) => ADDRESS_CHAR.test(c)),
};
