/* How many bytes a call log entry holds while it waits to be written, and how the writer cuts a batch's logs. */
import type { CallLogEntry } from './types.js';

/** Ids, status, parameters and the attempts timeline: small, and the same for every entry. */
const ENTRY_OVERHEAD = 1024;

/**
 * An estimate, cheap to take: the bodies (their size before any cut, or about the search text's when cut: the text
 * is what they mostly hold) plus the search text. It counts string lengths, not the heap's exact layout.
 */
export function callLogBytes(e: CallLogEntry): number {
  const search = e.searchText?.length ?? 0;
  return ENTRY_OVERHEAD + search + (e.truncated ? search : e.bodyBytes);
}

/**
 * The entries in runs of at most `maxBytes` each (an entry larger than that alone): one insert statement per run,
 * so a batch of large FULL logs never builds one parameter past what a string (or the database) takes.
 */
export function chunkBySize(entries: readonly CallLogEntry[], maxBytes: number): CallLogEntry[][] {
  const chunks: CallLogEntry[][] = [];
  let current: CallLogEntry[] = [];
  let bytes = 0;
  for (const e of entries) {
    const n = callLogBytes(e);
    if (current.length && bytes + n > maxBytes) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(e);
    bytes += n;
  }
  if (current.length) chunks.push(current);
  return chunks;
}
