import type { DenyList } from './deny-list.js';
import { detectPii } from './pii/detect-pii.js';
import type { PiiDetector } from './pii/span.js';
import { PLACEHOLDER, PLACEHOLDER_MAX_LENGTH, type Redactions } from './redactions.js';
import type { Scan } from './scan.js';

/** PII of the detectors' kinds; each match labelled with its kind. */
export function piiScan(detectors: readonly PiiDetector[]): Scan {
  const opens = detectors.filter((d) => d.openStart);
  return {
    maxSpan: detectors.reduce((n, d) => Math.max(n, d.maxSpan), 0),
    find: (text) => detectPii(text, detectors).map((s) => ({ start: s.start, end: s.end, label: s.kind })),
    openStart:
      opens.length === 0 ? undefined : (
        (text) => opens.reduce((min, d) => {
          const o = d.openStart!(text);
          return o >= 0 && (min < 0 || o < min) ? o : min;
        }, -1)
      ),
  };
}

/** Deny-list entries; each match labelled with the word or `pattern #i` that matched. */
export function denyListScan(list: DenyList): Scan {
  return {
    maxSpan: list.maxSpan,
    find: (text) => list.find(text).map((m) => ({ start: m.start, end: m.end, label: m.entry })),
  };
}

/** The restorable placeholders this invocation made (others, a model's own brackets, are left as they are). */
export function placeholderScan(redactions: Redactions): Scan {
  return {
    maxSpan: PLACEHOLDER_MAX_LENGTH,
    find(text) {
      if (!text.includes('[')) return [];
      const out = [];
      PLACEHOLDER.lastIndex = 0;
      for (let m = PLACEHOLDER.exec(text); m; m = PLACEHOLDER.exec(text)) {
        if (redactions.restorable(m[0])) out.push({ start: m.index, end: m.index + m[0].length, label: m[1]! });
      }
      return out;
    },
  };
}
