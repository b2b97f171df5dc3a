import type { TextFilter } from '../gateway/stream/text-filter.js';
import { rewriteSpans, type Replace, type Scan } from './scan.js';

/** How much released text is kept as the left context of the next scan (what a match's lookbehind reads). */
const CONTEXT = 16;

/**
 * Above this much held text (an open PEM block, a long run without spaces), the text is scanned again only once it
 * has grown by half since the last scan: the total work stays linear in the stream's length instead of growing with
 * its square, at the cost of releasing what follows the held part a little later.
 */
const LONG_HOLD = 4096;

/**
 * Applies a Scan to a stream of text chunks. It holds back only the tail a match could still be spanning: the
 * last `scan.maxSpan` characters, or from `scan.openStart` (a token or PEM block still arriving), and never cuts
 * through a match it has found. So an entity split across chunks is seen whole, and everything before that tail is
 * released at once, already rewritten. The released text's last characters stay as context for the next scan, so a
 * boundary check at the cut reads the same characters it would in the whole text.
 */
export class ScanningTextFilter implements TextFilter {
  private pending = '';
  private context = '';
  /** How much text was still held after the last scan. */
  private held = 0;

  constructor(
    private readonly scan: Scan,
    private readonly replace: Replace,
  ) {}

  write(text: string): string {
    this.pending += text;
    if (this.held > LONG_HOLD && this.pending.length < this.held * 1.5) return '';
    const out = this.release(false);
    this.held = this.pending.length;
    return out;
  }

  end(): string {
    return this.release(true);
  }

  private release(final: boolean): string {
    const offset = this.context.length;
    const window = this.context + this.pending;
    const matches = this.scan.find(window);
    let cut = window.length;
    if (!final) {
      cut = Math.max(offset, window.length - this.scan.maxSpan);
      const open = this.scan.openStart?.(window) ?? -1;
      if (open >= 0) cut = Math.max(offset, Math.min(cut, open));
      // a match reaching into the released context (a holdback too short for it) holds back everything new
      for (const m of matches) if (m.start < cut && m.end > cut) cut = Math.max(offset, m.start);
    }
    const out = rewriteSpans(window, matches, this.replace, cut, offset);
    this.context = window.slice(Math.max(0, cut - CONTEXT), cut);
    this.pending = window.slice(cut);
    return out;
  }
}
