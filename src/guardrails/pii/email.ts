import { spansOf, trailingRunStart, type PiiDetector } from './span.js';

/*
 * A pragmatic address shape (RFC 5321 lengths: 64 for the local part, 255 for the domain), not the full RFC 5322
 * grammar, which no one writes in prose. Every quantifier is bounded and the parts are separated by characters
 * they cannot contain, so a failed attempt cannot backtrack more than those bounds.
 */
const LOCAL = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,64}(?:\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,64}){0,8}";
const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const EMAIL = new RegExp(`(?<![\\w.+-])${LOCAL}@(?:${LABEL}\\.){1,8}[A-Za-z]{2,63}(?![\\w-])`, 'g');

const ADDRESS_CHAR = /[A-Za-z0-9!#$%&'*+/=?^_`{|}~.@-]/;

export const emailDetector: PiiDetector = {
  kind: 'EMAIL',
  // an address is one run of address characters: a stream holds that run (openStart), plus the boundary after it
  maxSpan: 2,
  find: (text) => (text.includes('@') ? spansOf(EMAIL, text, 'EMAIL') : []),
  openStart: (text) => trailingRunStart(text, (c) => ADDRESS_CHAR.test(c)),
};
