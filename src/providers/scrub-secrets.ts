/* Removes the provider credential, and anything else that looks like a secret, from text an upstream wrote. */

const REDACTED = '[redacted]';

/** Shorter credentials are not searched for: replacing a few common letters everywhere would garble the message. */
const MIN_CREDENTIAL_LENGTH = 4;

/**
 * Secret shapes, most specific first. A whole key is removed, a named value keeps its name so the message still
 * says what was wrong ("key=[redacted]").
 */
const PATTERNS: ReadonlyArray<readonly [RegExp, string]> = [
  // provider key formats: OpenAI / Anthropic / DeepSeek / OpenRouter `sk-…`, Google `AIza…`, this gateway's `gw_…`;
  // the star form is how OpenAI masks a key it quotes, and the visible ends are still part of the key
  [/\bsk-[A-Za-z0-9_*-]{8,}/g, REDACTED],
  [/\bAIza[A-Za-z0-9_-]{30,}/g, REDACTED],
  [/\bgw_[A-Za-z0-9]{16,}/g, REDACTED],
  // a named secret in a query string, a header or JSON: `api_key: …`, `"access_token":"…"`, `x-goog-api-key=…`
  [/\b((?:x-(?:goog-)?)?api[_-]?key|access[_-]?token|auth[_-]?token|refresh[_-]?token|client[_-]?secret|secret[_-]?key|password)(["']?\s*[:=]\s*["']?)[^\s"'&,;]+/gi, `$1$2${REDACTED}`],
  // a bare `key=` / `token=` / `sig=` (Google's `?key=`, signed URLs): with `=` only, so prose such as "Unknown key: foo" stays
  [/\b(key|token|sig|signature)=[^\s"'&#,;]+/gi, `$1=${REDACTED}`],
  // whatever another service masked with stars (`abc1****wxyz`)
  [/[^\s"'(),;]*\*{4,}[^\s"'(),;]*/g, REDACTED],
];

/** A credential after an auth scheme (an echoed Authorization header); a plain word after it is prose ("bearer token"). */
const AUTH_SCHEME = /\b(Bearer|bearer|Basic)\s+([A-Za-z0-9._~+/=-]{8,})/g;
const WORD = /^[A-Za-z][a-z]*$/;

/** Runs of key-like characters long enough to be a secret; `looksRandom` decides. */
const LONG_TOKEN = /[A-Za-z0-9_+=-]{32,}/g;

/**
 * A token is taken for a secret when it mixes letters and digits, has few word separators (model names and UUIDs
 * have a '-' every few characters; keys have none or one prefix) and its characters are spread like random ones.
 */
function looksRandom(token: string): boolean {
  if (!/[0-9]/.test(token) || !/[A-Za-z]/.test(token)) return false;
  const separators = token.length - token.replace(/[-_]/g, '').length;
  if (separators > token.length / 10) return false;
  return entropyBits(token) >= 3.5;
}

/** Shannon entropy per character: ≈ 4 for hex, ≈ 5 for random base62 of this length, well under 3.5 for words. */
function entropyBits(s: string): number {
  const counts = new Map<string, number>();
  for (const ch of s) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

/** A colon-joined credential (Bedrock's `accessKeyId:secretAccessKey[:sessionToken]`): each part can leak alone. */
const COMPOSITE_CREDENTIAL = /^[^:\s]+(?::[^:\s]+){1,2}$/;

/** The whole credential first, then, for a composite one, each part long enough to search for. */
function credentialParts(credential: string): string[] {
  if (!COMPOSITE_CREDENTIAL.test(credential)) return [credential];
  return [credential, ...credential.split(':').filter((p) => p.length >= MIN_CREDENTIAL_LENGTH)];
}

/**
 * The text with `credential` (as is and URL-encoded) and every secret-looking token replaced by `[redacted]`.
 * Used on every upstream error message before it leaves the adapter: callers with INVOKE only and the log see it.
 */
export function scrubSecrets(text: string, credential?: string): string {
  let out = text;
  if (credential && credential.length >= MIN_CREDENTIAL_LENGTH) {
    for (const secret of credentialParts(credential)) {
      out = out.split(secret).join(REDACTED);
      const encoded = encodeURIComponent(secret);
      if (encoded !== secret) out = out.split(encoded).join(REDACTED);
    }
  }
  for (const [re, replacement] of PATTERNS) out = out.replace(re, replacement);
  out = out.replace(AUTH_SCHEME, (m: string, scheme: string, value: string) => (WORD.test(value) ? m : `${scheme} ${REDACTED}`));
  return out.replace(LONG_TOKEN, (t) => (looksRandom(t) ? REDACTED : t));
}
