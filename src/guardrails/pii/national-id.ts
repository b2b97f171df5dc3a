import { spansOf, type PiiDetector } from './span.js';

/*
 * National identifiers whose shape (and, where they have one, checksum) sets them apart from other numbers:
 *  - US Social Security Number, written 123-45-6789 or 123 45 6789 (never 000, 666 or 9xx areas, 00 groups,
 *    0000 serials: the SSA never issues those). Bare nine-digit runs are left alone: too many ids look the same.
 *  - UK National Insurance Number: AB 12 34 56 C, with the prefix letters HMRC allocates (no D F I Q U V,
 *    O not second, not BG GB KN NK NT TN ZZ) and a suffix A to D.
 *  - Spanish DNI / NIE: 12345678Z / X1234567L, whose letter is the number mod 23.
 */
const SSN = /(?<![\w-])(?!000|666|9\d\d)\d{3}([ -])(?!00)\d{2}\1(?!0000)\d{4}(?![\w]|-\d)/g;
const NINO = /(?<![A-Za-z0-9])(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D](?![A-Za-z0-9])/g;
const DNI = /(?<![A-Za-z0-9])([XYZ]?)(\d{7,8})-?([A-Z])(?![A-Za-z0-9])/g;

const DNI_LETTERS = 'TRWAGMYFPDXBNJZSQVHLCKE';

function validDni(m: RegExpExecArray): boolean {
  const [, nie, digits, letter] = m as unknown as [string, string, string, string];
  if (digits.length !== (nie === '' ? 8 : 7)) return false;
  // An NIE's leading X, Y or Z stands for 0, 1 or 2 in the checksum.
  const number = Number((nie === '' ? '' : String('XYZ'.indexOf(nie))) + digits);
  return DNI_LETTERS[number % 23] === letter;
}

export const nationalIdDetector: PiiDetector = {
  kind: 'NATIONAL_ID',
  maxSpan: 20,
  find: (text) => [
    ...spansOf(SSN, text, 'NATIONAL_ID'),
    ...spansOf(NINO, text, 'NATIONAL_ID'),
    ...spansOf(DNI, text, 'NATIONAL_ID', validDni),
  ],
};
