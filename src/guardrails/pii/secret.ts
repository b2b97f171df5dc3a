import { spansOf, trailingRunStart, type PiiDetector, type Span } from './span.js';

/*
 * Credentials by the shapes their issuers give them: OpenAI / Anthropic style keys (sk-…, sk-proj-…, sk-ant-…),
 * AWS access key ids (AKIA/ASIA + 16), GitHub tokens (ghp_ gho_ ghu_ ghs_ ghr_, github_pat_), Slack tokens (xoxb-…),
 * this gateway's own keys (gw_ + base62), JSON Web Tokens (three base64url parts, the first two JSON objects:
 * "eyJ") and PEM private key blocks.
 */
const TOKEN = new RegExp(
  [
    'sk-[A-Za-z0-9_-]{20,200}',
    '(?:AKIA|ASIA)[0-9A-Z]{16}',
    'gh[pousr]_[A-Za-z0-9]{36,251}',
    'github_pat_[A-Za-z0-9_]{22,251}',
    'xox[abposr]-[A-Za-z0-9-]{10,200}',
    'gw_[A-Za-z0-9]{20,64}',
    'eyJ[A-Za-z0-9_-]{5,2000}\\.eyJ[A-Za-z0-9_-]{5,4000}\\.[A-Za-z0-9_-]{0,1000}',
  ]
    .map((p) => `(?:${p})`)
    .join('|')
    .replace(/^/, '(?<![\\w-])(?:')
    .concat(')(?![\\w-])'),
  'g',
);

const PEM_BEGIN = /-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY-----/g;
const PEM_END = /-----END (?:[A-Z0-9]+ ){0,3}PRIVATE KEY-----/g;

/**
 * PEM blocks: from a BEGIN line to the next END line, found by index (they have no useful length bound). A block
 * whose END has not come runs to the end of the text: in a stream that holds it back until its END arrives, and
 * at the end of a text it is redacted whole, since a key cut short is still a key.
 */
function pemBlocks(text: string): Span[] {
  const spans: Span[] = [];
  PEM_BEGIN.lastIndex = 0;
  for (let b = PEM_BEGIN.exec(text); b; b = PEM_BEGIN.exec(text)) {
    PEM_END.lastIndex = b.index + b[0].length;
    const e = PEM_END.exec(text);
    const end = e ? e.index + e[0].length : text.length;
    spans.push({ kind: 'SECRET', start: b.index, end });
    PEM_BEGIN.lastIndex = end;
  }
  return spans;
}

/**
 * Tokens are runs of word characters, dots and dashes: while such a run reaches the end of the text seen so far it
 * may still grow into (or past) a token, so a stream holds it back from its start.
 */
const TOKEN_CHAR = /[\w.-]/;

/**
 * The longest BEGIN line worth waiting for ("-----BEGIN ENCRYPTED PRIVATE KEY-----" is 37): a header is one line,
 * so a `-----BEGIN` further back than this, or with a line break after it, is not one still arriving.
 */
const PEM_HEADER_MAX = 80;

/**
 * Where a BEGIN line that has started but not ended lies at the tail, or -1. Its words are separated by spaces, so
 * the token run alone would release "-----BEGIN " before "PRIVATE KEY-----" arrives, and the block, once whole, would
 * start in text already sent. (A complete header opens a block that runs to the end of the text: held as a match.)
 */
function unfinishedHeaderStart(text: string): number {
  const from = Math.max(0, text.length - PEM_HEADER_MAX);
  const at = text.slice(from).lastIndexOf('-----BEGIN');
  if (at < 0) return -1;
  const rest = text.slice(from + at);
  return rest.includes('\n') || /^-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(rest) ? -1 : from + at;
}

const earliest = (a: number, b: number) => (a < 0 ? b : b < 0 ? a : Math.min(a, b));

export const secretDetector: PiiDetector = {
  kind: 'SECRET',
  // Tokens are held through openStart and PEM blocks by their open span; this covers a token's boundaries.
  maxSpan: 2,
  find(text) {
    const tokens = spansOf(TOKEN, text, 'SECRET');
    if (!text.includes('-----BEGIN')) return tokens;
    return [...tokens, ...pemBlocks(text)];
  },
  openStart: (text) => earliest(trailingRunStart(text, (c) => TOKEN_CHAR.test(c)), unfinishedHeaderStart(text)),
};
