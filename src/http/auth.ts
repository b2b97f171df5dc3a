/* Authentication, once per transport: the Authorization header (HTTP) or connectionParams.authorization (websockets). */
import { GatewayError } from '../errors.js';
import { secretFromAuthorization } from '../security/api-key.js';
import type { KeyService, Principal } from '../services/keys.js';

/**
 * No credential → null (fields then answer UNAUTHENTICATED; introspection still works for the playground).
 * A credential that does not resolve to a usable key → UNAUTHENTICATED at once.
 */
/** Refused before any field runs: the whole HTTP request is unauthorised (401, as REST answers too). */
function refused(message: string): GatewayError {
  return new GatewayError('UNAUTHENTICATED', message, { http: { status: 401, headers: { 'www-authenticate': 'Bearer' } } });
}

export async function authenticate(keys: KeyService, authorization: unknown): Promise<Principal | null> {
  if (authorization == null || authorization === '') return null;
  const secret = typeof authorization === 'string' ? secretFromAuthorization(authorization) : undefined;
  if (!secret) throw refused('Malformed Authorization header: expected "Bearer gw_..."');
  const principal = await keys.authenticate(secret);
  if (!principal) throw refused('Unknown, revoked or expired API key');
  keys.touch(principal.key);
  return principal;
}
