import { creditCardDetector } from './credit-card.js';
import { emailDetector } from './email.js';
import { ibanDetector } from './iban.js';
import { ipAddressDetector } from './ip-address.js';
import { nationalIdDetector } from './national-id.js';
import { phoneDetector } from './phone.js';
import { secretDetector } from './secret.js';
import type { PiiDetector, PiiKind, Span } from './span.js';

/** Most specific first: when two kinds claim overlapping text, the merged span takes the earlier kind's name. */
export const DETECTORS: readonly PiiDetector[] = [
  secretDetector,
  creditCardDetector,
  ibanDetector,
  nationalIdDetector,
  emailDetector,
  ipAddressDetector,
  phoneDetector,
];

const RANK = new Map<PiiKind, number>(DETECTORS.map((d, i) => [d.kind, i]));

export function detectorsFor(kinds: readonly PiiKind[]): PiiDetector[] {
  return DETECTORS.filter((d) => kinds.includes(d.kind));
}

/**
 * Every piece of PII of the given kinds in `text`, sorted and without overlaps. Overlapping finds (a phone
 * number's extension running into a card number) are merged into one span, so no part of either is left out.
 */
export function detectPii(text: string, detectors: readonly PiiDetector[]): Span[] {
  const found = detectors.flatMap((d) => d.find(text)).sort((a, b) => a.start - b.start || b.end - a.end);
  const merged: Span[] = [];
  for (const s of found) {
    const last = merged.at(-1);
    if (last && s.start < last.end) {
      last.end = Math.max(last.end, s.end);
      if (RANK.get(s.kind)! < RANK.get(last.kind)!) last.kind = s.kind;
    } else {
      merged.push({ ...s });
    }
  }
  return merged;
}
