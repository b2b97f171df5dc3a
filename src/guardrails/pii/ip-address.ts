import { isIPv6 } from 'node:net';
import { spansOf, type PiiDetector } from './span.js';

const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4 = new RegExp(`(?<![\\w.])${OCTET}(?:\\.${OCTET}){3}(?![\\w]|\\.\\d)`, 'g');
/**
 * IPv6 candidates are runs of hex digits, colons and dots (for an embedded IPv4 tail) holding at least two
 * colons; node:net then judges the exact grammar, which a regex would spell out in a hundred alternatives.
 * Times (10:30:15) are candidates too, and are refused there.
 */
const IPV6_CANDIDATE = /(?<![\w:.])[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:.]{1,43}(?![\w:])/g;

export const ipAddressDetector: PiiDetector = {
  kind: 'IP_ADDRESS',
  maxSpan: 50,
  find(text) {
    const v4 = spansOf(IPV4, text, 'IP_ADDRESS');
    if (!text.includes(':')) return v4;
    const v6 = spansOf(IPV6_CANDIDATE, text, 'IP_ADDRESS', (m) => {
      // A sentence may end right after an address.
      const candidate = m[0].replace(/\.+$/, '');
      return candidate.split(':').length > 2 && isIPv6(candidate);
    }).map((s) => ({ ...s, end: s.start + text.slice(s.start, s.end).replace(/\.+$/, '').length }));
    return [...v4, ...v6];
  },
};
