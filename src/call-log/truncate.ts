/*
 * Bodies over CALL_LOG_MAX_BODY_BYTES are cut: the longest strings (message contents, mostly) are shortened to a
 * common length, so short values (roles, names, parameters) survive whole and the structure stays valid JSON.
 */

export interface FittedBodies {
  request: unknown;
  response: unknown;
  /** request + response as JSON, in bytes, before any cut. */
  bodyBytes: number;
  truncated: boolean;
}

const MARK = '…';

const jsonBytes = (v: unknown): number => (v == null ? 0 : Buffer.byteLength(JSON.stringify(v)));

function stringBytes(v: unknown, out: number[]): void {
  if (typeof v === 'string') out.push(Buffer.byteLength(v));
  else if (Array.isArray(v)) for (const x of v) stringBytes(x, out);
  else if (v && typeof v === 'object') for (const x of Object.values(v)) stringBytes(x, out);
}

/** The length (bytes) every longer string is cut to so that their total shrinks by `need`; 0 when it cannot. */
function capFor(lengths: number[], need: number): number {
  const sorted = [...lengths].sort((a, b) => b - a);
  let sum = 0;
  for (let k = 0; k < sorted.length; k++) {
    sum += sorted[k]!;
    const next = sorted[k + 1] ?? 0;
    // cutting the k+1 longest down to `next` saves this much
    if (sum - (k + 1) * next >= need) return Math.max(0, Math.floor((sum - need) / (k + 1)));
  }
  return 0;
}

/** `s` cut to about `capBytes` UTF-8 bytes, never inside a surrogate pair. */
function cut(s: string, capBytes: number): string {
  const bytes = Buffer.byteLength(s);
  if (bytes <= capBytes) return s;
  let end = Math.floor((s.length * capBytes) / bytes);
  const c = s.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--;
  return s.slice(0, Math.max(0, end)) + MARK;
}

function cutStrings(v: unknown, capBytes: number): unknown {
  if (typeof v === 'string') return cut(v, capBytes);
  if (Array.isArray(v)) return v.map((x) => cutStrings(x, capBytes));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, cutStrings(x, capBytes)]));
  return v;
}

export function fitBodies(request: unknown, response: unknown, maxBytes: number): FittedBodies {
  const bodyBytes = jsonBytes(request) + jsonBytes(response);
  if (bodyBytes <= maxBytes) return { request, response, bodyBytes, truncated: false };
  const lengths: number[] = [];
  stringBytes(request, lengths);
  stringBytes(response, lengths);
  // escapes and the marks make the first estimate short: a few rounds, each asking for more
  let need = bodyBytes - maxBytes + 16 * lengths.length;
  for (let round = 0; round < 4; round++) {
    const cap = capFor(lengths, need);
    const req = cutStrings(request, cap);
    const res = cutStrings(response, cap);
    const size = jsonBytes(req) + jsonBytes(res);
    if (size <= maxBytes) return { request: req, response: res, bodyBytes, truncated: true };
    if (cap === 0) break;
    need += (size - maxBytes) * 2;
  }
  // even the structure alone is too large (thousands of messages): nothing of the bodies is kept
  return { request: null, response: null, bodyBytes, truncated: true };
}
