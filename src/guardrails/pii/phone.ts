import { spansOf, type PiiDetector } from './span.js';

/*
 * Three shapes, each anchored on something a bare number lacks, so ids, amounts and card numbers (plain runs of
 * digits) are not taken for phones:
 *  - international: "+" and a country code, then digits with optional single separators (8 to 15 digits, E.164);
 *  - North American: (415) 555-2671, 415-555-2671, 415.555.2671, optionally led by 1;
 *  - trunk-prefixed national (most of Europe, Asia, Africa): a leading 0 (then an area or mobile prefix, which
 *    never starts with 0) and at least two separated groups, 9 to 12 digits in all: 020 7946 0958,
 *    06 12 34 56 78, 030 901820.
 * A national number does not continue a group of digits (the middle of an IBAN, a list of ids). Every group after
 * the first starts with a separator it cannot contain, so a run of digits splits one way only and a failed attempt
 * cannot backtrack beyond the patterns' bounds. An international number first looks ahead for its eight digits (no
 * more than two separators apart in any of its shapes), so a run of short "+1" fragments is passed over without a
 * match to build and refuse at each one.
 */
const INTERNATIONAL = /(?<![\w+])\+(?=[1-9](?:[ .()-]{0,2}\d){7})[1-9]\d{0,14}(?:[ .-](?:\(\d{1,4}\) ?)?\d{1,5}){0,6}(?![\w]|[.-]\d)/g;
const NANP = /(?<![\w+-]|\d[ .-])(?:1[ .-]?)?(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4}(?![\w]|[.-]\d)/g;
const TRUNK = /(?<![\w+.-]|\d[ .-])(?:\(0[1-9]\d{0,3}\) ?|0[1-9]\d{0,3}[ .-])\d{2,4}(?:[ .-]\d{2,4}){0,3}(?![\w]|[.-]\d)/g;

const digitCount = (s: string) => s.replace(/\D/g, '').length;
const balancedParens = (s: string) => s.split('(').length === s.split(')').length;

export const phoneDetector: PiiDetector = {
  kind: 'PHONE',
  maxSpan: 40,
  find(text) {
    return [
      ...spansOf(INTERNATIONAL, text, 'PHONE', (m) => {
        const n = digitCount(m[0]);
        return n >= 8 && n <= 15 && balancedParens(m[0]);
      }),
      ...spansOf(NANP, text, 'PHONE'),
      ...spansOf(TRUNK, text, 'PHONE', (m) => {
        const n = digitCount(m[0]);
        return n >= 9 && n <= 12;
      }),
    ];
  },
};
