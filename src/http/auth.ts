/* Authentication, once per transport: the Authorization header (HTTP) or connectionParams.authorization (websockets). */
import { unauthenticated } from '../errors.js';
import { secretFromAuthorization } from '../security/api-key.js';
import type { KeyService, Principal } from '../services/keys.js';

/**
 * No credential → null (fields then answer UNAUTHENTICATED; introspection still works for the playground).
 * A credential that does not resolve to a usable key → UNAUTHENTICATED at once.
 */
export async function authenticate(keys: KeyService, authorization: unknown): Promise<Principal | null> {
  if (authorization == null || authorization === '') return null;
  const secret = typeof authorization === 'string' ? secretFromAuthorization(authorization) : undefined;
  if (!secret) throw unauthenticated('Malformed Authorization header: expected "Bearer gw_..."');
  const principal = await keys.authenticate(secret);
  if (!principal) throw unauthenticated('Unknown, revoked or expired API key');
  keys.touch(principal.key);
  return principal;
}
