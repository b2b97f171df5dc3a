/*
 * A stream's text on its way to the client: a step (output guardrails) may put filters on `inv.outputFilters` that
 * hold back, rewrite or refuse text as it streams. The recorded answer, and what the cache keeps, is the upstream's
 * own text; only what the client is sent passes through here.
 */
import type { Invocation } from '../invocation.js';

export interface TextFilter {
  /** Takes the next piece of text; returns what may be sent now (possibly '' while it holds text back). May throw a GatewayError to refuse. */
  write(text: string): string;
  /** The stream finished normally: whatever is still held back, filtered. May throw. */
  end(): string;
}

/** `text` through every filter of the invocation, in order. */
export function filterText(inv: Invocation, text: string): string {
  const filters = inv.outputFilters;
  for (let i = 0; i < filters.length && text; i++) text = filters[i]!.write(text);
  return text;
}

/** What the filters still hold once the text is complete: each one's rest goes through the filters after it. */
export function flushFilters(inv: Invocation): string {
  const filters = inv.outputFilters;
  let out = '';
  for (let i = 0; i < filters.length; i++) {
    let text = out ? filters[i]!.write(out) : '';
    text += filters[i]!.end();
    out = text;
  }
  return out;
}
