/*
 * A Scan finds the pieces of a text a rule acts on; rewrite() replaces them (or refuses the text by throwing), on a
 * whole text or, through ScanningTextFilter, on a stream.
 */

export interface ScanMatch {
  start: number;
  end: number;
  /** What the rule reports and decides by: a PII kind, a deny-list entry, a placeholder. */
  label: string;
}

export interface Scan {
  /** Every match, sorted by start, without overlaps. */
  find(text: string): ScanMatch[];
  /** The longest text one match can cover, with the context its boundaries look at. */
  readonly maxSpan: number;
  /** Where a match that may still be growing starts, or -1 (see PiiDetector.openStart). */
  openStart?(text: string): number;
}

/** What a match becomes; may throw (a BLOCK) instead. */
export type Replace = (matched: string, m: ScanMatch) => string;

/**
 * `text` from `offset` to `until` with the matches of `matches` replaced. A match that began before `offset` (in
 * text a stream has released already) has its rest replaced: what went out cannot be taken back, what has not must
 * not follow it (or, under BLOCK, the stream ends there).
 */
export function rewriteSpans(text: string, matches: readonly ScanMatch[], replace: Replace, until = text.length, offset = 0): string {
  let out = '';
  let at = offset;
  for (const m of matches) {
    if (m.end <= offset || m.end > until) continue;
    const start = Math.max(m.start, offset);
    out += text.slice(at, start) + replace(text.slice(start, m.end), { ...m, start });
    at = m.end;
  }
  return out + text.slice(at, until);
}

export function rewrite(text: string, scan: Scan, replace: Replace): string {
  return rewriteSpans(text, scan.find(text), replace);
}
