/*
 * Service-account key → OAuth 2.0 access token, with google-auth-library's JWT client: it signs the assertion
 * (RS256, the key's private key), exchanges it at the key's token_uri and caches the token until shortly before it
 * expires; concurrent calls share one exchange. One client per distinct credential.
 * @see https://developers.google.com/identity/protocols/oauth2/service-account#httprest
 */
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { gaxios, JWT } from 'google-auth-library';
import type { CancelSignal } from '../../util/cancellation.js';
import { isRetryableStatus } from '../http.js';
import { UpstreamError } from '../types.js';
import { lazyRequire } from '../../util/lazy-require.js';
import { GOOGLE_TOKEN_URL, PROVIDER, type ServiceAccountKey } from './service-account.js';

/** Vertex AI takes the cloud-platform scope. @see https://cloud.google.com/vertex-ai/docs/authentication */
const SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
/** A token is renewed this long before it expires, so none runs out in the middle of a request. */
const REFRESH_BEFORE_EXPIRY_MS = 60_000;
/** The token exchange's own limit; a caller's shorter timeout or cancel stops its wait earlier. */
const TOKEN_TIMEOUT_MS = 30_000;
/** Loaded with the first Vertex AI credential: other deployments never load it. */
const googleAuth = lazyRequire<typeof import('google-auth-library')>('google-auth-library');

/**
 * The JWT client posts to Google's token URL, which is written into the library; this transport sends that request
 * to the key file's token_uri instead (the same URL for every real key; another for private endpoints and tests).
 * The gateway retries whole calls itself, so gaxios does not retry the exchange.
 */
let TokenUriTransport: (new (tokenUri: string) => gaxios.Gaxios) | undefined;

function tokenUriTransport(tokenUri: string): gaxios.Gaxios {
  TokenUriTransport ??= class extends googleAuth().gaxios.Gaxios {
    constructor(private readonly tokenUri: string) {
      super({ timeout: TOKEN_TIMEOUT_MS });
    }

    override request<T>(opts: gaxios.GaxiosOptions): gaxios.GaxiosPromise<T> {
      const url = String(opts.url) === GOOGLE_TOKEN_URL ? this.tokenUri : opts.url;
      return super.request<T>({ ...opts, url, retry: false, retryConfig: { retry: 0, noResponseRetries: 0 } });
    }
  };
  return new TokenUriTransport(tokenUri);
}

/** One JWT client per credential (keyed by its hash, not the key itself): each keeps its own cached token. */
const clients = new LRUCache<string, JWT>({ max: 100 });
/** The client of a parsed key object (parseServiceAccount returns the same one per credential): no hash per call. */
let clientsByKey = new WeakMap<ServiceAccountKey, JWT>();

function clientFor(key: ServiceAccountKey): JWT {
  const known = clientsByKey.get(key);
  if (known) return known;
  const id = createHash('sha256').update(`${key.client_email}\n${key.private_key}\n${key.token_uri}`).digest('hex');
  let client = clients.get(id);
  if (!client) {
    client = new (googleAuth().JWT)({
      email: key.client_email,
      key: key.private_key,
      keyId: key.private_key_id,
      scopes: [SCOPE],
      eagerRefreshThresholdMillis: REFRESH_BEFORE_EXPIRY_MS,
      transporter: tokenUriTransport(key.token_uri),
    });
    clients.set(id, client);
  }
  clientsByKey.set(key, client);
  return client;
}

/** The token endpoint's refusal (`{error, error_description}`) or the network failure, as an UpstreamError. */
function tokenError(e: unknown): UpstreamError {
  const err = e as { status?: number; response?: { status?: number; data?: unknown }; message?: string };
  const status = err.response?.status ?? err.status;
  const data = (err.response?.data ?? {}) as { error?: unknown; error_description?: unknown };
  const detail =
    typeof data.error === 'string' ? `${data.error}${typeof data.error_description === 'string' ? `: ${data.error_description}` : ''}` : (err.message ?? String(e));
  // 400/401/403 from the token endpoint (invalid_grant, a revoked or wrong key) will not heal by retrying
  return new UpstreamError({
    provider: PROVIDER,
    status: status && status < 500 ? 401 : status,
    message: `${PROVIDER}: the service account's access token was refused${status ? ` (${status})` : ''}: ${detail}`,
    retryable: status === undefined || isRetryableStatus(status),
    cause: e,
  });
}

/** Rejects when the caller gives up (cancel or its timeout) without cancelling the shared exchange. */
function untilGivenUp(signal: CancelSignal, timeoutMs: number): { promise: Promise<never>; dispose(): void } {
  let onAbort!: () => void;
  let timer!: NodeJS.Timeout;
  const promise = new Promise<never>((_, reject) => {
    onAbort = () => reject(new UpstreamError({ provider: PROVIDER, message: `${PROVIDER}: request aborted`, retryable: false }));
    timer = setTimeout(
      () => reject(new UpstreamError({ provider: PROVIDER, message: `${PROVIDER}: access token request timed out`, retryable: true, timeout: true })),
      timeoutMs,
    );
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort);
  });
  return {
    promise,
    dispose() {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    },
  };
}

/** A valid access token for the service account (cached; fetched from its token_uri when missing or expiring). */
export async function accessToken(key: ServiceAccountKey, opts: { signal: CancelSignal; timeoutMs: number }): Promise<string> {
  const client = clientFor(key);
  const fetched = client.getAccessToken().then(
    (r) => {
      if (!r.token) throw new UpstreamError({ provider: PROVIDER, message: `${PROVIDER}: the token endpoint returned no access_token`, retryable: true });
      return r.token;
    },
    (e: unknown) => {
      throw tokenError(e);
    },
  );
  const giveUp = untilGivenUp(opts.signal, opts.timeoutMs);
  try {
    return await Promise.race([fetched, giveUp.promise]);
  } finally {
    giveUp.dispose();
    // a rejection after the caller gave up must not surface as unhandled
    fetched.catch(() => undefined);
  }
}

/** Forgets every cached client and token (tests). */
export function clearAccessTokens(): void {
  clients.clear();
  clientsByKey = new WeakMap();
}
