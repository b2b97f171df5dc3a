/* What a detector reports: where a piece of sensitive text lies, and what kind it is. */

export const PII_KINDS = ['EMAIL', 'PHONE', 'CREDIT_CARD', 'IBAN', 'NATIONAL_ID', 'IP_ADDRESS', 'SECRET'] as const;
export type PiiKind = (typeof PII_KINDS)[number];

/** A half-open range [start, end) of UTF-16 offsets in the scanned text. */
export interface Span {
  kind: PiiKind;
  start: number;
  end: number;
}

export interface PiiDetector {
  readonly kind: PiiKind;
  /**
   * The longest text one match can cover, plus the context its boundaries look at: a streaming filter holds back
   * this many characters so an entity split across chunks is still seen whole.
   */
  readonly maxSpan: number;
  find(text: string): Span[];
  /**
   * Where a match that has begun but cannot be judged yet may start, or -1: for detectors whose matches have no
   * small length bound, so a stream holds back only what may still become one rather than maxSpan characters.
   */
  openStart?(text: string): number;
}

/**
 * Every match of a global regex whose text passes `valid`, as spans of `kind`. A candidate that fails the check
 * does not hide what follows inside it: the search goes on from its next character (a phone number run into a
 * card number, a card number led by other digits), not from its end.
 */
export function spansOf(re: RegExp, text: string, kind: PiiKind, valid: (m: RegExpExecArray) => boolean = () => true): Span[] {
  const out: Span[] = [];
  re.lastIndex = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (valid(m)) out.push({ kind, start: m.index, end: m.index + m[0].length });
    else re.lastIndex = m.index + 1;
  }
  return out;
}

/**
 * Where the run of `isPart` characters that reaches the end of `text` starts, or -1: an entity made of such
 * characters only (an address, a token) may still be growing there, so a stream holds that run back.
 */
export function trailingRunStart(text: string, isPart: (c: string) => boolean): number {
  let i = text.length;
  while (i > 0 && isPart(text[i - 1]!)) i--;
  return i < text.length ? i : -1;
}
