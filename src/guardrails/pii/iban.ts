import { isValidIBAN } from 'ibantools';
import { spansOf, type PiiDetector } from './span.js';

/**
 * A country code, two check digits, then up to 30 letters or digits, written compact or in groups of four
 * (DE89 3704 0044 0532 0130 00): two alternatives rather than optional spaces, so a failed attempt has one way
 * to split the characters, not thousands. ibantools then checks the country's length and format and the mod-97 checksum.
 */
const IBAN = /(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,3})?)(?![A-Za-z0-9])/g;

export const ibanDetector: PiiDetector = {
  kind: 'IBAN',
  maxSpan: 46,
  find: (text) => spansOf(IBAN, text, 'IBAN', (m) => isValidIBAN(m[0].replace(/ /g, ''))),
};
