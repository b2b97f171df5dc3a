/* API key secrets: gw_<base62 of 32 random bytes> (256 bits), stored as sha256 + display prefix. */
import { hash, randomBytes, timingSafeEqual } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const KEY_PREFIX = 'gw_';
const PREFIX_LENGTH = 11; // "gw_" + 8 characters

function base62(bytes: Buffer): string {
  let n = BigInt(`0x${bytes.toString('hex')}`);
  let out = '';
  while (n > 0n) {
    out = ALPHABET[Number(n % 62n)] + out;
    n /= 62n;
  }
  return out.padStart(43, '0');
}

export function generateSecret(): string {
  return KEY_PREFIX + base62(randomBytes(32));
}

export function hashSecret(secret: string): string {
  // one-shot: a Hash object per request cost more than the digest itself (hashed on every authenticated call)
  return hash('sha256', secret, 'hex');
}

export function displayPrefix(secret: string): string {
  return secret.slice(0, PREFIX_LENGTH);
}

/** Constant-time comparison of two hex hashes. */
export function hashesEqual(a: string, b: string): boolean {
  const ba = Buffer.from(a, 'hex');
  const bb = Buffer.from(b, 'hex');
  return ba.length === bb.length && timingSafeEqual(ba, bb);
}

/** Reads `Bearer <secret>` (or a bare secret) from a header value. */
export function secretFromAuthorization(value: string | null | undefined): string | undefined {
  if (!value) return undefined;
  const m = /^\s*(?:Bearer\s+)?(\S+)\s*$/i.exec(value);
  return m?.[1];
}
