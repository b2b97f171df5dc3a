/* The VERTEX credential: a service-account key file (JSON), checked once per distinct credential. */
import { LRUCache } from 'lru-cache';
import { UpstreamError } from '../types.js';

export const PROVIDER = 'vertex';

/**
 * The fields of a key file this adapter uses (Google writes more: client_id, auth_uri, client_x509_cert_url…).
 * @see https://cloud.google.com/iam/docs/keys-create-delete#creating
 * @see https://developers.google.com/identity/protocols/oauth2/service-account#httprest
 */
export interface ServiceAccountKey {
  client_email: string;
  private_key: string;
  private_key_id?: string;
  project_id?: string;
  /** Where the signed JWT is exchanged for an access token. @default https://oauth2.googleapis.com/token */
  token_uri: string;
}

/** Google's OAuth 2.0 token endpoint: every real key file names it, and it is the signed JWT's audience. */
export const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';

function badCredential(what: string): UpstreamError {
  // never quote the credential: it holds a private key
  return new UpstreamError({ provider: PROVIDER, message: `${PROVIDER}: the provider credential ${what}`, retryable: false });
}

/**
 * Keys already parsed, by their credential text: every call names its credential, and parsing a key file (and
 * hashing its private key to find the token client) per call is wasted work. Only good keys are kept; the same
 * object comes back, so access-token.ts can find its client by identity.
 */
const parsed = new LRUCache<string, ServiceAccountKey>({ max: 100 });

/**
 * Parses and checks the key file (once per distinct credential). `token_uri` must be an http(s) URL: the signed
 * assertion is sent there.
 * @throws UpstreamError (not retryable) naming what is wrong, never the key's content
 */
export function parseServiceAccount(credential: string | undefined): ServiceAccountKey {
  if (!credential?.trim()) throw badCredential('is missing (a service-account key file, JSON)');
  let key = parsed.get(credential);
  if (!key) {
    key = Object.freeze(parseKeyFile(credential));
    parsed.set(credential, key);
  }
  return key;
}

function parseKeyFile(credential: string): ServiceAccountKey {
  let json: unknown;
  try {
    json = JSON.parse(credential);
  } catch {
    throw badCredential('is not a service-account key file (not JSON)');
  }
  const k = (json ?? {}) as Record<string, unknown>;
  if (k.type !== undefined && k.type !== 'service_account') throw badCredential(`is a "${String(k.type).slice(0, 40)}" key, not "service_account"`);
  if (typeof k.client_email !== 'string' || !k.client_email) throw badCredential('has no client_email');
  if (typeof k.private_key !== 'string' || !k.private_key.includes('PRIVATE KEY')) throw badCredential('has no private_key (PEM)');
  const tokenUri = typeof k.token_uri === 'string' && k.token_uri ? k.token_uri : GOOGLE_TOKEN_URL;
  if (!/^https?:\/\//i.test(tokenUri)) throw badCredential('has a token_uri that is not an http(s) URL');
  return {
    client_email: k.client_email,
    private_key: k.private_key,
    ...(typeof k.private_key_id === 'string' ? { private_key_id: k.private_key_id } : {}),
    ...(typeof k.project_id === 'string' && k.project_id ? { project_id: k.project_id } : {}),
    token_uri: tokenUri,
  };
}
