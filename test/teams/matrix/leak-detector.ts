/*
 * Finds B's marker, ids and secrets in an answer. What the caller itself sent (an id or a name it passed as an
 * argument, and the key inside a global id it sent) is taken out first: echoing the caller's own input back in an
 * error is no leak, anything else is.
 */
import { decodeGlobalId } from '../../../src/schema/global-id.js';
import type { Targets } from './targets.js';

/** Every string inside a JSON value (the variables an operation sent). */
function stringsIn(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const v of value) stringsIn(v, out);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) stringsIn(v, out);
  return out;
}

export type LeakDetector = (answer: unknown, sent?: unknown) => string[];

/** @param withMarker false: B's ids and secrets only (objects named after B by someone else are not B's) */
export function createLeakDetector(targets: Targets, withMarker = true): LeakDetector {
  const needles = targets.needles(withMarker).map((n) => ({ ...n, needle: n.needle.toLowerCase() }));
  return (answer, sent) => {
    let text = JSON.stringify(answer ?? null).toLowerCase();
    // longest first, so a name is removed whole before a shorter string inside it
    const own = stringsIn(sent).flatMap((s) => [s, decodeGlobalId(s).id]);
    for (const s of own.sort((a, b) => b.length - a.length)) {
      if (s.length >= 4) text = text.split(JSON.stringify(s).slice(1, -1).toLowerCase()).join('');
    }
    return needles.filter((n) => text.includes(n.needle)).map((n) => n.what);
  };
}
