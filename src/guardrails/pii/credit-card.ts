import { spansOf, type PiiDetector } from './span.js';

/** 13 to 19 digits, in groups of one to six separated by single spaces or dashes (4-4-4-4, 4-6-5 for Amex…);
 * one digit per repetition, so a run of digits is consumed one way only. */
const CARD = /(?<![\w.-])\d(?:[ -]?\d){12,18}(?![\w]|[ .-]\d)/g;

/** The Luhn checksum every payment card number carries: it tells a card from an arbitrary run of digits. */
function passesLuhn(digits: string): boolean {
  let sum = 0;
  for (let i = digits.length - 1, double = false; i >= 0; i--, double = !double) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

export const creditCardDetector: PiiDetector = {
  kind: 'CREDIT_CARD',
  maxSpan: 44,
  find: (text) => spansOf(CARD, text, 'CREDIT_CARD', (m) => passesLuhn(m[0].replace(/[ -]/g, ''))),
};
