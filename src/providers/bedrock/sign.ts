/* AWS Signature Version 4 for Bedrock runtime calls, with the maintained @smithy signer. */
import type { SignatureV4 } from '@smithy/signature-v4';
import { LRUCache } from 'lru-cache';
import { badRequest, PROVIDER } from './errors.js';
import { UpstreamError } from '../types.js';
import { lazyRequire } from '../../util/lazy-require.js';

/** The service name in the credential scope of bedrock-runtime (the SDK's signing name). */
const SIGNING_SERVICE = 'bedrock';
/** Loaded with the first Bedrock call: other deployments never load the AWS signer. */
const smithyHash = lazyRequire<typeof import('@smithy/hash-node')>('@smithy/hash-node');
const smithySigner = lazyRequire<typeof import('@smithy/signature-v4')>('@smithy/signature-v4');

export interface AwsCredential {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/**
 * The provider credential `accessKeyId:secretAccessKey[:sessionToken]`. Access key ids, secret keys and session
 * tokens never contain ':' (ids are alphanumeric, the others base64), so the first two colons split it.
 */
export function parseCredential(apiKey: string | undefined): AwsCredential {
  const parts = (apiKey ?? '').split(':');
  const [accessKeyId, secretAccessKey] = parts;
  const sessionToken = parts.slice(2).join(':');
  if (!accessKeyId || !secretAccessKey) {
    // never echo the credential: it may be a secret in the wrong shape
    throw new UpstreamError({
      provider: PROVIDER,
      status: 401,
      message: `${PROVIDER}: the provider credential must be accessKeyId:secretAccessKey[:sessionToken]`,
      retryable: false,
    });
  }
  return sessionToken ? { accessKeyId, secretAccessKey, sessionToken } : { accessKeyId, secretAccessKey };
}

/**
 * The signing region: settings.region, else the one in a `bedrock-runtime.{region}.amazonaws.com` base URL (the
 * whole host: `bedrock-runtime.us-east-1.amazonaws.com.example.org` is someone else's).
 */
export function signingRegion(region: string | undefined, host: string): string {
  if (region) return region;
  const m = /^bedrock-runtime(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?::\d+)?$/.exec(host);
  if (m) return m[1];
  throw badRequest('settings.region is required (the AWS region the requests are signed for)');
}

/**
 * One signer per credential and region: the signer caches its derived signing key for the day, so a busy
 * provider derives it once instead of four HMACs per call.
 */
const signers = new LRUCache<string, SignatureV4>({ max: 200 });

function signerFor(credential: AwsCredential, region: string): SignatureV4 {
  const key = `${region}\n${credential.accessKeyId}\n${credential.secretAccessKey}\n${credential.sessionToken ?? ''}`;
  let signer = signers.get(key);
  if (!signer) {
    signer = new (smithySigner().SignatureV4)({ credentials: credential, region, service: SIGNING_SERVICE, sha256: smithyHash().Hash.bind(null, 'sha256') });
    signers.set(key, signer);
  }
  return signer;
}

/**
 * The headers of a signed POST of `body` to `url`: host, content type, accept, x-amz-date,
 * x-amz-content-sha256, x-amz-security-token (with a session token) and authorization. The path is signed
 * double-encoded, as every AWS service but S3 expects (a model id's ':' travels as %3A, is signed as %253A).
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
 */
export async function signedHeaders(
  url: URL,
  body: string,
  credential: AwsCredential,
  region: string,
  accept: string,
): Promise<Record<string, string>> {
  const query: Record<string, string> = {};
  url.searchParams.forEach((v, k) => (query[k] = v));
  const signed = await signerFor(credential, region).sign({
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    port: url.port ? Number(url.port) : undefined,
    path: url.pathname,
    query,
    headers: { host: url.host, 'content-type': 'application/json', accept },
    body,
  });
  return signed.headers;
}
