import type { PiiKind } from './pii/span.js';

/** `[EMAIL_1]`, `[CREDIT_CARD_12]`…: what a redacted value becomes, and what a model may echo back. */
export const PLACEHOLDER = /\[(EMAIL|PHONE|CREDIT_CARD|IBAN|NATIONAL_ID|IP_ADDRESS|SECRET)_(\d{1,6})\]/g;
/** The longest placeholder, plus one: how much a stream holds back to see one whole. */
export const PLACEHOLDER_MAX_LENGTH = '[NATIONAL_ID_999999]'.length + 1;

/**
 * The placeholders of one invocation: numbered per kind in order of appearance, the same value always getting the
 * same placeholder (a model can then tell two mentions of one address from two addresses), and remembered so an
 * answer that echoes a placeholder can be given the original back.
 */
export class Redactions {
  private readonly byValue = new Map<string, string>();
  private readonly byPlaceholder = new Map<string, string>();
  private readonly counts = new Map<PiiKind, number>();
  /** Placeholder → the policy whose rule gives its value back to answers. */
  private readonly restoredBy = new Map<string, string>();

  /**
   * `restoredBy`: the policy under whose input rule (with `restore`) the caller's own value was hidden, so answers
   * that echo the placeholder get the value back.
   */
  placeholderFor(kind: PiiKind, value: string, restoredBy?: string): string {
    const key = `${kind}\u0000${value}`;
    let placeholder = this.byValue.get(key);
    if (!placeholder) {
      const n = (this.counts.get(kind) ?? 0) + 1;
      this.counts.set(kind, n);
      placeholder = `[${kind}_${n}]`;
      this.byValue.set(key, placeholder);
      this.byPlaceholder.set(placeholder, value);
    }
    if (restoredBy !== undefined && !this.restoredBy.has(placeholder)) this.restoredBy.set(placeholder, restoredBy);
    return placeholder;
  }

  /**
   * The value a placeholder stands for, or undefined when it is not to be given back: one this invocation never
   * made, or one that hid something from the caller (the answer's own PII under an output rule).
   */
  restorable(placeholder: string): { value: string; policy: string } | undefined {
    const policy = this.restoredBy.get(placeholder);
    return policy === undefined ? undefined : { value: this.byPlaceholder.get(placeholder)!, policy };
  }

  get anyRestorable(): boolean {
    return this.restoredBy.size > 0;
  }

  /**
   * `text` with every value given back to answers hidden again behind its placeholder: what the call log keeps of an
   * answer, so a value the caller's prompt had redacted is not stored because the model echoed its placeholder.
   */
  hideRestored(text: string): string {
    if (!this.restoredBy.size) return text;
    // longest first: a value inside another is not split out of it
    const restored = [...this.restoredBy.keys()].map((p) => [p, this.byPlaceholder.get(p)!] as const).sort((a, b) => b[1].length - a[1].length);
    for (const [placeholder, value] of restored) if (value) text = text.replaceAll(value, placeholder);
    return text;
  }
}
