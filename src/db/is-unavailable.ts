/* Tells an unreachable database (worth a 503 and a retry) from a statement the database refused (a bug or bad data). */

/** Socket errors, and postgres.js's own codes for a connection it lost or could not open. */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
  'CONNECTION_CLOSED', 'CONNECTION_DESTROYED', 'CONNECTION_ENDED', 'CONNECT_TIMEOUT',
]);

/**
 * SQLSTATE classes meaning "not now": 08 connection exception, 53 insufficient resources (too many connections),
 * 57P01–57P05 shutting down, starting up, or gone.
 * @see https://www.postgresql.org/docs/current/errcodes-appendix.html
 */
const UNAVAILABLE_SQLSTATE = /^(08...|53...|57P0[1-5])$/;

/** True when `err` (or an error it wraps, as drizzle's DrizzleQueryError does) says the database could not be reached. */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (CONNECTION_CODES.has(code) || UNAVAILABLE_SQLSTATE.test(code))) return true;
  }
  return false;
}
