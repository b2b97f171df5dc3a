/* Invocation ids (also the usage records' primary key) as UUID version 7 (RFC 9562). */
import { randomUUID } from 'node:crypto';

let lastMs = -1;
let lastPrefix = '';

/**
 * A v4 UUID's random bits under a 48-bit millisecond timestamp: ids made in time order land at the end of the
 * primary-key index instead of on a random leaf, so each usage row dirties the same few pages (less database CPU
 * a row, see bench/README.md, and on a large table the index stops being read from disk).
 * The clock is already public in `createdAt`; 74 random bits keep ids unguessable and unique.
 */
export function timeOrderedId(now = Date.now()): string {
  // a busy gateway makes several ids a millisecond: the timestamp's hex is built once for all of them
  if (now !== lastMs) {
    const ts = now.toString(16).padStart(12, '0');
    lastPrefix = `${ts.slice(0, 8)}-${ts.slice(8, 12)}-7`;
    lastMs = now;
  }
  // randomUUID() is xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx with the RFC variant already in V: keep it and the tail
  return lastPrefix + randomUUID().slice(15);
}
